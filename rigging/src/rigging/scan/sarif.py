"""A scan report as SARIF 2.1.0, the format code-scanning services (GitHub, GitLab) read."""

from __future__ import annotations

from typing import Any

from rigging.scan.model import RULES, ScanReport

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {"block": "error", "warn": "warning", "info": "note"}


def to_sarif(report: ScanReport, version: str = "0") -> dict[str, Any]:
    rule_ids = list(RULES)
    results = []
    for finding in report.findings:
        region = {"startLine": finding.line} if finding.line else {}
        location: dict[str, Any] = {"artifactLocation": {"uri": finding.file}}
        if region:
            location["region"] = region
        results.append(
            {
                "ruleId": finding.rule,
                "ruleIndex": rule_ids.index(finding.rule),
                "level": LEVELS[finding.severity],
                "message": {"text": f"{finding.reason} (fix: {finding.fix})"},
                "locations": [{"physicalLocation": location}],
            }
        )
    rules = [
        {"id": rule, "name": r.name, "shortDescription": {"text": r.text}, "help": {"text": r.fix}}
        for rule, r in RULES.items()
    ]
    driver = {"name": "rigging-scan", "version": version, "rules": rules}
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": [{"tool": {"driver": driver}, "results": results}]}
