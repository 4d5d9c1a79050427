from __future__ import annotations

from rigging_cli.project_args import add_project, options, project_root, report

TYPE_CHECKING = False  # argparse is imported only when main needs it to parse the command line
if TYPE_CHECKING:
    import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--frozen", action="store_true", help="install exactly rigging.lock; never resolve")
    mode.add_argument("--locked", action="store_true", help="fail if rigging.lock is out of date or a tag moved")
    add_project(parser)


def run(args: argparse.Namespace) -> int:
    from rigging.installer import install

    result = install(project_root(args), options(args, frozen=args.frozen, locked=args.locked))
    return report(args, result)
