"""A package's whole scan: built-in checks, `rigging validate` problems and, when asked, the Semgrep
pack, merged into one report without saying the same thing twice."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rigging.scan.checks import builtin_scan
from rigging.scan.model import Finding, ScanReport
from rigging.scan.validated import validation_findings

# What each rule is about: a Semgrep finding on the same file and line as a built-in one of the
# same kind is the same finding, and the built-in (which knows Markdown's code spans) decides.
KIND = {
    "RIG-S010": "injection",
    "RIG-S011": "injection",
    "RIG-G010": "injection",
    "RIG-G011": "injection",
    "RIG-S020": "exfiltration",
    "RIG-S021": "exfiltration",
    "RIG-S022": "exfiltration",
    "RIG-G020": "exfiltration",
    "RIG-G103": "exfiltration",
    "RIG-G203": "exfiltration",
    "RIG-G302": "exfiltration",
    "RIG-S030": "execution",
    "RIG-S031": "execution",
    "RIG-S034": "execution",
    "RIG-S035": "execution",
    "RIG-S036": "execution",
    "RIG-G101": "execution",
    "RIG-G104": "execution",
    "RIG-G102": "execution",
    "RIG-G201": "execution",
    "RIG-G202": "execution",
    "RIG-G301": "execution",
    "RIG-S050": "secret",
    "RIG-G050": "secret",
}


def scan_package(root: Path, *, semgrep: str | None = None, validate: bool = True) -> ScanReport:
    """Scan the package folder `root`: built-in checks, then (with `validate`) its `rigging
    validate` problems, then (with `semgrep`, the program's path) our Semgrep pack."""
    return scan_packages([root], semgrep=semgrep, validate=validate)[root]


def scan_packages(
    roots: Sequence[Path], *, semgrep: str | None = None, validate: bool = True
) -> dict[Path, ScanReport]:
    """`scan_package` of each folder, with one Semgrep process for all of them (its start-up is
    most of its time)."""
    reports = {}
    for root in roots:
        report = builtin_scan(root)
        if validate:
            report.findings.extend(validation_findings(root))
        reports[root] = report
    if semgrep is not None:
        from rigging.scan.semgrep import run_semgrep

        for root, findings in run_semgrep(list(roots), semgrep).items():
            merge_semgrep(reports[root], findings)
    for report in reports.values():
        report.sort()
    return reports


def merge_semgrep(report: ScanReport, findings: list[Finding]) -> None:
    """Add Semgrep's findings to a built-in report, less those a built-in check already made."""
    seen = {(f.file, f.line, KIND.get(f.rule, f.rule)) for f in report.findings}
    for finding in findings:
        key = (finding.file, finding.line, KIND.get(finding.rule, finding.rule))
        if key not in seen:
            seen.add(key)
            report.findings.append(finding)
    report.semgrep = True
    report.sort()
