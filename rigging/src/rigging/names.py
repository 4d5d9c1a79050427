"""Package names: `namespace/name`, lowercase, each part a valid OCI repository path component."""

from __future__ import annotations

import re

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_NAME = re.compile(rf"^{_COMPONENT}/{_COMPONENT}$")
MAX_NAME_LENGTH = 128


def name_problem(name: str) -> str | None:
    """Why `name` is not a valid package name, or None when it is."""
    if len(name) > MAX_NAME_LENGTH:
        return f"is {len(name)} characters long; the limit is {MAX_NAME_LENGTH}"
    if name != name.lower():
        return "has upper-case letters"
    if name.count("/") != 1:
        return "must have exactly one '/', as in namespace/name"
    if not _NAME.match(name):
        return "may hold only a-z, 0-9 and single '.', '_', '__' or '-' between them"
    return None


def short_name(name: str) -> str:
    return name.rsplit("/", 1)[-1]
