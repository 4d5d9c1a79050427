"""The metadata hook of Rigging's four distributions (each one's hatch_build.py runs it): the
version is written once, in rigging-core's `rigging/__init__.py`, and every distribution takes
it; those built on rigging-core (or the indexer) require that exact release, since all four are
released together.

It runs when an sdist is built from the repository. A wheel built from that sdist takes these
dynamic fields from the sdist's PKG-INFO (hatchling >= 1.22), so this file, outside each
distribution's folder, is not needed there.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

VERSION_FILE = Path(__file__).resolve().parent.parent / "rigging/src/rigging/__init__.py"
SIBLINGS = ("rigging-core", "rigging-indexer")


def release_version() -> str:
    found = re.search(r'^__version__ = "([^"]+)"$', VERSION_FILE.read_text(encoding="utf-8"), re.MULTILINE)
    if found is None:
        raise ValueError(f"{VERSION_FILE}: no __version__ line")
    return found.group(1)


def update(config: dict[str, Any], metadata: dict[str, Any]) -> None:
    version = release_version()
    metadata["version"] = version
    metadata["dependencies"] = [f"{r}=={version}" if r in SIBLINGS else r for r in config.get("dependencies", [])]
