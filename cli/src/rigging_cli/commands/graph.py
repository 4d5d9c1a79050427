from __future__ import annotations

import argparse

from rigging_cli.project_args import add_project


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format", choices=("text", "json", "dot", "mermaid"), default="text", help="output format (--json: json)"
    )
    add_project(parser, install=False)


def _node(name: str) -> str:
    return "n_" + "".join(c if c.isalnum() else "_" for c in name)


def run(args: argparse.Namespace) -> int:
    from rigging_cli.lock_view import graph_data, load, tree_lines

    _, lock = load(args)
    graph = graph_data(lock)
    label = {n["id"]: f"{n['name']} {n['version']}" if n["version"] else n["name"] for n in graph["nodes"]}
    if args.json or args.format == "json":
        import json

        print(json.dumps(graph))
    elif args.format == "text":
        print("\n".join(tree_lines(lock)))
    elif args.format == "dot":
        print("digraph rigging {")
        print("  rankdir=LR;")
        for name in sorted(label):
            print(f'  "{name}" [label="{label[name]}"];')
        for edge in graph["edges"]:
            print(f'  "{edge["from"]}" -> "{edge["to"]}" [label="{edge["range"]}"];')
        print("}")
    else:
        print("graph LR")
        for name in sorted(label):
            print(f'  {_node(name)}["{label[name]}"]')
        for edge in graph["edges"]:
            print(f'  {_node(edge["from"])} -->|"{edge["range"]}"| {_node(edge["to"])}')
    return 0
