"""Frontmatter of rule and workflow files, as Windsurf and Cursor write it.

Their frontmatter looks like YAML but is not: `globs: **/*.py` or `globs: *.ts,*.tsx` are
common and are YAML aliases, so a YAML parser rejects files the agents accept. We read what the
agents read: `key: value` lines, optional quotes, and `- item` lists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_KEY = re.compile(r"^([A-Za-z_][A-Za-z0-9_-]*)\s*:\s*(.*)$")
_ITEM = re.compile(r"^\s+-\s*(.*)$|^-\s+(.*)$")


class FrontmatterError(ValueError):
    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


@dataclass
class Frontmatter:
    fields: dict[str, str | list[str]] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)
    body: str = ""
    body_line: int = 1


def _unquote(value: str) -> str:
    """A quoted scalar without its quotes; anything else (`"a", "b"` is two items) as written."""
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'" and value[0] not in value[1:-1]:
        return value[1:-1]
    return value


def parse_frontmatter(text: str) -> Frontmatter:
    lines = text.split("\n")
    if not lines or lines[0].rstrip("\r") != "---":
        return Frontmatter(body=text)
    result = Frontmatter()
    current: str | None = None
    for index in range(1, len(lines)):
        number = index + 1
        line = lines[index].rstrip("\r")
        if line == "---":
            result.body = "\n".join(lines[index + 1 :])
            result.body_line = number + 1
            return result
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        item = _ITEM.match(line)
        if item and current is not None:
            value = result.fields[current]
            items = value if isinstance(value, list) else ([value] if value else [])
            items.append(_unquote(item.group(1) if item.group(1) is not None else item.group(2)))
            result.fields[current] = items
            continue
        match = _KEY.match(line)
        if match is None:
            raise FrontmatterError(f"frontmatter line {line.strip()[:40]!r} is not 'key: value'", number)
        key = match.group(1)
        if key in result.fields:
            raise FrontmatterError(f"frontmatter key {key!r} appears twice", number)
        result.fields[key] = _unquote(match.group(2))
        result.lines[key] = number
        current = key
    raise FrontmatterError("frontmatter opened with '---' is never closed", 1)


def split_globs(value: str | list[str]) -> list[str]:
    from rigging.globs import parse_globs

    return parse_globs(value)
