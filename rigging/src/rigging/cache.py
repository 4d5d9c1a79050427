"""The content-addressed blob cache (`$RIGGING_CACHE_DIR`, default the user cache dir).

Entries are named by digest and re-verified on every read, so a corrupt cache entry is dropped
rather than trusted. Downloads land in `.part` files beside their target first; one that a
killed process left behind is removed by the next download into that folder (`sweep_partials`).
"""

from __future__ import annotations

import _thread  # threading.Lock is _thread.allocate_lock; threading itself is not needed here
import contextlib
import os
from pathlib import Path

from rigging.digests import is_sha256_digest
from rigging.errors import IntegrityError

TYPE_CHECKING = False  # typing costs ~3 ms to import; only the annotations use it
if TYPE_CHECKING:
    from types import TracebackType
    from typing import BinaryIO


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
        self._root = root or None

    @property
    def root(self) -> Path:
        # Found on first use, not when made: a no-op install makes one and never reads it, and
        # cache_root's platformdirs (with shutil, tempfile, random) costs ~10 ms to import.
        if self._root is None:
            self._root = cache_root()
        return self._root

    @root.setter
    def root(self, value: Path) -> None:
        self._root = value

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


PART_SUFFIX = ".part"
# A writer locks its .part file right after creating it; younger files are left alone so that
# a sweep never slips into that moment.
_LOCK_GRACE_SECONDS = 5.0
# Where there are no advisory locks (Windows), a .part file untouched this long has no writer:
# a download that receives nothing for 30 s times out.
_ABANDONED_SECONDS = 600.0
_swept: set[Path] = set()
_swept_lock = _thread.allocate_lock()


class PartialFile:
    """A download's temp file beside `target`, locked while written and renamed onto `target` by
    `commit`; anything else (an error, a bad digest) removes it. The lock, not the file's age,
    tells a sweep in another process that a download is still in progress, however slow."""

    def __init__(self, target: Path) -> None:
        import secrets

        self.target = target
        self.path = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}{PART_SUFFIX}")
        self.file: BinaryIO | None = None

    def __enter__(self) -> PartialFile:
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        self.file = os.fdopen(fd, "wb")
        _try_lock(fd)
        return self

    def write(self, data: bytes) -> None:
        assert self.file is not None
        self.file.write(data)

    def commit(self) -> None:
        assert self.file is not None
        self.file.flush()
        if _locks_available():
            # renamed while still locked: a sweep that opened the path a moment ago finds it locked
            os.replace(self.path, self.target)
            self.file.close()
        else:  # Windows cannot rename an open file
            self.file.close()
            os.replace(self.path, self.target)

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self.file is not None and not self.file.closed:
            self.file.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def sweep_partials(folder: Path) -> int:
    """Remove the `.part` files in `folder` that no live download holds; how many. Runs once per
    folder per process (the first download into it)."""
    import time

    with _swept_lock:
        if folder in _swept:
            return 0
        _swept.add(folder)
    removed = 0
    now = time.time()
    try:
        entries = [e for e in os.scandir(folder) if e.name.startswith(".") and e.name.endswith(PART_SUFFIX)]
    except OSError:
        return 0
    for entry in entries:
        try:
            age = now - entry.stat(follow_symlinks=False).st_mtime
            if not entry.is_file(follow_symlinks=False) or age < _LOCK_GRACE_SECONDS:
                continue
            if _locks_available():
                fd = os.open(entry.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
                try:
                    if not _try_lock(fd):
                        continue  # another process is writing it
                    if os.fstat(fd).st_ino != os.stat(entry.path, follow_symlinks=False).st_ino:
                        continue  # renamed away and replaced meanwhile
                    os.unlink(entry.path)
                finally:
                    os.close(fd)
            elif age > _ABANDONED_SECONDS:
                os.unlink(entry.path)
            else:
                continue
            removed += 1
        except OSError:  # gone already, or not ours to remove: the next sweep looks again
            continue
    return removed


def _locks_available() -> bool:
    try:
        import fcntl  # noqa: F401
    except ImportError:
        return False
    return True


def _try_lock(fd: int) -> bool:
    """An exclusive advisory lock without waiting; False when another holder has it (or, with no
    lock support, always True: callers then go by age)."""
    try:
        import fcntl
    except ImportError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True
