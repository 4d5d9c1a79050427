"""Windsurf (Devin Desktop): `.windsurf/rules/ID.md` with `trigger`, `description` and `globs`
(one comma-separated string); workflows in `.windsurf/workflows/ID.md`, run as `/ID`.

`.windsurf/rules` is still read after the 2026 rename to Devin Desktop (`.devin/rules` is the new
name); writing both would load every rule twice, so only the folder every version reads is used.
"""

from __future__ import annotations

from rigging.agents.content import PackageContent, rule_id, rules_to_write
from rigging.agents.output import Output, with_front
from rigging.globs import comma_list


def render(package: PackageContent, skip: set[str]) -> dict[str, Output]:
    out: dict[str, Output] = {}
    for rid, rule in rules_to_write(package, skip):
        lines = [f"trigger: {rule.trigger}", f"description: {rule.description}".rstrip()]
        if rule.globs:
            lines.append(f"globs: {comma_list(rule.globs)}")
        out[f".windsurf/rules/{rid}.md"] = with_front(lines, rule.body)
    for flow in package.workflows:
        lines = [f"description: {flow.description}".rstrip()]
        out[f".windsurf/workflows/{rule_id(package, flow)}.md"] = with_front(lines, flow.body)
    return out
