"""Which agents a project already uses, for a project whose rigging.json names no `targets`."""

from __future__ import annotations

from pathlib import Path

# target -> what in a project shows that agent is used there
SIGNS = {
    "windsurf": (".windsurf", ".windsurfrules", ".devin"),
    "cursor": (".cursor", ".cursorrules"),
    "copilot": (".github/copilot-instructions.md", ".github/instructions", ".github/prompts", ".github/skills"),
    "claude": (".claude", "CLAUDE.md"),
    "gemini": (".gemini", "GEMINI.md"),
    "cline": (".clinerules", ".cline"),
    "kiro": (".kiro",),
    "junie": (".junie",),
}


def detect(root: Path) -> tuple[list[str], str]:
    """The targets (always with `agents`: AGENTS.md is read by most agents) and why, in words."""
    from rigging.project import ALL_TARGETS

    found: dict[str, str] = {}
    for target, signs in SIGNS.items():
        sign = next((s for s in signs if (root / s).exists()), None)
        if sign is not None:
            found[target] = sign + ("/" if (root / sign).is_dir() else "")
    targets = sorted({*found, "agents"}, key=ALL_TARGETS.index)
    why = ", ".join(f"{t} ({found[t]})" for t in targets if t in found)
    reason = f"found {why}" if why else "no agent's files found"
    return targets, f"{reason}; AGENTS.md for the rest"
