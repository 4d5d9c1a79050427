"""Which repositories of a registry are known to hold a blob, remembered from earlier pushes and
pulls (docker keeps the same record), so a publish can mount a blob instead of uploading it."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from pathlib import Path

from rigging.cache import cache_root

_KEEP = 5  # repositories remembered per blob


class BlobSources:
    def __init__(self, root: Path | None = None) -> None:
        self.path = (root or cache_root()) / "blob-sources.json"

    def _read(self) -> dict[str, dict[str, list[str]]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError, OSError):
            return {}
        return data if isinstance(data, dict) else {}

    def repositories(self, host: str, digest: str) -> list[str]:
        return list(self._read().get(host, {}).get(digest, []))

    def remember(self, host: str, repository: str, digests: list[str]) -> None:
        from rigging.atomic_files import write_atomic

        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.with_suffix(".lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            data = self._read()
            known = data.setdefault(host, {})
            for digest in digests:
                repos = [repository] + [r for r in known.get(digest, []) if r != repository]
                known[digest] = repos[:_KEEP]
            with contextlib.suppress(OSError):
                write_atomic(self.path, json.dumps(data).encode())
        with contextlib.suppress(OSError):
            os.chmod(self.path, 0o600)
