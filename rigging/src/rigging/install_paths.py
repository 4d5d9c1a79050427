"""Which paths in a project rigging may read, write or delete, and the check every such path passes.

Paths reach the installer from three places it must not trust: rigging.lock (it arrives with
every pull request), a package's content, and the transaction journal under `.rigging/`. Each is
checked before any read, write or delete: a normalised project-relative POSIX path, inside one of
the folders install writes to (or one of the files it manages), and not routed through a
symbolic link, which could lead anywhere on the machine.

Kept free of heavy imports: an unchanged project's `rigging install` checks every locked path.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from rigging.paths import path_problem

PROJECT_FILE = "rigging.json"
LOCK_FILE = "rigging.lock"
# target -> the always-loaded file whose marked section rigging manages
MANAGED_FILES = {"claude": "CLAUDE.md", "agents": "AGENTS.md"}
# Folders install writes package files into, one per agent and kind.
FILE_DIRS = (
    ".windsurf/rules",
    ".windsurf/workflows",
    ".cursor/rules",
    ".cursor/commands",
    ".github/instructions",
    ".github/prompts",
    ".claude/commands",
)
# Folders install may create and, once empty, remove again (deepest first).
TARGET_DIRS = (
    ".windsurf/rules",
    ".windsurf/workflows",
    ".windsurf",
    ".cursor/rules",
    ".cursor/commands",
    ".cursor",
    ".github/instructions",
    ".github/prompts",
    ".github",
    ".claude/commands",
    ".claude",
)
# Most file systems refuse longer names; a path refused only when applied would strand a journal.
MAX_NAME_BYTES = 255
MAX_PATH_BYTES = 1024


class UnsafePath(Exception):
    """A path rigging refuses to touch; str(self) says why, in a few words."""


def lexical_problem(path: object) -> str | None:
    """Why `path` is not a normalised project-relative POSIX path, or None."""
    if not isinstance(path, str):
        return "is not a string"
    problem = path_problem(path)
    if problem == "absolute":
        return "is an absolute path"
    if problem == "traversal":
        return "leaves the project through '..'"
    if problem is not None:
        return "is not a normalised relative path (empty or '.' parts, backslashes or NUL)"
    if len(path.encode()) > MAX_PATH_BYTES or any(len(p.encode()) > MAX_NAME_BYTES for p in path.split("/")):
        return f"is too long (a name over {MAX_NAME_BYTES} bytes or a path over {MAX_PATH_BYTES})"
    return None


def package_file_problem(path: object, ident: str | None = None) -> str | None:
    """Why `path` cannot be a file a package installs, or None.

    Install writes one level below its folders, under the package's own prefix
    (`.cursor/rules/NAMESPACE.NAME.rule.mdc`); with `ident` (NAMESPACE.NAME) that prefix is
    required too, so a lock cannot claim a team's own rule, or another package's, as its file.
    """
    if (problem := lexical_problem(path)) is not None:
        return problem
    assert isinstance(path, str)
    folder, _, name = path.rpartition("/")
    if folder not in FILE_DIRS:
        return "is not directly inside a folder rigging installs to (" + ", ".join(FILE_DIRS) + ")"
    if ident is not None and not name.startswith(ident + "."):
        return f"is not named for the package ({ident}.*)"
    return None


def link_problem(root: Path, path: str) -> str | None:
    """Why reaching `root/path` would pass through a symbolic link (or a non-folder), or None.

    The file itself may be a link (rigging replaces or removes the link, never its target, and
    treats it as the user's); every folder on the way to it must be a real folder.
    """
    parts = path.split("/")[:-1]
    for depth in range(1, len(parts) + 1):
        folder = "/".join(parts[:depth])
        try:
            mode = os.lstat(os.path.join(root, folder)).st_mode
        except FileNotFoundError:
            return None  # install creates the rest as real folders
        except OSError as exc:
            return f"cannot be reached ({exc.strerror})"
        if stat.S_ISLNK(mode):
            return f"passes through {folder}, a symbolic link"
        if not stat.S_ISDIR(mode):
            return f"passes through {folder}, which is not a folder"
    return None


def checked(root: Path, path: str, *, kinds: str = "package") -> Path:
    """`root / path` once `path` passes every check, else UnsafePath.

    kinds: "package" for package files only; "any" also admits the managed files, rigging.json
    and rigging.lock (the transaction journal may write all of them).
    """
    if kinds == "any" and path in (PROJECT_FILE, LOCK_FILE, *MANAGED_FILES.values()):
        problem = None
    else:
        problem = package_file_problem(path)
    if problem is None:
        problem = link_problem(root, path)
    if problem is not None:
        raise UnsafePath(problem)
    return root / path


def check_folder(root: Path, folder: str) -> Path:
    """A folder install may prune: one of TARGET_DIRS, reached without a link."""
    if folder not in TARGET_DIRS:
        raise UnsafePath("is not a folder rigging creates")
    problem = link_problem(root, folder + "/x")
    if problem is not None:
        raise UnsafePath(problem)
    return root / folder
