from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directory", metavar="DIR", nargs="?", default=".", help="package folder (default: .)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def run(args: argparse.Namespace) -> int:
    from rigging.errors import UsageError
    from rigging.validation import validate_package

    root = Path(args.directory)
    if not root.is_dir():
        raise UsageError(f"{root}: no such folder (give the package folder, e.g. rigging validate ./my-pkg)")
    report = validate_package(root)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        for problem in report.problems:
            print(problem.format())
        manifest = report.manifest if isinstance(report.manifest, dict) else {}
        label = f"{manifest.get('name', root)} {manifest.get('version', '')}".strip()
        counts = f"{len(report.errors)} error(s), {len(report.warnings)} warning(s)"
        print(f"{label}: {'valid' if report.valid else 'invalid'} ({counts})")
    return 0 if report.valid else 1
