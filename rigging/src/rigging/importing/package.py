"""Findings written as a package folder: rules/, workflows/, skills/, rigging.json and a README
that says where each file came from."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from rigging.errors import RiggingError, UsageError
from rigging.importing.found import Findings, FoundRule, FoundWorkflow
from rigging.importing.sources import READERS, SKILL_FOLDERS, read_skills

AGENTS = (*READERS, "agents")  # what --from may name; `agents` is .agents/skills


@dataclass
class Imported:
    package: Path
    findings: Findings
    files: dict[str, str] = field(default_factory=dict)  # package path -> the agent file it came from

    def as_dict(self) -> dict[str, object]:
        return {
            "package": str(self.package),
            "files": [{"path": path, "source": source} for path, source in sorted(self.files.items())],
            "sources": self.findings.sources,
            "notes": self.findings.notes,
        }


def _managed(root: Path) -> set[str]:
    """Files a rigging install wrote (its packages' own, not the project's), from rigging.lock."""
    try:
        lock = json.loads((root / "rigging.lock").read_text(encoding="utf-8"))
        return {path for entry in lock["packages"].values() for path in entry.get("files", {})}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return set()


def find(root: Path, agents: list[str] | None = None) -> Findings:
    chosen = set(agents or AGENTS)
    found = Findings()
    skip = _managed(root)
    if skip:
        found.notes.append(f"rigging.lock: {len(skip)} files installed by rigging packages left out")
    for agent, reader in READERS.items():
        if agent in chosen:
            reader(root, found, skip)
    read_skills(root, found, skip, chosen)
    return found


def _unique(items: list[FoundRule] | list[FoundWorkflow], taken: set[str], notes: list[str]) -> list:
    """Items under stems no other item has; an item meaning what one already taken means is dropped."""
    kept: list = []
    by_stem: dict[str, FoundRule | FoundWorkflow] = {}
    for item in items:
        first = by_stem.get(item.stem)
        if first is not None and type(first) is type(item) and first.meaning() == item.meaning():
            notes.append(f"{item.source}: same as {first.source}, imported once")
            continue
        stem, number = item.stem, 1
        while stem in taken:
            number += 1
            agent = item.source.split("/")[0].lstrip(".") or "file"
            stem = f"{item.stem}-{agent}" if number == 2 else f"{item.stem}-{agent}-{number}"
        if stem != item.stem:
            notes.append(f"{item.source}: imported as {stem} ({item.stem} was taken by {by_stem[item.stem].source})")
        by_stem.setdefault(item.stem, item)
        item.stem = stem
        taken.add(stem)
        kept.append(item)
    return kept


def _rule_file(rule: FoundRule) -> str:
    lines = [f"trigger: {rule.trigger}"]
    if rule.description:
        lines.append(f"description: {rule.description}")
    if rule.globs:
        lines.append("globs: [" + ", ".join(json.dumps(glob) for glob in rule.globs) + "]")
    return "---\n" + "\n".join(lines) + "\n---\n\n" + rule.body


def _workflow_file(flow: FoundWorkflow) -> str:
    body = flow.body if flow.body.endswith("\n") else flow.body + "\n"
    return ("---\n" + flow.front + "\n---\n\n" + body) if flow.front.strip() else body


def _readme(name: str, description: str, files: dict[str, str]) -> str:
    rows = "\n".join(f"| `{path}` | `{source}` |" for path, source in sorted(files.items()))
    return (
        f"# {name}\n\n{description}\n\nImported with `rigging import`.\n\n"
        f"| package file | imported from |\n|---|---|\n{rows}\n\n"
        f"## Install\n\n```\nrigging add {name}\nrigging install\n```\n"
    )


def import_project(
    root: Path,
    out: Path,
    name: str,
    version: str = "0.1.0",
    description: str | None = None,
    agents: list[str] | None = None,
) -> Imported:
    from rigging.names import name_problem
    from rigging.scaffold import write_folder
    from rigging.version_syntax import is_semver

    if (reason := name_problem(name)) is not None:
        raise UsageError(f"--name {name!r} {reason} (use a lowercase namespace/name, e.g. acme/team-rules)")
    if not is_semver(version):
        raise UsageError(f"--version {version!r} is not strict SemVer 2.0 (e.g. 0.1.0)")
    unknown = sorted(set(agents or ()) - set(AGENTS))
    if unknown:
        raise UsageError(f"--from {','.join(unknown)}: not an agent rigging imports from (use {', '.join(AGENTS)})")
    if not root.is_dir():
        raise UsageError(f"{root}: no such folder; give the repository to import from")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise RiggingError(f"{out}: already exists and is not empty; choose a new folder for the package")

    found = find(root, agents)
    if not (found.rules or found.workflows or found.skills):
        looked = ", ".join(
            [".windsurf/", ".cursor/", ".github/", ".claude/", ".clinerules", ".kiro/", ".gemini/", *SKILL_FOLDERS]
        )
        raise RiggingError(f"{root}: no agent rules, workflows or skills to import (looked in {looked})")

    taken: set[str] = set()
    found.rules = _unique(found.rules, taken, found.notes)
    found.workflows = _unique(found.workflows, taken, found.notes)
    result = Imported(out, found)
    files: dict[str, bytes] = {}
    executable: set[str] = set()
    for rule in found.rules:
        files[f"rules/{rule.stem}.md"] = _rule_file(rule).encode()
        result.files[f"rules/{rule.stem}.md"] = rule.source
    for flow in found.workflows:
        files[f"workflows/{flow.stem}.md"] = _workflow_file(flow).encode()
        result.files[f"workflows/{flow.stem}.md"] = flow.source
    for skill in found.skills:
        for rel, (data, is_executable) in skill.files.items():
            files[f"skills/{skill.name}/{rel}"] = data
            if is_executable:
                executable.add(f"skills/{skill.name}/{rel}")
        result.files[f"skills/{skill.name}/"] = skill.source + "/"
    description = description or f"Agent rules, workflows and skills imported from {root.resolve().name}."
    manifest = {"name": name, "version": version, "description": description}
    files["rigging.json"] = (json.dumps(manifest, indent=2) + "\n").encode()
    files["README.md"] = _readme(name, description, result.files).encode()
    write_folder(out, files, frozenset(executable))
    return result
