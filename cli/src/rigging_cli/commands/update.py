from __future__ import annotations

import argparse

from rigging_cli.project_args import add_project, options, project_root, report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("names", metavar="NAME", nargs="*", help="packages to update (default: all)")
    add_project(parser)


def run(args: argparse.Namespace) -> int:
    from rigging.installer import install

    result = install(project_root(args), options(args, update=set(args.names)))
    return report(args, result, verb="updated")
