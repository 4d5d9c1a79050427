"""Cline: `.clinerules/ID.md`, always active without frontmatter and only for matching files with
`paths:` (which must be a YAML list: Cline ignores a plain string and then applies the rule
always). Cline has no rule chosen by description: such a rule stays active and says when it
applies. Rules called by name and workflows go to `.clinerules/workflows/ID.md`, run as `/ID.md`."""

from __future__ import annotations

from rigging.agents.content import PackageContent, rule_id, rules_to_write, when
from rigging.agents.output import Output, block_list, text, with_front


def render(package: PackageContent, skip: set[str]) -> dict[str, Output]:
    out: dict[str, Output] = {}
    for rid, rule in rules_to_write(package, skip):
        if rule.trigger == "glob":
            out[f".clinerules/{rid}.md"] = with_front(block_list("paths", rule.globs), rule.body)
        elif rule.trigger == "manual":
            out[f".clinerules/workflows/{rid}.md"] = text(rule.body)
        elif rule.trigger == "model_decision":
            out[f".clinerules/{rid}.md"] = text(f"_{when(rule)}_\n\n{rule.body}")
        else:
            out[f".clinerules/{rid}.md"] = text(rule.body)
    for flow in package.workflows:
        out[f".clinerules/workflows/{rule_id(package, flow)}.md"] = text(flow.body)
    return out
