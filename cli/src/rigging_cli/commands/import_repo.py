"""`rigging import`: a repository's own agent files (rules, commands, steering, skills) as a package."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directory", metavar="DIR", nargs="?", default=".", help="repository to import from")
    parser.add_argument("-o", "--output", required=True, metavar="PKG", help="new package folder to write")
    parser.add_argument("--name", required=True, help="package name, namespace/name")
    parser.add_argument("--version", dest="pkg_version", default="0.1.0", help="package version")
    parser.add_argument("--description", help="one-line description")
    parser.add_argument(
        "--from",
        dest="agents",
        metavar="AGENTS",
        help="comma-separated agents to import from (windsurf,cursor,copilot,claude,cline,kiro,gemini,agents); "
        "default all",
    )
    parser.add_argument("--json", action="store_true", help="print what was imported, and the validation, as JSON")


def run(args: argparse.Namespace) -> int:
    from rigging.importing.package import import_project
    from rigging.validation import validate_package

    agents = [a.strip() for a in args.agents.split(",") if a.strip()] if args.agents else None
    out = Path(args.output)
    imported = import_project(Path(args.directory), out, args.name, args.pkg_version, args.description, agents)
    report = validate_package(out)
    if args.json:
        print(json.dumps({**imported.as_dict(), "validation": report.as_dict()}, indent=2))
        return 0 if report.valid else 1
    for path, source in sorted(imported.files.items()):
        print(f"{source} -> {path}")
    for note in imported.findings.notes:
        print(f"note: {note}")
    for problem in report.problems:
        print(problem.format())
    found = imported.findings
    counts = f"{len(found.rules)} rule(s), {len(found.workflows)} workflow(s), {len(found.skills)} skill(s)"
    if report.valid:
        print(f"imported {counts} into {out} ({args.name} {args.pkg_version}); it validates")
        return 0
    print(f"imported {counts} into {out}; fix the errors above, then run rigging validate {out}")
    return 1
