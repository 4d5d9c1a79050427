"""Uploaded packages, untrusted: read under a size cap, checked path by path, written into a fresh
folder for `rigging validate`, the publish gate and the push to read.

A folder arrives as multipart file parts (the browser sends each file's path relative to the
chosen folder, and console.js the same paths in the `paths` field); an archive as one `.tar.gz`,
walked by `rigging.archive.iter_tree`, the checks `rigging pull` unpacks layers with. Either way
no path may be absolute, climb out with `..`, or be a link; a path the package cannot hold is
refused before anything is written. Hidden entries (`.git/`, `.DS_Store`) are never written:
validation ignores them, and git history is not read from uploads at all (a hostile
`.git/config` runs commands through git), so only the fact that one came is kept.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from rigging.paths import path_problem

from rigging import limits

MAX_FILES = limits.MAX_FILES
MAX_PREVIEW_CHARS = limits.MAX_FILE_BYTES  # what /console/preview renders at most
_CHANGELOG_SECTION = re.compile(r"^## .*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)


class UploadRefused(Exception):
    """The upload cannot be taken; `message` says why, `status` is the HTTP answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass
class Unpacked:
    files: list[str] = field(default_factory=list)  # written, package-relative
    hidden: list[str] = field(default_factory=list)  # hidden entries that came and were not written
    top: str | None = None  # the folder everything lay under, stripped

    @property
    def has_git(self) -> bool:
        return any(p == ".git" or p.startswith(".git/") for p in self.hidden)


def _is_hidden(rel: str) -> bool:
    return any(part.startswith(".") for part in rel.split("/"))


def _check_path(rel: str) -> None:
    problem = path_problem(rel)
    if problem == "absolute":
        raise UploadRefused(f"refused: {rel!r} is an absolute path; upload the package folder's own files")
    if problem == "traversal":
        raise UploadRefused(f"refused: {rel!r} climbs out of the folder with '..'")
    if problem is not None:
        raise UploadRefused(f"refused: {rel!r} is not a safe path (empty, '.', backslash or NUL parts)")


def _strip_top(paths: list[str]) -> tuple[list[str], str | None]:
    """A chosen or archived folder comes as `pkg/…`: when every path lies under one folder and the
    package's rigging.json is not at the top, that folder is the package."""
    if not paths or "rigging.json" in paths:
        return paths, None
    tops = {p.split("/", 1)[0] for p in paths}
    if len(tops) != 1 or any("/" not in p for p in paths):
        return paths, None
    top = tops.pop()
    return [p.split("/", 1)[1] for p in paths], top


def _write(folder: Path, rel: str, data: bytes) -> None:
    """Create one file under `folder`, never following a link nor replacing a file."""
    target = folder / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    except FileExistsError:
        raise UploadRefused(f"refused: {rel!r} comes twice") from None
    except (NotADirectoryError, IsADirectoryError):
        raise UploadRefused(f"refused: {rel!r} is both a file and a folder") from None
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def unpack_files(entries: Iterable[tuple[str, bytes]], folder: Path) -> Unpacked:
    """Write a folder upload's (path, content) pairs under `folder`, after checking every path."""
    items = list(entries)
    if len(items) > MAX_FILES:
        raise UploadRefused(f"refused: {len(items)} files; a package holds at most {MAX_FILES}", 413)
    paths = []
    for rel, _ in items:
        _check_path(rel)
        paths.append(rel)
    stripped, top = _strip_top(paths)
    out = Unpacked(top=top)
    for rel, (_, data) in zip(stripped, items, strict=True):
        if _is_hidden(rel):
            out.hidden.append(rel)
            continue
        _write(folder, rel, data)
        out.files.append(rel)
    out.files.sort()
    return out


def unpack_archive(blob: bytes, folder: Path) -> Unpacked:
    """Write a `.tar.gz` of a package folder under `folder`: `rigging.archive.iter_tree`'s checks
    (links, devices, unsafe paths, duplicates, caps, compression bombs) refuse the whole archive."""
    from rigging.archive import iter_tree
    from rigging.errors import IntegrityError

    try:
        entries = [(rel, data) for rel, data, _ in iter_tree(blob, label="the archive") if not rel.endswith("/")]
    except IntegrityError as exc:
        raise UploadRefused(f"refused: {exc}") from None
    return unpack_files(entries, folder)


def changelog_section(text: str) -> str | None:
    """The newest release's notes: the first `## ` heading and what follows up to the next one."""
    match = _CHANGELOG_SECTION.search(text)
    return match.group(0).strip() if match else None


def lines_of(text: str) -> list[str]:
    return text.splitlines() or [""]
