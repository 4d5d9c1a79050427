"""Relative-path safety, shared by the validator and by every archive we unpack."""

from __future__ import annotations

import re

TYPE_CHECKING = False  # typing costs ~3 ms to import; only the annotations use it
if TYPE_CHECKING:
    from typing import Literal

    PathProblem = Literal["absolute", "traversal", "invalid"]

_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:")


def path_problem(path: str) -> PathProblem | None:
    """Classify a package-relative POSIX path; None means safe to join under a root."""
    if path.startswith(("/", "\\")) or _WINDOWS_DRIVE.match(path):
        return "absolute"
    parts = path.replace("\\", "/").split("/")
    if ".." in parts:
        return "traversal"
    if path == "" or "\\" in path or "\x00" in path or any(p in ("", ".") for p in parts):
        return "invalid"
    return None
