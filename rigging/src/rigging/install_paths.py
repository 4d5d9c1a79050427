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
# The always-loaded files whose marked section rigging manages (CLAUDE.md only to remove a section
# that older versions wrote; .junie/AGENTS.md where a project already has one instead of .junie/guidelines.md).
MANAGED_FILES = ("AGENTS.md", "GEMINI.md", ".junie/AGENTS.md", ".junie/guidelines.md", "CLAUDE.md")
# Folders install writes package files into, one level deep, each named for its package.
FILE_DIRS = (
    ".windsurf/rules",
    ".windsurf/workflows",
    ".cursor/rules",
    ".cursor/commands",
    ".github/instructions",
    ".github/prompts",
    ".claude/rules",
    ".claude/commands",
    ".clinerules",
    ".clinerules/workflows",
    ".kiro/steering",
    ".gemini/commands",
    ".agents/rules",
    ".agents/workflows",
)
# Folders holding one folder per skill, named as the skill (a skill keeps its own name).
SKILL_DIRS = (".agents/skills", ".claude/skills", ".kiro/skills")
# Folders install may create and, once empty, remove again (deepest first).
TARGET_DIRS = (
    *FILE_DIRS[::-1],
    *SKILL_DIRS,
    ".windsurf",
    ".cursor",
    ".github",
    ".claude",
    ".kiro",
    ".gemini",
    ".agents",
    ".junie",
)
# Most file systems refuse longer names; a path refused only when applied would strand a journal.
MAX_NAME_BYTES = 255
MAX_PATH_BYTES = 1024


_SKILL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")


def skill_name_problem(name: object) -> str | None:
    """Why `name` is not an Agent Skills name (1-64 of a-z, 0-9 and '-', no leading, trailing or
    doubled '-'), or None."""
    if not isinstance(name, str) or not 1 <= len(name) <= 64 or not set(name) <= _SKILL_CHARS:
        return "must be 1 to 64 of a-z, 0-9 and '-'"
    if name.startswith("-") or name.endswith("-") or "--" in name:
        return "may not start or end with '-' or hold '--'"
    return None


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
    skill_dir = next((d for d in SKILL_DIRS if path.startswith(d + "/")), None)
    if skill_dir is not None:
        skill, _, inner = path[len(skill_dir) + 1 :].partition("/")
        if not inner or (problem := skill_name_problem(skill)) is not None:
            return f"is not a file inside a skill's folder ({skill_dir}/NAME/…; a skill name {problem or 'is needed'})"
        return None
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
    if kinds == "any" and path in (PROJECT_FILE, LOCK_FILE, *MANAGED_FILES):
        problem = None
    else:
        problem = package_file_problem(path)
    if problem is None:
        problem = link_problem(root, path)
    if problem is not None:
        raise UnsafePath(problem)
    return root / path


def check_folder(root: Path, folder: str) -> Path:
    """A folder install may prune: one of TARGET_DIRS or a folder inside a skill, reached without a link."""
    skill_dir = next((d for d in SKILL_DIRS if folder.startswith(d + "/")), None)
    in_skill = (
        skill_dir is not None
        and lexical_problem(folder) is None
        and skill_name_problem(folder[len(skill_dir) + 1 :].split("/")[0]) is None
    )
    if folder not in TARGET_DIRS and not in_skill:
        raise UnsafePath("is not a folder rigging creates")
    problem = link_problem(root, folder + "/x")
    if problem is not None:
        raise UnsafePath(problem)
    return root / folder
