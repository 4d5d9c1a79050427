"""Claude Code: rules in `.claude/rules/ID.md`, loaded at launch when they have no `paths:` and
when a matching file is read when they do (a YAML list of quoted globs). Claude has no rule that
the model picks by description or the user calls by name: the first becomes a skill (the model
picks a skill by its description), the second a command with `disable-model-invocation: true`
(only the user's `/ID` loads it); skill folders stay within the Agent Skills specification.
Workflows keep their whole frontmatter in `.claude/commands/ID.md` (Claude reads the same keys
there as in a skill: `argument-hint`, `allowed-tools`, `model`, …).

Nothing goes into CLAUDE.md: Claude Code loads `.claude/rules` itself, so a copy in CLAUDE.md
would only load the same text twice.
"""

from __future__ import annotations

from rigging.agents.content import PackageContent, rule_id, skill_id
from rigging.agents.output import Output, block_list, quoted, text, with_front


def render(package: PackageContent, skip: set[str]) -> dict[str, Output]:
    out: dict[str, Output] = {}
    for rule in package.rules:
        rid = rule_id(package, rule)
        if rule.trigger == "always_on":
            out[f".claude/rules/{rid}.md"] = text(rule.body)
        elif rule.trigger == "glob":
            out[f".claude/rules/{rid}.md"] = with_front(block_list("paths", rule.globs), rule.body)
        elif rule.trigger == "model_decision":
            name = skill_id(package, rule)
            description = rule.description or f"The {rule.stem} rule of {package.name}."
            out[f".claude/skills/{name}/SKILL.md"] = with_front(
                [f"name: {name}", f"description: {quoted(description)}"], rule.body
            )
        else:  # manual: a command only the user calls
            lines = [f"description: {quoted(rule.description or f'The {rule.stem} rule of {package.name}')}"]
            out[f".claude/commands/{rid}.md"] = with_front([*lines, "disable-model-invocation: true"], rule.body)
    for flow in package.workflows:
        head = "\n".join(["---", flow.front, "---", ""]) if flow.front.strip() else ""
        out[f".claude/commands/{rule_id(package, flow)}.md"] = text(head + ("\n" if head else "") + flow.body)
    return out
