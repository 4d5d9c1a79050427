from __future__ import annotations

import argparse
import json

from rigging_cli.arguments import add_package_dir, package_dir


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_package_dir(parser)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def run(args: argparse.Namespace) -> int:
    from rigging.validation import validate_package

    root = package_dir(args, "rigging validate ./my-pkg")
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
