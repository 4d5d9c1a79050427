"""Built-in checks of a package folder (`rigging scan`): hidden Unicode, prompt injection, hidden
comments, exfiltration, remote execution, wildcard tools, hooks, leaked secrets, and the package's
disclosed capabilities. Standard library only, so the CLI and the indexer share it cheaply."""

from rigging.scan.checks import scan_package
from rigging.scan.model import RULES, Capabilities, Finding, Rule, ScanReport, Severity

__all__ = ["RULES", "Capabilities", "Finding", "Rule", "ScanReport", "Severity", "scan_package"]
