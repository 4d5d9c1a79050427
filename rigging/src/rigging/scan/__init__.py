"""Built-in checks of a package folder (`rigging scan`): hidden Unicode, prompt injection, hidden
comments, exfiltration, remote execution, wildcard tools, hooks, leaked secrets, and the package's
disclosed capabilities. Standard library only, so the CLI and the indexer share it cheaply."""

from rigging.scan.checks import scan_package

# The version of everything a scan applies (built-in checks and the Semgrep pack): the index
# re-scans every published version when it changes. Bump it with any rule change.
RULES_VERSION = "2026.12.1"
from rigging.scan.model import RULES, Capabilities, Finding, Rule, ScanReport, Severity

__all__ = ["RULES", "RULES_VERSION", "Capabilities", "Finding", "Rule", "ScanReport", "Severity", "scan_package"]
