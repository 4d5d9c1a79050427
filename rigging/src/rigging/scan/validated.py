"""`rigging validate` problems as scan findings: a package pushed with any OCI client, whose
rigging.json or files `rigging validate` would refuse, blocks like a threat does."""

from __future__ import annotations

from pathlib import Path

from rigging.scan.model import Finding


def validation_findings(root: Path) -> list[Finding]:
    from rigging.validation import validate_package

    findings = []
    for problem in validate_package(root).problems:
        error = problem.severity == "error"
        findings.append(
            Finding(
                "RIG-V001" if error else "RIG-V002",
                "block" if error else "warn",
                problem.file or "rigging.json",
                problem.line or 0,
                f"{problem.code}: {problem.message}",
                problem.effective_hint,
            )
        )
    return findings
