"""GitHub Copilot: `.github/instructions/ID.instructions.md` with `applyTo` (one quoted
comma-separated string; `"**"` for always-on rules; none for rules attached by hand or chosen by
their `description`); workflows as `.github/prompts/ID.prompt.md`, keeping the prompt-file keys
Copilot reads."""

from __future__ import annotations

from rigging.agents.content import PackageContent, rule_id, rules_to_write
from rigging.agents.output import Output, pick_lines, quoted, with_front
from rigging.globs import comma_list

PROMPT_KEYS = ("name", "agent", "model", "tools", "argument-hint", "mode")


def render(package: PackageContent, skip: set[str]) -> dict[str, Output]:
    out: dict[str, Output] = {}
    for rid, rule in rules_to_write(package, skip):
        lines = []
        if rule.trigger == "always_on":
            lines.append(f"applyTo: {quoted('**')}")
        elif rule.trigger == "glob":
            lines.append(f"applyTo: {quoted(comma_list(rule.globs))}")
        if rule.description:
            lines.append(f"description: {quoted(rule.description)}")
        out[f".github/instructions/{rid}.instructions.md"] = with_front(lines, rule.body)
    for flow in package.workflows:
        lines = [f"description: {quoted(flow.description)}", *pick_lines(flow.front, PROMPT_KEYS)]
        out[f".github/prompts/{rule_id(package, flow)}.prompt.md"] = with_front(lines, flow.body)
    return out
