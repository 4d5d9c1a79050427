"""Agent Skills, copied (never linked) into the folders the agents scan: `.agents/skills/NAME/`
(Codex, Cursor, Copilot, Gemini, Windsurf, Cline, Junie), `.claude/skills/NAME/` (Claude Code,
which does not read `.agents/skills`) and `.kiro/skills/NAME/` (Kiro). A skill keeps its own name,
which is what a user types; `renameSkills` in the project's rigging.json installs it under
another, rewriting the `name:` its SKILL.md must agree with."""

from __future__ import annotations

import re

from rigging.agents.content import PackageContent, Skill
from rigging.agents.output import Output

SKILL_DIRS = {
    ".agents/skills": ("windsurf", "cursor", "copilot", "agents", "gemini", "cline", "junie"),
    ".claude/skills": ("claude",),
    ".kiro/skills": ("kiro",),
}
_NAME_LINE = re.compile(rb"^name:[^\n]*$", re.MULTILINE)


def installed_name(package: PackageContent, skill: Skill, renames: dict[str, str]) -> str:
    return renames.get(f"{package.name}/{skill.name}", skill.name)


def _renamed(data: bytes, name: str) -> bytes:
    """SKILL.md with its frontmatter's `name:` set to `name` (the rest byte for byte)."""
    end = data.find(b"\n---", 3)
    head, rest = (data[:end], data[end:]) if data.startswith(b"---") and end != -1 else (b"", data)
    return _NAME_LINE.sub(b"name: " + name.encode(), head, count=1) + rest


def render(package: PackageContent, targets: list[str], renames: dict[str, str]) -> dict[str, Output]:
    out: dict[str, Output] = {}
    folders = [folder for folder, readers in SKILL_DIRS.items() if any(t in targets for t in readers)]
    for skill in package.skills:
        name = installed_name(package, skill, renames)
        for item in skill.files:
            data = _renamed(item.data, name) if item.path == "SKILL.md" and name != skill.name else item.data
            for folder in folders:
                out[f"{folder}/{name}/{item.path}"] = Output(data, item.executable)
    return out
