"""Scanning a package folder (`rigging scan`, the publish gate, the index): built-in checks for
hidden Unicode, prompt injection, hidden comments, exfiltration, remote execution, wildcard tools,
hooks and leaked secrets; `rigging validate` problems; our Semgrep pack when Semgrep is installed;
and the package's disclosed capabilities. The built-ins are standard library only, so the CLI and
the indexer share them cheaply."""

from rigging.scan.model import RULES, Capabilities, Finding, Rule, ScanReport, Severity
from rigging.scan.package import merge_semgrep, scan_package, scan_packages
from rigging.scan.semgrep import find_semgrep, run_semgrep

# The version of everything a scan applies (built-in checks, validation and the Semgrep pack): the
# index re-scans every published version when it changes. Bump it with any rule change.
RULES_VERSION = "2026.12.3"

__all__ = [
    "RULES",
    "RULES_VERSION",
    "Capabilities",
    "Finding",
    "Rule",
    "ScanReport",
    "Severity",
    "find_semgrep",
    "merge_semgrep",
    "run_semgrep",
    "scan_package",
    "scan_packages",
]
