from __future__ import annotations

import argparse

from rigging_cli.project_args import add_project, dependency_names, options, project_root, report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="PACKAGE", help="dependency to remove, NS/NAME or a full reference")
    add_project(parser)


def run(args: argparse.Namespace) -> int:
    from typing import Any

    from rigging.installer import install
    from rigging.project import load_project

    root = project_root(args)
    removed: list[str] = []

    def edit(data: dict[str, Any], versions: object) -> None:  # under the project lock, on rigging.json as it is
        deps = data.get("dependencies") or {}
        project = load_project(root)
        removed.extend(dependency_names(project, [args.name], set(deps), "remove"))
        del deps[removed[0]]

    result = install(root, options(args, edit=edit, update=set()))
    if not args.json:
        print(f"removed {removed[0]}")
    return report(args, result)
