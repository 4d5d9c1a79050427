from __future__ import annotations

import argparse
import json

from rigging_cli.arguments import add_package_dir, package_dir


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_package_dir(parser)
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print findings, capabilities and counts as JSON")
    output.add_argument("--sarif", action="store_true", help="print the findings as SARIF 2.1.0")


def run(args: argparse.Namespace) -> int:
    from rigging.scan import scan_package

    root = package_dir(args, "rigging scan ./my-pkg")
    report = scan_package(root)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    elif args.sarif:
        from rigging.scan.sarif import to_sarif

        from rigging import __version__

        print(json.dumps(to_sarif(report, __version__), indent=2))
    else:
        for finding in report.findings:
            print(finding.format())
        counts = report.counts()
        verdict = "blocked" if report.blocked else "passed"
        print(
            f"{root}: {verdict} ({counts['block']} block, {counts['warn']} warn, {counts['info']} info "
            f"in {report.files} file(s); capabilities: {report.capabilities.summary()})"
        )
    # warnings do not fail the scan: only what blocks a publish does
    return 1 if report.blocked else 0
