"""The text of SemVer 2.0 versions and of OCI tags, without the Version class.

Apart from versions.py so that checking a lock on every `rigging install` does not pay for
importing dataclasses (~15 ms here).
"""

from __future__ import annotations

import re

SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
# OCI distribution: tags match [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}
OCI_TAG = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$")


def is_semver(text: str) -> bool:
    return SEMVER.match(text) is not None


def version_to_tag(version: str) -> str:
    """OCI tags may not hold '+', so build metadata is joined with '_' (as Helm does)."""
    tag = version.replace("+", "_")
    if not OCI_TAG.match(tag):
        raise ValueError(f"version {version!r} gives {tag!r}, which is not a valid OCI tag")
    return tag
