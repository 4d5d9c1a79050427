from __future__ import annotations

import argparse

from rigging_cli.project_args import add_project, options, project_root, report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME", help="dependency to remove")
    add_project(parser)


def run(args: argparse.Namespace) -> int:
    from typing import Any

    from rigging.errors import RiggingError
    from rigging.installer import install
    from rigging.project import PROJECT_FILE

    root = project_root(args)

    def edit(data: dict[str, Any]) -> None:  # runs under the project lock, on rigging.json as it is then
        deps = data.get("dependencies") or {}
        if args.name not in deps:
            path = root / PROJECT_FILE
            raise RiggingError(f"{args.name} is not a dependency in {path}; `rigging list` shows what is")
        del deps[args.name]

    result = install(root, options(args, edit=edit, update=set()))
    if not args.json:
        print(f"removed {args.name}")
    return report(args, result)
