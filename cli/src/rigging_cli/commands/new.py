from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directory", metavar="DIR", help="folder to create")
    parser.add_argument("--name", required=True, help="package name, namespace/name")
    parser.add_argument("--version", dest="pkg_version", default="0.1.0", help="initial version")
    parser.add_argument("--description", help="one-line description")


def run(args: argparse.Namespace) -> int:
    from rigging.errors import UsageError
    from rigging.scaffold import create_package
    from rigging.versions import is_semver

    if not is_semver(args.pkg_version):
        raise UsageError(f"--version {args.pkg_version!r} is not strict SemVer 2.0 (e.g. 0.1.0)")
    target = create_package(Path(args.directory), args.name, args.pkg_version, args.description)
    print(f"created {args.name} {args.pkg_version} in {target}")
    return 0
