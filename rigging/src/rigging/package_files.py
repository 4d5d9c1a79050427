"""Which files a package folder holds, and whether each may be packed.

Packing takes exactly the files this scan accepts, so validation and the artifact never disagree.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from rigging import limits
from rigging.problems import Problem

Kind = Literal["manifest", "readme", "changelog", "license", "rule", "workflow", "doc", "skill"]

MANIFEST_FILE = "rigging.json"
SKILLS_FOLDER = "skills"
SKILL_FILE = "SKILL.md"
_TOP_LEVEL: dict[str, Kind] = {
    MANIFEST_FILE: "manifest",
    "README.md": "readme",
    "CHANGELOG.md": "changelog",
    "LICENSE": "license",
    "LICENSE.md": "license",
    "LICENSE.txt": "license",
}
_MAX_DEPTH = 8


@dataclass(frozen=True)
class PackageFile:
    path: str  # POSIX, relative to the package folder
    size: int
    kind: Kind
    # Only a skill's files keep the executable bit (its scripts); every other file packs as 0644,
    # so a rule that happens to be +x (a FAT or WSL mount) packs as it always did.
    executable: bool = False

    @property
    def layer(self) -> Literal["content", "docs"]:
        return "docs" if self.kind == "doc" else "content"


def classify(path: str) -> Kind | None:
    """The kind of file at a package-relative path, or None if packages may not hold it."""
    parts = path.split("/")
    if len(parts) == 1:
        return _TOP_LEVEL.get(path)
    folder, name = parts[0], parts[-1]
    if folder == "rules" and len(parts) == 2 and name.endswith(".md"):
        return "rule"
    if folder == "workflows" and len(parts) == 2 and name.endswith(".md"):
        return "workflow"
    if folder == "docs" and name.endswith((".md", ".json")):
        return "doc"
    if folder == SKILLS_FOLDER and len(parts) >= 3:  # skills/<name>/<any file of the skill>
        return "skill"
    return None


def skill_of(path: str) -> str | None:
    """The skill a package path belongs to (`skills/<name>/...` -> name), or None."""
    parts = path.split("/")
    return parts[1] if len(parts) >= 3 and parts[0] == SKILLS_FOLDER else None


def scan_package(root: Path) -> tuple[list[PackageFile], list[Problem]]:
    """Walk `root` without following links; hidden entries (.git, .DS_Store) are not package content."""
    files: list[PackageFile] = []
    problems: list[Problem] = []
    total = 0

    def walk(directory: Path, prefix: str, depth: int) -> None:
        nonlocal total
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as exc:
            problems.append(Problem("RIG212", f"cannot list folder: {exc.strerror}", prefix or "."))
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            rel = prefix + entry.name
            if len(rel) > limits.MAX_PATH_LENGTH or "\\" in entry.name or not entry.name.isprintable():
                problems.append(Problem("RIG211", "path is too long or holds unusual characters", rel))
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError as exc:
                problems.append(Problem("RIG212", f"cannot read: {exc.strerror}", rel))
                continue
            if stat.S_ISLNK(st.st_mode):
                target = os.readlink(entry.path)
                problems.append(Problem("RIG201", f"is a symbolic link (to {target!r})", rel))
            elif stat.S_ISDIR(st.st_mode):
                if depth >= _MAX_DEPTH:
                    problems.append(Problem("RIG211", f"folders nest deeper than {_MAX_DEPTH}", rel))
                else:
                    walk(Path(entry.path), rel + "/", depth + 1)
            elif not stat.S_ISREG(st.st_mode):
                problems.append(Problem("RIG203", "is not a regular file (device, pipe or socket)", rel))
            elif st.st_nlink > 1:
                problems.append(Problem("RIG202", f"is a hard link ({st.st_nlink} names)", rel))
            elif (kind := classify(rel)) is None:
                problems.append(Problem("RIG206", "is not a file packages may hold", rel))
            elif st.st_size > limits.MAX_FILE_BYTES:
                problems.append(
                    Problem(
                        "RIG208",
                        f"is {st.st_size} bytes; the limit is {limits.MAX_FILE_BYTES}",
                        rel,
                    )
                )
            else:
                total += st.st_size
                executable = kind == "skill" and bool(st.st_mode & stat.S_IXUSR)  # git's rule: the owner's x bit
                files.append(PackageFile(rel, st.st_size, kind, executable))

    walk(root, "", 0)
    if total > limits.MAX_TOTAL_BYTES:
        problems.append(Problem("RIG209", f"package holds {total} bytes; the limit is {limits.MAX_TOTAL_BYTES}"))
    if len(files) > limits.MAX_FILES:
        problems.append(Problem("RIG210", f"package holds {len(files)} files; the limit is {limits.MAX_FILES}"))
    return files, problems
