"""Package names: `namespace/name`, lowercase, each part a valid OCI repository path component."""

from __future__ import annotations

import re
from collections.abc import Iterable

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_NAME = re.compile(rf"^{_COMPONENT}/{_COMPONENT}$")
MAX_NAME_LENGTH = 128


def name_problem(name: str) -> str | None:
    """Why `name` is not a valid package name, or None when it is."""
    if len(name) > MAX_NAME_LENGTH:
        return f"is {len(name)} characters long; the limit is {MAX_NAME_LENGTH}"
    if (alone := name_in_reference(name)) is not None:
        return f"is a full reference; a package name is the namespace/name alone, {alone!r}"
    if name != name.lower():
        return "has upper-case letters"
    if name.count("/") != 1:
        return "must have exactly one '/', as in namespace/name"
    if not _NAME.match(name):
        return "may hold only a-z, 0-9 and single '.', '_', '__' or '-' between them"
    return None


def name_in_reference(text: str) -> str | None:
    """The `namespace/name` a full reference (`REGISTRY/[PREFIX/]NS/NAME[:TAG]`) ends in, or None
    when `text` is not one (a registry host has a '.' or a ':' or is localhost, as docker reads it)."""
    body = text.removeprefix("oci://").split("@", 1)[0]
    parts = body.split("/")
    host = parts[0]
    if len(parts) < 3 or not ("." in host or ":" in host or host == "localhost"):
        return None
    name = "/".join(parts[-2:]).rsplit(":", 1)[0] if ":" in parts[-1] else "/".join(parts[-2:])
    return name if _NAME.match(name) else None


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The one of `choices` that `word` is most likely a slip for, or None (for "did you mean")."""
    import difflib

    choices = list(choices)
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if not close:  # a case slip ('MaxDepth') is closer than difflib's ratio says
        close = [c for c in choices if c.lower() == word.lower()]
    return close[0] if close else None


def short_name(name: str) -> str:
    return name.rsplit("/", 1)[-1]
