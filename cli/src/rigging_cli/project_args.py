"""Arguments and output shared by the commands that change a project (add, remove, install, update)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def add_project(parser: argparse.ArgumentParser, *, install: bool = True) -> None:
    parser.add_argument("-C", "--project", default=".", metavar="DIR", help="project folder (default: .)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    if install:
        parser.add_argument("--force", action="store_true", help="overwrite or remove files you changed")
        parser.add_argument("--max-depth", type=int, metavar="N", help="dependency chain limit (default 20)")
        parser.add_argument("--plain-http", action="store_true", help="use HTTP for non-loopback registries")
        parser.add_argument("--ca-file", metavar="PEM", help="CA bundle for the registry's TLS certificate")


def project_root(args: argparse.Namespace) -> Path:
    from rigging.errors import UsageError

    root = Path(args.project)
    if not root.is_dir():
        raise UsageError(f"{root}: no such project folder")
    return root


def options(args: argparse.Namespace, **extra: Any):  # noqa: ANN201 - InstallOptions
    from rigging.installer import InstallOptions

    return InstallOptions(
        force=args.force, max_depth=args.max_depth, plain_http=args.plain_http, ca_file=args.ca_file, **extra
    )


def report(args: argparse.Namespace, result: Any, verb: str = "installed") -> int:
    if args.json:
        print(
            json.dumps(
                {
                    "packages": result.packages,
                    "written": result.written,
                    "removed": result.removed,
                    "unchanged": result.unchanged,
                    "kept": result.kept,
                    "warnings": result.warnings,
                    "resolved": result.resolved,
                    "requests": result.requests,
                    "recovered": result.recovered,
                    "targets": result.targets_note,
                }
            )
        )
        return 0
    if result.recovered:
        print(f"note: {result.recovered}", file=sys.stderr)
    if result.targets_note:
        print(result.targets_note, file=sys.stderr)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for path in result.kept:
        print(f"kept your edits in {path} (use --force to restore the package's version)", file=sys.stderr)
    files = [p for p in result.written if p not in ("rigging.lock", "rigging.json")]
    print(
        f"{verb} {len(result.packages)} package(s): {len(files)} file(s) written, "
        f"{len(result.removed)} removed, {result.unchanged} unchanged"
        + ("" if "rigging.lock" in result.written else "; rigging.lock unchanged")
    )
    return 0
