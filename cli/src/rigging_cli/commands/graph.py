from __future__ import annotations

import argparse

from rigging_cli.project_args import add_project


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("text", "dot", "mermaid"), default="text", help="output format")
    add_project(parser, install=False)


def _node(name: str) -> str:
    return "n_" + "".join(c if c.isalnum() else "_" for c in name)


def run(args: argparse.Namespace) -> int:
    from rigging_cli.lock_view import load, tree_lines

    _, lock = load(args)
    edges = [("project", name, wanted) for name, wanted in sorted(lock.requires.items())]
    for name, package in sorted(lock.packages.items()):
        edges += [(name, dep, wanted) for dep, wanted in sorted(package.dependencies.items())]
    label = {name: f"{name} {p.version}" for name, p in lock.packages.items()}
    label["project"] = "project"
    if args.format == "text":
        print("\n".join(tree_lines(lock)))
    elif args.format == "dot":
        print("digraph rigging {")
        print("  rankdir=LR;")
        for name in sorted(label):
            print(f'  "{name}" [label="{label[name]}"];')
        for source, target, wanted in edges:
            print(f'  "{source}" -> "{target}" [label="{wanted}"];')
        print("}")
    else:
        print("graph LR")
        for name in sorted(label):
            print(f'  {_node(name)}["{label[name]}"]')
        for source, target, wanted in edges:
            print(f'  {_node(source)} -->|"{wanted}"| {_node(target)}')
    return 0
