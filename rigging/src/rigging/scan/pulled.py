"""Scanning a published package: pull it (digest-verified blobs, safe extraction) into a
temporary folder, scan that, and remove it."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from rigging.scan.model import ScanReport
from rigging.scan.package import scan_package


def scan_ref(
    ref: str,
    *,
    semgrep: str | None = None,
    validate: bool = True,
    plain_http: bool = False,
    ca_file: str | None = None,
) -> tuple[ScanReport, dict[str, Any]]:
    """The scan of the package `ref` names (REGISTRY/NS/NAME:TAG|@sha256:…, oci:LAYOUT[:TAG]) and
    what `rigging.transfer.pull` said of it (name, version, source, digest, files)."""
    from rigging.transfer import pull

    with tempfile.TemporaryDirectory(prefix="rigging-scan-") as tmp:
        folder = Path(tmp) / "package"
        pulled = pull(ref, folder, plain_http=plain_http, ca_file=ca_file)
        report = scan_package(folder, semgrep=semgrep, validate=validate)
    report.root = f"{pulled['source']}@{pulled['digest']}" if "@" not in pulled["source"] else pulled["source"]
    return report, pulled
