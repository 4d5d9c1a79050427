"""A rule's globs: read in every spelling authors use, written in the one each agent parses.

Authors write `globs: **/*.py, **/*.pyi`, `globs: "**/*.py", "**/*.pyi"`,
`globs: ["src/**/*.py", "tests/**"]` or a `- item` list; all mean the same list. Windsurf,
Cursor and Copilot read one comma-separated string, so a glob that itself holds a comma (a brace
set such as `*.{ts,tsx}`) cannot be written for them; Claude, Cline and Kiro take a list.
"""

from __future__ import annotations

# target -> the frontmatter key that holds its globs as one comma-separated string
COMMA_LIST_TARGETS = {"windsurf": "globs", "cursor": "globs", "copilot": "applyTo"}


def _unquote(item: str) -> str:
    item = item.strip()
    if len(item) >= 2 and item[0] == item[-1] and item[0] in "\"'":
        return item[1:-1]
    return item


def _split_top_level(text: str) -> list[str]:
    """Split on commas outside quotes and outside {…} brace sets."""
    parts, current, depth, quote = [], [], 0, ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char == "{":
            depth += 1
        elif char == "}":
            depth = max(depth - 1, 0)
        elif char == "," and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


def parse_globs(value: str | list[str]) -> list[str]:
    """The list of globs, from any accepted spelling; empty items are dropped."""
    if isinstance(value, list):
        items = [item for raw in value for item in _split_top_level(raw)]
    else:
        text = value.strip()
        if text.startswith("[") and text.endswith("]"):  # a YAML flow list
            text = text[1:-1]
        items = _split_top_level(text)
    return [glob for glob in (_unquote(item) for item in items) if glob]


def comma_list(globs: list[str]) -> str:
    """The one-string spelling Windsurf, Cursor and Copilot parse."""
    return ",".join(globs)


def glob_warnings(globs: list[str], targets: list[str] | tuple[str, ...]) -> list[tuple[str, str]]:
    """(target, why) for each target among `targets` that cannot express these globs."""
    awkward = [glob for glob in globs if "," in glob]
    if not awkward:
        return []
    return [
        (target, f"{target} reads {key} as one comma-separated string, so {awkward[0]!r} would be split at its comma")
        for target, key in COMMA_LIST_TARGETS.items()
        if target in targets
    ]
