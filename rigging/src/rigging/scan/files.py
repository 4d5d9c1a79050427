"""Reading an untrusted package folder: no symlinks, size caps, binary files skipped."""

from __future__ import annotations

import codecs
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from rigging.limits import MAX_FILE_BYTES, MAX_FILES

SKIPPED_DIRS = frozenset({".git", ".hg", ".svn"})


@dataclass(frozen=True)
class TextFile:
    path: str  # relative, forward slashes
    text: str


@dataclass(frozen=True)
class Skipped:
    path: str
    why: str


def read_package(root: Path) -> Iterator[TextFile | Skipped]:
    """Every regular file under `root`, in a stable order, as text or as the reason it was skipped.

    Symlinks are never followed (neither files nor folders): a package could point one at
    ~/.ssh and have the scan read, or report on, something outside it.
    """
    count = 0
    for folder, dirs, names in os.walk(root, followlinks=False):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
        base = Path(folder)
        for name in [*sorted(names), *(d for d in dirs if (base / d).is_symlink())]:
            path = base / name
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                yield Skipped(rel, "a symlink (not followed)")
                continue
            count += 1
            if count > MAX_FILES:
                yield Skipped(rel, f"more than {MAX_FILES} files")
                return
            yield read_file(path, rel)


def read_file(path: Path, rel: str) -> TextFile | Skipped:
    """One file, never through a symlink, as text (UTF-8, or UTF-16/32 with a BOM) or why not."""
    try:
        # O_NONBLOCK: a FIFO planted in the package must not hang the scan (checked just below)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        return Skipped(rel, f"unreadable ({exc.strerror})")
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return Skipped(rel, "not a regular file")
    with os.fdopen(fd, "rb") as stream:
        data = stream.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        return Skipped(rel, f"larger than {MAX_FILE_BYTES // 1024} KiB")
    # UTF-16/32 text is full of NUL bytes, and agents read it: a BOM says it is text, not binary
    for bom, codec in BOMS:
        if data.startswith(bom):
            return TextFile(rel, data[len(bom) :].decode(codec, "replace"))
    if b"\0" in data[:8192]:
        return Skipped(rel, "binary")
    return TextFile(rel, data.decode("utf-8", "replace"))


# UTF-32 first: its little-endian BOM begins with UTF-16's
BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
