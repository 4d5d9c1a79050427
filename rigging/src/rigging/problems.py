"""Validation problems and their stable codes. A code, once published, keeps its meaning."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]

# code: (severity, default hint)
CODES: dict[str, tuple[Severity, str]] = {
    "RIG101": ("error", "add a rigging.json with name and version (rigging new makes one)"),
    "RIG102": ("error", "fix the JSON syntax at the position shown"),
    "RIG103": ("error", "change the value to match the rigging.json schema (oci-media-types/)"),
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
        "workflows/*.md and docs/**/*.md|json; move or delete the file",
    ),
    "RIG207": ("error", "save the file as UTF-8"),
    "RIG208": ("error", "split the file or shorten it"),
    "RIG209": ("error", "remove files or move large material out of the package"),
    "RIG210": ("error", "remove files; a package may hold at most the number shown"),
    "RIG211": ("error", "rename it using plain path parts (no empty parts, '.', or backslashes)"),
    "RIG212": ("error", "make the file readable"),
    "RIG301": ("error", "frontmatter is '---', then 'key: value' lines, then '---'"),
    "RIG302": ("error", "use one of: always_on, manual, model_decision, glob"),
    "RIG303": ("error", "add 'globs: <pattern>' (e.g. **/*.py) or choose another trigger"),
    "RIG304": ("warning", "remove the key or check its spelling"),
    "RIG305": ("warning", "add 'trigger: ...' to the frontmatter; Windsurf treats it as manual"),
    "RIG306": ("warning", "add a rule (rules/*.md) or a workflow (workflows/*.md)"),
    "RIG307": ("error", "remove the '<!-- rigging:begin/end' marker: it would cut the managed section of CLAUDE.md"),
    "RIG401": ("warning", "keep docs/ short or split the package; agents read it as context"),
    "RIG402": ("warning", "shorten the file; Windsurf ignores what lies past its limit"),
    "RIG403": ("warning", "shorten rules or move some to trigger: manual or model_decision"),
    "RIG404": ("warning", "shorten the rule; Copilot reads only its first characters"),
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
