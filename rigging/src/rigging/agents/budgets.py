"""Size budgets the agents document, checked on what install writes (warnings, with the numbers)."""

from __future__ import annotations

from rigging import limits
from rigging.agents.output import Output

SKILL_DESCRIPTION_LIMIT = 1024  # Agent Skills specification
CLAUDE_SKILL_DESCRIPTION_LIMIT = 1536  # Claude Code cuts each listing entry here
SKILL_LISTING_BUDGET = 8000  # Claude Code's fallback listing budget (1% of context) and Codex's


def warnings(files: dict[str, Output], skill_descriptions: dict[str, str]) -> list[str]:
    """`skill_descriptions`: the model-invocable skills installed, by name."""
    found = []
    for path, output in sorted(files.items()):
        size = len(output.data.decode("utf-8", "replace"))
        if path.startswith((".windsurf/rules/", ".windsurf/workflows/")) and size > limits.WINDSURF_FILE_LIMIT_CHARS:
            found.append(f"{path}: {size} characters; Windsurf reads {limits.WINDSURF_FILE_LIMIT_CHARS}")
        if path.startswith(".github/instructions/") and size > limits.COPILOT_FILE_LIMIT_CHARS:
            found.append(f"{path}: {size} characters; Copilot code review reads {limits.COPILOT_FILE_LIMIT_CHARS}")
    always = sum(
        len(o.data.decode("utf-8", "replace"))
        for p, o in files.items()
        if p.startswith(".windsurf/rules/") and b"trigger: always_on" in o.data
    )
    if always > limits.WINDSURF_TOTAL_LIMIT_CHARS:
        found.append(
            f".windsurf/rules: always-on rules hold {always} characters; Windsurf's total is "
            f"{limits.WINDSURF_TOTAL_LIMIT_CHARS}"
        )
    for name, description in sorted(skill_descriptions.items()):
        if len(description) > CLAUDE_SKILL_DESCRIPTION_LIMIT:
            found.append(
                f"skill {name}: description of {len(description)} characters; Claude Code lists "
                f"{CLAUDE_SKILL_DESCRIPTION_LIMIT}, the Agent Skills specification allows {SKILL_DESCRIPTION_LIMIT}"
            )
    listing = sum(len(name) + len(d) for name, d in skill_descriptions.items())
    if listing > SKILL_LISTING_BUDGET:
        found.append(
            f"skills: {len(skill_descriptions)} skill descriptions hold {listing} characters; Claude Code and "
            f"Codex list about {SKILL_LISTING_BUDGET} (1% of a 200k context) and drop the rest"
        )
    return found
