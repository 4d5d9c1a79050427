from __future__ import annotations

import argparse

from rigging_cli.project_args import add_project


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_project(parser, install=False)


def run(args: argparse.Namespace) -> int:
    from rigging_cli.lock_view import load, tree_data, tree_lines

    _, lock = load(args)
    if args.json:
        import json

        print(json.dumps(tree_data(lock)))
        return 0
    print("\n".join(tree_lines(lock)))
    return 0
