"""Cursor: `.cursor/rules/ID.mdc` (Cursor reads only `.mdc` there) with `description`, `globs` (one
comma-separated string) and `alwaysApply` (a boolean); workflows as `.cursor/commands/ID.md`,
plain Markdown run as `/ID`."""

from __future__ import annotations

from rigging.agents.content import PackageContent, rule_id, rules_to_write
from rigging.agents.output import Output, text, with_front
from rigging.globs import comma_list


def render(package: PackageContent, skip: set[str]) -> dict[str, Output]:
    out: dict[str, Output] = {}
    for rid, rule in rules_to_write(package, skip):
        described = rule.trigger in ("model_decision", "glob", "always_on")
        lines = [
            f"description: {rule.description if described else ''}".rstrip(),
            f"globs: {comma_list(rule.globs) if rule.trigger == 'glob' else ''}".rstrip(),
            f"alwaysApply: {'true' if rule.trigger == 'always_on' else 'false'}",
        ]
        out[f".cursor/rules/{rid}.mdc"] = with_front(lines, rule.body)
    for flow in package.workflows:
        out[f".cursor/commands/{rule_id(package, flow)}.md"] = text(flow.body)
    return out
