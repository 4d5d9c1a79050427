from __future__ import annotations

import argparse

from rigging_cli.arguments import add_package_dir, package_dir


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_package_dir(parser)
    parser.add_argument(
        "--since",
        metavar="TAG",
        help="commits after this tag (default: the newest release tag before the version, e.g. v1.2.0)",
    )
    parser.add_argument("--unreleased", action="store_true", help="head the section '## Unreleased'")
    parser.add_argument("--json", action="store_true", help="print the commits and groups as JSON")


def run(args: argparse.Namespace) -> int:
    from rigging.release_notes import draft

    root = package_dir(args, "rigging release-notes ./my-pkg")
    notes = draft(root, since=args.since, unreleased=args.unreleased)
    if args.json:
        import json

        print(json.dumps(notes.as_dict(), indent=2))
    else:
        print(notes.markdown(), end="")
    return 0
