"""The managed sections of the files some agents always load: AGENTS.md (Codex, and Cursor,
Copilot, Windsurf, Cline and Kiro besides their own folders), GEMINI.md (Gemini CLI) and Junie's
guidelines. Only always-on rules are written into them in full; every other rule, and each
workflow, is a file under `.agents/` that the section names with its condition, so the agent
reads it when the condition holds and the always-loaded file stays small. Codex reads at most
32 KiB of the AGENTS.md chain (`project_doc_max_bytes`): always-on rules that would not fit are
linked too, with a warning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rigging.agents.content import PackageContent, Rule, Workflow, rule_id, when
from rigging.agents.output import Output, with_front
from rigging.globs import comma_list
from rigging.managed_section import BEGIN, END

SECTION_TARGETS = ("agents", "gemini", "junie")
AGENTS_MD_BUDGET = 32 * 1024  # Codex's project_doc_max_bytes, for the whole AGENTS.md
JUNIE_FILE, JUNIE_AGENTS_FILE = ".junie/guidelines.md", ".junie/AGENTS.md"
RULES_DIR, WORKFLOWS_DIR = ".agents/rules", ".agents/workflows"


def section_file(target: str, root: Path) -> str:
    if target == "agents":
        return "AGENTS.md"
    if target == "gemini":
        return "GEMINI.md"
    # .junie/guidelines.md is the file Junie's documentation names as its default; newer Junie
    # versions also read .junie/AGENTS.md, so a project that already has that one keeps using it.
    return JUNIE_AGENTS_FILE if (root / JUNIE_AGENTS_FILE).is_file() else JUNIE_FILE


@dataclass
class Sections:
    texts: dict[str, str] = field(default_factory=dict)  # managed file -> its section ('' for none)
    files: dict[str, Output] = field(default_factory=dict)  # the linked rule and workflow files
    owners: dict[str, str] = field(default_factory=dict)  # linked file -> package
    inlined: set[str] = field(default_factory=set)  # always-on rules written in full into AGENTS.md
    warnings: list[str] = field(default_factory=list)


def _linked_rule(rule: Rule) -> Output:
    lines = [f"trigger: {rule.trigger}", f"description: {rule.description}".rstrip()]
    if rule.globs:
        lines.append(f"globs: {comma_list(rule.globs)}")
    return with_front(lines, rule.body)


def _linked_workflow(flow: Workflow) -> Output:
    return with_front([f"description: {flow.description}".rstrip()], flow.body)


def _package_part(package: PackageContent, target: str, inline: set[str]) -> str:
    parts = [f"## {package.name} {package.version}\n"]
    linked = []
    for rule in package.rules:
        rid = rule_id(package, rule)
        if rid in inline:
            parts.append(f"### {rule.stem}\n\n{rule.body.rstrip()}\n")
        else:
            linked.append(f"- **{rule.stem}**: _{when(rule)}_ Read `{RULES_DIR}/{rid}.md`.")
    if linked:
        parts += ["### Other rules\n", "Read a rule's file when its condition holds.\n", *linked, ""]
    if package.workflows:
        parts.append("### Workflows\n")
        for flow in package.workflows:
            wid = rule_id(package, flow)
            how = f"run `/{wid}`" if target == "gemini" else f"steps in `{WORKFLOWS_DIR}/{wid}.md`"
            parts.append(f"- **{flow.stem}**: {flow.description or 'see the package'} ({how})")
        parts.append("")
    return "\n".join(parts)


def _section(parts: list[str]) -> str:
    return "\n".join([BEGIN, "", *parts, END]) if parts else ""


def render(packages: list[tuple[PackageContent, list[str]]], root: Path, outside_bytes: dict[str, int]) -> Sections:
    """Sections for every section target any package installs for; `outside_bytes` is how much of
    each managed file is the user's own text (it counts against AGENTS.md's budget)."""
    result = Sections()
    for target in SECTION_TARGETS:
        members = sorted((p for p, targets in packages if target in targets), key=lambda p: p.name)
        file_name = section_file(target, root)
        always = [(p, r) for p in members for r in p.rules if r.trigger == "always_on"]
        inline = {rule_id(p, r) for p, r in always}
        if target == "agents":
            budget = AGENTS_MD_BUDGET - outside_bytes.get(file_name, 0)
            while inline and len(_section([_package_part(p, target, inline) for p in members]).encode()) > budget:
                dropped = next(rid for rid in reversed([rule_id(p, r) for p, r in always]) if rid in inline)
                inline.discard(dropped)
            overflow = [rule_id(p, r) for p, r in always if rule_id(p, r) not in inline]
            if overflow:
                result.warnings.append(
                    f"AGENTS.md: Codex reads {AGENTS_MD_BUDGET} bytes of it; {len(overflow)} always-on rule(s) "
                    f"({', '.join(overflow[:3])}{'…' if len(overflow) > 3 else ''}) are linked instead of included"
                )
            result.inlined = set(inline)
        result.texts[file_name] = _section([_package_part(p, target, inline) for p in members])
        for package in members:
            for rule in package.rules:
                if rule_id(package, rule) not in inline:
                    path = f"{RULES_DIR}/{rule_id(package, rule)}.md"
                    result.files[path], result.owners[path] = _linked_rule(rule), package.name
            if target != "gemini":
                for flow in package.workflows:
                    path = f"{WORKFLOWS_DIR}/{rule_id(package, flow)}.md"
                    result.files[path], result.owners[path] = _linked_workflow(flow), package.name
    return result
