"""What a renderer produces: file bytes (and a script's executable bit), and the frontmatter
spellings the agents parse."""

from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass(frozen=True)
class Output:
    data: bytes
    executable: bool = False


def text(value: str) -> Output:
    return Output(value.encode())


def front(lines: list[str]) -> str:
    """A frontmatter block from ready-made `key: value` lines ('' when there are none)."""
    return "\n".join(["---", *lines, "---", ""]) if lines else ""


def with_front(lines: list[str], body: str) -> Output:
    """A file: the frontmatter block (when there are lines for it), a blank line, the body."""
    return text(front(lines) + "\n" + body if lines else body)


def quoted(value: str) -> str:
    """A YAML (and TOML) double-quoted scalar: JSON's escapes are valid in both."""
    return json.dumps(value, ensure_ascii=False)


def block_list(key: str, items: list[str]) -> list[str]:
    """`key:` and one `  - "item"` line per item: the list form Claude Code and Cline document."""
    return [f"{key}:", *(f"  - {quoted(item)}" for item in items)]


def flow_list(items: list[str]) -> str:
    return "[" + ", ".join(quoted(item) for item in items) + "]"


def pick_lines(front_text: str, keys: tuple[str, ...]) -> list[str]:
    """The lines of `front_text` that set `keys`, with their indented continuation lines, as written."""
    picked: list[str] = []
    keeping = False
    for line in front_text.split("\n"):
        if line[:1] in (" ", "\t", "-") and line.strip():
            if keeping:
                picked.append(line)
            continue
        key = line.split(":", 1)[0].strip()
        keeping = ":" in line and key in keys
        if keeping:
            picked.append(line)
    return picked
