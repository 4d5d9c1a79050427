"""Argument helpers several commands share."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_package_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directory", metavar="DIR", nargs="?", default=".", help="package folder (default: .)")


def package_dir(args: argparse.Namespace, example: str) -> Path:
    from rigging.errors import UsageError

    root = Path(args.directory)
    if not root.is_dir():
        raise UsageError(f"{root}: no such folder (give the package folder, e.g. {example})")
    return root
