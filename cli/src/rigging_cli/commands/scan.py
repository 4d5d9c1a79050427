from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "target",
        metavar="DIR|REF",
        nargs="?",
        default=".",
        help="package folder (default: .), or a published package: REGISTRY/NS/NAME[:TAG|@sha256:…] or "
        "oci:LAYOUT[:TAG]",
    )
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print findings, capabilities and counts as JSON")
    output.add_argument("--sarif", action="store_true", help="print the findings as SARIF 2.1.0")
    engine = parser.add_mutually_exclusive_group()
    engine.add_argument("--no-semgrep", action="store_true", help="run the built-in checks only")
    engine.add_argument("--semgrep", metavar="PATH", help="the semgrep program (default: RIGGING_SEMGREP, then PATH)")
    parser.add_argument("--plain-http", action="store_true", help="for a REF: use HTTP, not HTTPS")
    parser.add_argument("--ca-file", metavar="PEM", help="for a REF: CA bundle for the registry's TLS certificate")


def _is_ref(text: str) -> bool:
    """A published package rather than a folder: oci:…, or a first part that names a host."""
    if text.startswith("oci:"):
        return True
    if text.startswith(("/", ".", "~")) or "/" not in text:
        return False
    host = text.split("/", 1)[0]
    return "." in host or ":" in host or host == "localhost" or "@sha256:" in text


def _semgrep(args: argparse.Namespace) -> str | None:
    from rigging.errors import UsageError
    from rigging.scan import find_semgrep

    if args.no_semgrep:
        return None
    if args.semgrep:
        if not Path(args.semgrep).is_file():
            raise UsageError(f"--semgrep {args.semgrep}: no such program (give the path of semgrep)")
        return str(args.semgrep)
    found = find_semgrep()
    if found is None and not args.quiet:
        print(
            "rigging: note: semgrep not found; ran the built-in checks only "
            "(pip install semgrep, or set RIGGING_SEMGREP=PATH)",
            file=sys.stderr,
        )
    return found


def run(args: argparse.Namespace) -> int:
    from rigging.errors import UsageError
    from rigging.scan import scan_package

    target = str(args.target)
    if Path(target).is_dir() or not _is_ref(target):
        root = Path(target)
        if not root.is_dir():
            raise UsageError(
                f"{root}: no such folder (give the package folder, e.g. rigging scan ./my-pkg, "
                "or a published package, e.g. rigging scan ghcr.io/acme/style:1.0.0)"
            )
        report = scan_package(root, semgrep=_semgrep(args))
    else:
        from rigging.scan.pulled import scan_ref

        from rigging_cli.project_args import package_ref

        ref = package_ref(args, target)
        report, _ = scan_ref(str(ref), semgrep=_semgrep(args), plain_http=args.plain_http, ca_file=args.ca_file)
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
        engines = "built-in checks, validation" + (", semgrep" if report.semgrep else "")
        print(
            f"{report.root}: {verdict} ({counts['block']} block, {counts['warn']} warn, {counts['info']} info "
            f"in {report.files} file(s); capabilities: {report.capabilities.summary()}; {engines})"
        )
    # warnings do not fail the scan: only what blocks a publish does
    return 1 if report.blocked else 0
