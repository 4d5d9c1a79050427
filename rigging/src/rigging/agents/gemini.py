"""Gemini CLI: rules reach it through GEMINI.md (see always_loaded); workflows are TOML commands
`.gemini/commands/ID.toml` with `description` and `prompt`, where `{{args}}` stands for what the
user typed after `/ID` (Claude-style `$ARGUMENTS` is translated)."""

from __future__ import annotations

from rigging.agents.content import PackageContent, rule_id
from rigging.agents.output import Output, quoted, text


def render(package: PackageContent, skip: set[str]) -> dict[str, Output]:
    out: dict[str, Output] = {}
    for flow in package.workflows:
        prompt = flow.body.replace("$ARGUMENTS", "{{args}}")
        lines = [f"description = {quoted(flow.description)}", f"prompt = {quoted(prompt)}", ""]
        out[f".gemini/commands/{rule_id(package, flow)}.toml"] = text("\n".join(lines))
    return out
