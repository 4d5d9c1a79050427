"""Unpacking package layers, which are untrusted: only regular files and folders, only allowed
paths under the expected top folder, sizes capped before and after decompression. Of a member's
mode only the executable bit of a skill's file is kept (0755, else 0644): never setuid, setgid,
sticky or group/world write, whatever the tar says."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from rigging import limits
from rigging.errors import IntegrityError
from rigging.package_files import classify
from rigging.paths import path_problem

# Decompressed bytes we read at most: the package cap plus tar's headers and padding.
MAX_TAR_BYTES = limits.MAX_TOTAL_BYTES + (limits.MAX_FILES * 2 + 64) * 1024


class _Capped(io.RawIOBase):
    """A reader that fails once more than `limit` bytes have come out (a decompression bomb)."""

    def __init__(self, inner: io.BufferedIOBase | gzip.GzipFile, limit: int, label: str) -> None:
        self.inner, self.limit, self.label, self.count = inner, limit, label, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.inner.read(len(buffer))
        self.count += len(data)
        if self.count > self.limit:
            raise IntegrityError(f"{self.label}: expands past {self.limit} bytes; refusing (compression bomb?)")
        buffer[: len(data)] = data
        return len(data)


def iter_layer(
    blob: Path | bytes, prefix: str, *, docs: bool = False, label: str = "layer"
) -> Iterator[tuple[str, bytes]]:
    """(path, content) of every entry `iter_entries` yields."""
    for rel, data, _ in iter_entries(blob, prefix, docs=docs, label=label):
        yield rel, data


def iter_entries(
    blob: Path | bytes, prefix: str, *, docs: bool = False, label: str = "layer"
) -> Iterator[tuple[str, bytes, bool]]:
    """(path, content, executable) of every file in the tar.gz `blob` (a file, or its bytes) under
    `prefix/`, and (path + "/", b"", False) of every folder, checked as untrusted: safe paths only,
    regular files only, allowed kinds only, per-file and total caps, and a cap on decompressed bytes
    (compression bombs). `executable` is true only for a skill's file whose owner-execute bit is set."""

    def place(member: tarfile.TarInfo) -> str | None:
        name = member.name.rstrip("/")
        if name == prefix and member.isdir():
            return None
        if not name.startswith(prefix + "/"):
            raise IntegrityError(f"{label}: entry {member.name!r} lies outside {prefix}/")
        return name[len(prefix) + 1 :]

    def kind_of(rel: str, member: tarfile.TarInfo) -> str | None:
        kind = classify(("docs/" + rel) if docs else rel)
        if kind is None or (kind == "doc") != docs:
            raise IntegrityError(f"{label}: entry {member.name!r} is not a file packages may hold")
        return kind

    return _checked_entries(blob, label, place, kind_of)


def iter_tree(blob: Path | bytes, *, label: str = "archive") -> Iterator[tuple[str, bytes, bool]]:
    """`iter_entries` for an archive of a whole folder (an upload to the portal): the same checks
    (safe paths, regular files only, one meaning per path, caps, compression bombs), but entries
    may lie anywhere (a leading `./` is dropped) and be any file, for validation to judge."""

    def place(member: tarfile.TarInfo) -> str | None:
        name = member.name.rstrip("/")
        while name.startswith("./"):
            name = name[2:]
        if name in ("", ".") and member.isdir():
            return None
        return name

    return _checked_entries(blob, label, place, lambda rel, member: classify(rel))


def _checked_entries(
    blob: Path | bytes,
    label: str,
    place: Callable[[tarfile.TarInfo], str | None],
    kind_of: Callable[[str, tarfile.TarInfo], str | None],
) -> Iterator[tuple[str, bytes, bool]]:
    """The walk both share: `place` gives a member's path (None: skip it) or raises, `kind_of` a
    file's kind or raises."""
    total = count = 0
    seen: dict[str, str] = {}
    try:
        with (
            gzip.open(io.BytesIO(blob) if isinstance(blob, bytes) else blob, "rb") as gz,
            tarfile.open(fileobj=io.BufferedReader(_Capped(gz, MAX_TAR_BYTES, label)), mode="r|") as tar,
        ):
            for member in tar:
                rel = place(member)
                if rel is None:
                    continue
                if path_problem(rel) is not None:
                    raise IntegrityError(f"{label}: entry {member.name!r} is not a safe path")
                # one path, one meaning: a second copy of a file, or a file where a folder is (or
                # the other way round), would unpack differently in each extractor
                kind_here = "dir" if member.isdir() else "file"
                if seen.get(rel, "dir") == "file" and kind_here == "file":
                    raise IntegrityError(f"{label}: entry {member.name!r} appears twice")
                if rel in seen and seen[rel] != kind_here:
                    raise IntegrityError(f"{label}: entry {member.name!r} is both a file and a folder")
                for parent in _parents(rel):
                    if seen.setdefault(parent, "dir") == "file":
                        raise IntegrityError(f"{label}: entry {member.name!r} lies under a file of the same name")
                seen[rel] = kind_here
                if member.isdir():
                    yield rel + "/", b"", False
                    continue
                if not member.isfile():
                    raise IntegrityError(f"{label}: entry {member.name!r} is a link or device; refusing")
                kind = kind_of(rel, member)
                if member.size > limits.MAX_FILE_BYTES:
                    raise IntegrityError(f"{label}: entry {member.name!r} is {member.size} bytes; over the limit")
                total += member.size
                count += 1
                if total > limits.MAX_TOTAL_BYTES or count > limits.MAX_FILES:
                    raise IntegrityError(f"{label}: more content than a package may hold")
                source = tar.extractfile(member)
                data = source.read() if source is not None else b""
                if len(data) != member.size:
                    raise IntegrityError(f"{label}: entry {member.name!r} is truncated")
                yield rel, data, kind == "skill" and bool(member.mode & 0o100)
    except (tarfile.TarError, EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise IntegrityError(f"{label}: not a valid tar.gz ({exc})") from None


def _parents(rel: str) -> Iterator[str]:
    parts = rel.split("/")
    for end in range(1, len(parts)):
        yield "/".join(parts[:end])


def write_files(entries: Iterable[tuple[str, bytes]], folder: Path) -> dict[str, str]:
    """Write checked (path, content) entries (folders as "path/", as `iter_layer` yields them)
    under `folder`, for a scan to read: never following a link nor overwriting a file; {path:
    sha256 hex} of each file."""
    digests: dict[str, str] = {}
    for rel, data in entries:
        target = folder / rel
        if rel.endswith("/"):
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        digests[rel] = hashlib.sha256(data).hexdigest()
    return digests


def extract_layer(blob: Path, prefix: str, dest: Path, *, docs: bool = False, label: str = "layer") -> list[str]:
    """Extract the tar.gz `blob` whose entries lie under `prefix/` into `dest`; return the files written.
    A skill's executable file is created 0755, any other 0644 (less the umask, as git and tar do)."""
    written: list[str] = []
    for rel, data, executable in iter_entries(blob, prefix, docs=docs, label=label):
        if rel.endswith("/"):
            (dest / rel).mkdir(parents=True, exist_ok=True, mode=0o755)
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            mode = 0o755 if executable else 0o644
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
        except FileExistsError:
            raise IntegrityError(f"{label}: entry {rel} appears twice") from None
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        written.append(rel)
    return written
