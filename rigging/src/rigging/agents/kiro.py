"""Kiro: steering files `.kiro/steering/ID.md` whose frontmatter must open the file:
`inclusion: always | fileMatch | auto | manual`, `fileMatchPattern` (a string, or a list for
several), and `name` with `description` for `auto`. Kiro has no command files; a workflow is a
`manual` steering file, which Kiro offers as `/ID` and `#ID`."""

from __future__ import annotations

from rigging.agents.content import PackageContent, rule_id, rules_to_write
from rigging.agents.output import Output, flow_list, quoted, with_front


def render(package: PackageContent, skip: set[str]) -> dict[str, Output]:
    out: dict[str, Output] = {}
    for rid, rule in rules_to_write(package, skip):
        if rule.trigger == "glob":
            pattern = quoted(rule.globs[0]) if len(rule.globs) == 1 else flow_list(rule.globs)
            lines = ["inclusion: fileMatch", f"fileMatchPattern: {pattern}"]
        elif rule.trigger == "model_decision" and rule.description:
            lines = ["inclusion: auto", f"name: {rid}", f"description: {quoted(rule.description)}"]
        elif rule.trigger == "always_on":
            lines = ["inclusion: always"]
        else:
            lines = ["inclusion: manual"]
        out[f".kiro/steering/{rid}.md"] = with_front(lines, rule.body)
    for flow in package.workflows:
        out[f".kiro/steering/{rule_id(package, flow)}.md"] = with_front(["inclusion: manual"], flow.body)
    return out
