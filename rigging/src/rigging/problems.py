"""Validation problems and their stable codes. A code, once published, keeps its meaning."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Severity = Literal["error", "warning"]

# code: (severity, default hint)
CODES: dict[str, tuple[Severity, str]] = {
    "RIG101": ("error", "add a rigging.json with name and version (rigging new makes one)"),
    "RIG102": ("error", "fix the JSON syntax at the position shown"),
    "RIG103": ("error", "change the key or value to what the rigging.json schema allows, as the message says"),
    "RIG104": ("error", "use strict SemVer MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD], e.g. 1.0.0"),
    "RIG105": ("error", "use a lowercase namespace/name, e.g. acme/python-style"),
    "RIG106": ("error", "remove the repeated key so the manifest has one meaning"),
    "RIG107": ("error", "fix the path or remove the entry; it must name a file in the package"),
    "RIG201": ("error", "replace the link with a copy of the file it points to"),
    "RIG202": ("error", "make the file a separate copy instead of a hard link"),
    "RIG203": ("error", "remove it: packages hold regular files only"),
    "RIG204": ("error", "use a path inside the package, without '..'"),
    "RIG205": ("error", "use a path relative to the package folder"),
    "RIG206": (
        "error",
        "packages hold rigging.json, README.md, CHANGELOG.md, LICENSE, rules/*.md, "
        "workflows/*.md, skills/<name>/** and docs/**/*.md|json; move or delete the file",
    ),
    "RIG207": ("error", "save the file as UTF-8"),
    "RIG208": ("error", "split the file or shorten it"),
    "RIG209": ("error", "remove files or move large material out of the package"),
    "RIG210": ("error", "remove files; a package may hold at most the number shown"),
    "RIG211": ("error", "rename it using plain path parts (no empty parts, '.', or backslashes)"),
    "RIG212": ("error", "make the file readable"),
    "RIG213": ("error", "packages hold text only: remove the file, or save it as UTF-8 text (e.g. SVG, not PNG)"),
    "RIG301": ("error", "frontmatter is '---', then 'key: value' lines, then '---'"),
    "RIG302": ("error", "use one of: always_on, manual, model_decision, glob"),
    "RIG303": ("error", "add 'globs: <pattern>' (e.g. **/*.py) or choose another trigger"),
    "RIG304": ("warning", "remove the key or check its spelling"),
    "RIG305": ("warning", "add 'trigger: ...' to the frontmatter; Windsurf treats it as manual"),
    "RIG306": ("warning", "add a rule (rules/*.md), a workflow (workflows/*.md) or a skill (skills/<name>/SKILL.md)"),
    "RIG307": ("error", "remove the '<!-- rigging:begin/end' marker: it would cut the managed section of CLAUDE.md"),
    "RIG401": ("warning", "keep docs/ short or split the package; agents read it as context"),
    "RIG402": ("warning", "shorten the file; Windsurf ignores what lies past its limit"),
    "RIG403": ("warning", "shorten rules or move some to trigger: manual or model_decision"),
    "RIG404": ("warning", "shorten the rule; Copilot reads only its first characters"),
    "RIG405": (
        "warning",
        "write each alternative as its own glob (e.g. **/*.ts, **/*.tsx instead of **/*.{ts,tsx}), "
        "or leave that target out of targets",
    ),
    # Agent Skills (agentskills.io): skills/<name>/SKILL.md and the skill's other files
    "RIG501": ("error", "add SKILL.md to the skill folder (rigging new --skill NAME makes one), or remove the folder"),
    "RIG502": ("error", "SKILL.md begins with '---', then YAML 'key: value' lines (each key once), then '---'"),
    "RIG503": (
        "error",
        "use 1-64 lowercase letters, digits and single '-' (not first or last), e.g. name: pdf-tools",
    ),
    "RIG504": ("error", "make the name equal to its folder's name: agents find a skill by its folder"),
    "RIG505": ("error", "describe in 1-1,024 characters what the skill does and when an agent should use it"),
    "RIG506": ("error", "write compatibility as one string of at most 500 characters"),
    "RIG507": ("error", "write metadata as a map of 'key: value' strings, one level deep"),
    "RIG508": (
        "error",
        'remove "skills" from rigging.json (rigging pack lists each SKILL.md\'s name and description itself) '
        "or make it match",
    ),
    "RIG510": (
        "warning",
        "move detail into files under references/ that SKILL.md points to; agents load SKILL.md whole",
    ),
    "RIG511": (
        "warning",
        "move the value under metadata:, or check the key's spelling; agents ignore unknown keys and the "
        "Agent Skills reference validator rejects them",
    ),
    "RIG512": (
        "warning",
        "shorten the skills' descriptions (say what each does and when, in a sentence or two) or split the "
        "package; agents list skills by description within a fixed budget and drop what does not fit",
    ),
}


@dataclass(frozen=True)
class Problem:
    code: str
    message: str
    file: str | None = None
    line: int | None = None
    hint: str | None = None

    @property
    def severity(self) -> Severity:
        return CODES[self.code][0]

    @property
    def effective_hint(self) -> str:
        return self.hint or CODES[self.code][1]

    def location(self) -> str:
        if self.file is None:
            return "."
        return f"{self.file}:{self.line}" if self.line else self.file

    def format(self) -> str:
        return f"{self.location()}: {self.severity} {self.code}: {self.message} (hint: {self.effective_hint})"

    def as_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "severity": self.severity,
            "file": self.file,
            "line": self.line,
            "message": self.message,
            "hint": self.effective_hint,
        }


def json_key_lines(text: str) -> dict[tuple[Any, ...], list[int]]:
    """The line of every key (and array item) of a JSON document, by its path: `("a", 0, "b")`.
    A key written twice has both lines. Meant for text `json.loads` has accepted."""
    from json.decoder import scanstring

    lines: dict[tuple[Any, ...], list[int]] = {}
    frames: list[list[Any]] = []  # [kind ("{" or "["), key or index, waiting for a key or an item]
    line, i, n = 1, 0, len(text)
    while i < n:
        char = text[i]
        if char == "\n":
            line += 1
        elif char in " \t\r":
            pass
        elif frames and frames[-1][0] == "[" and frames[-1][2] and char != "]":
            frames[-1][2] = False
            lines.setdefault(tuple(f[1] for f in frames), []).append(line)
            continue  # the item itself is read on the next turn
        elif char in "{[":
            frames.append([char, None if char == "{" else 0, True])
        elif char in "}]":
            frames.pop()
        elif char == ",":
            top = frames[-1]
            if top[0] == "[":
                top[1] += 1
            top[2] = True
        elif char == '"':
            value, end = scanstring(text, i + 1)
            if frames and frames[-1][0] == "{" and frames[-1][2]:
                frames[-1][1], frames[-1][2] = value, False
                lines.setdefault(tuple(f[1] for f in frames), []).append(line)
            i = end
            continue
        i += 1
    return lines


def json_key_line(text: str, path: list[Any], last: bool = False) -> int | None:
    """The line where the key at `path` is written (the nearest enclosing key's when it is absent;
    1 for the document itself), or None when the text is not JSON."""
    try:
        lines = json_key_lines(text)
    except (ValueError, IndexError):
        return None
    for length in range(len(path), 0, -1):
        found = lines.get(tuple(path[:length]))
        if found:
            return found[-1] if last else found[0]
    return 1
