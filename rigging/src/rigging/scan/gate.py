"""The publish gate: `rigging publish` scans exactly what it is about to push with the built-in
checks (Semgrep would cost seconds) and refuses `block` findings, unless the author overrides
them with a reason, which the manifest then records (SPEC.md, "Publish override annotation")."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rigging import mediatypes as mt
from rigging.archive import write_files
from rigging.errors import RiggingError, UsageError
from rigging.scan.model import Finding
from rigging.scan.package import scan_package

if TYPE_CHECKING:
    from rigging.transfer import Package


class PublishBlockedError(RiggingError):
    """The scan found what blocks a publish; `findings` are those, each reported on its own line."""

    def __init__(self, findings: list[Finding]) -> None:
        rules = ", ".join(sorted({f.rule for f in findings}))
        super().__init__(
            f"publish refused: the scan found {len(findings)} blocking finding(s) ({rules}); fix them "
            '(rigging scan DIR shows them all), or publish anyway with --allow-blocked "REASON", '
            "which the manifest records"
        )
        self.findings = findings
        self.details: dict[str, Any] = {"findings": [f.as_dict() for f in findings]}


def override_reason(text: str | None) -> str | None:
    if text is None:
        return None
    reason = " ".join(text.split())
    if not reason:
        raise UsageError('--allow-blocked needs a reason, e.g. --allow-blocked "a test fixture of a known attack"')
    return reason


def blocking_findings(package: Package) -> list[Finding]:
    """The `block` findings of the built-in checks and validation over the package's files, unpacked
    (as a pull would) into a temporary folder."""
    from rigging.transfer import package_files

    with tempfile.TemporaryDirectory(prefix="rigging-publish-scan-") as tmp:
        write_files(package_files(package), Path(tmp))
        report = scan_package(Path(tmp))
    return [f for f in report.findings if f.severity == "block"]


def publish_check(reason: str | None) -> Callable[[Package], dict[str, str]]:
    """A `check` for `rigging.transfer.publish`: refuses blocking findings, or with `reason` lets
    them through and returns the override annotations."""

    def check(package: Package) -> dict[str, str]:
        blocking = blocking_findings(package)
        if not blocking:
            return {}
        if reason is None:
            raise PublishBlockedError(blocking)
        rules = ",".join(sorted({f.rule for f in blocking}))
        return {mt.ANN_SCAN_OVERRIDE: reason, mt.ANN_SCAN_FINDINGS: rules}

    return check
