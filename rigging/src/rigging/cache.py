"""The content-addressed blob cache (`$RIGGING_CACHE_DIR`, default the user cache dir).

Entries are named by digest and re-verified on every read, so a corrupt cache entry is dropped
rather than trusted.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from rigging.digests import is_sha256_digest
from rigging.errors import IntegrityError


def cache_root() -> Path:
    configured = os.environ.get("RIGGING_CACHE_DIR")
    if configured:
        return Path(configured)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("rigging", appauthor=False))


def _verify(path: Path, digest: str, size: int | None) -> bool:
    import hashlib

    try:
        data_size = path.stat().st_size
        if size is not None and data_size != size:
            return False
        hasher = hashlib.sha256()
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 16), b""):
                hasher.update(chunk)
    except OSError:
        return False
    return "sha256:" + hasher.hexdigest() == digest


class BlobCache:
    def __init__(self, root: Path | None = None) -> None:
        self.root = root or cache_root()

    def path(self, digest: str) -> Path:
        if not is_sha256_digest(digest):
            raise IntegrityError(f"{digest!r} is not a sha256 digest")
        return self.root / "blobs" / "sha256" / digest.removeprefix("sha256:")

    def get(self, digest: str, size: int | None = None) -> Path | None:
        """The verified cached file, or None (a corrupt entry is removed)."""
        path = self.path(digest)
        if not path.exists():
            return None
        if _verify(path, digest, size):
            return path
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return None

    def put_bytes(self, digest: str, data: bytes) -> Path:
        from rigging.atomic_files import write_atomic
        from rigging.digests import sha256_digest

        if sha256_digest(data) != digest:
            raise IntegrityError(f"refusing to cache content that does not hash to {digest}")
        path = self.path(digest)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, data)
        return path
