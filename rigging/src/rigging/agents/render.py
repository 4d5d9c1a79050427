"""Everything install writes for a set of packages: each agent's own files, the skill copies, and
the managed sections of the always-loaded files."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rigging.agents import always_loaded, claude, cline, copilot, cursor, gemini, kiro, skills, windsurf
from rigging.agents.content import PackageContent
from rigging.agents.output import Output
from rigging.errors import RiggingError

NATIVE: dict[str, Callable[[PackageContent, set[str]], dict[str, Output]]] = {
    "windsurf": windsurf.render,
    "cursor": cursor.render,
    "copilot": copilot.render,
    "claude": claude.render,
    "cline": cline.render,
    "kiro": kiro.render,
    "gemini": gemini.render,
}
# Agents that load the project's AGENTS.md themselves: an always-on rule written there in full is
# not written into their own rule folders too, where it would be loaded a second time.
READS_AGENTS_MD = ("windsurf", "cursor", "copilot", "cline", "kiro")


@dataclass
class Rendered:
    files: dict[str, Output] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)  # path -> package
    sections: dict[str, str] = field(default_factory=dict)  # managed file -> section text
    warnings: list[str] = field(default_factory=list)
    skill_descriptions: dict[str, str] = field(default_factory=dict)  # installed, model-invocable skills


def package_targets(package: PackageContent, targets: list[str]) -> list[str]:
    """The project's targets, limited to the agents the package says it supports."""
    return [t for t in targets if package.targets is None or t in package.targets]


def _add(result: Rendered, owner: str, files: dict[str, Output]) -> None:
    for path, output in files.items():
        previous = result.owners.get(path)
        if previous is not None and (previous != owner or result.files[path] != output):
            if "/skills/" in path:
                skill = path.split("/skills/", 1)[1].split("/", 1)[0]
                raise RiggingError(
                    f"{previous} and {owner} both install the skill {skill!r}; rename one in rigging.json, "
                    f'e.g. "renameSkills": {{"{owner}/{skill}": "{owner.split("/")[1]}-{skill}"}}'
                )
            raise RiggingError(f"{previous} and {owner} both install {path}; they cannot be used together")
        result.files[path], result.owners[path] = output, owner


def render(
    contents: list[PackageContent], targets: list[str], renames: dict[str, str], root: Path, outside: dict[str, int]
) -> Rendered:
    result = Rendered()
    chosen = [(package, package_targets(package, targets)) for package in contents]
    from rigging.globs import glob_warnings

    for package, mine in chosen:
        for rule in package.rules:
            for target, why in glob_warnings(rule.globs, mine):
                result.warnings.append(f"{package.name}: rules/{rule.stem}.md: {why} (for {target})")
        if not mine:
            result.warnings.append(
                f"{package.name} supports only {', '.join(package.targets or [])}, none of this project's agents; "
                "it installs no files"
            )
    sections = always_loaded.render(chosen, root, outside)
    result.sections, result.warnings = sections.texts, result.warnings + sections.warnings
    for path, output in sections.files.items():
        _add(result, sections.owners[path], {path: output})
    for package, mine in chosen:
        skip = sections.inlined if "agents" in mine else set()
        for target in mine:
            if target in NATIVE:
                _add(result, package.name, NATIVE[target](package, skip if target in READS_AGENTS_MD else set()))
        _add(result, package.name, skills.render(package, mine, renames))
        for skill in package.skills:
            if b"disable-model-invocation: true" not in next(f.data for f in skill.files if f.path == "SKILL.md"):
                result.skill_descriptions[skills.installed_name(package, skill, renames)] = skill.description
    from rigging.agents import budgets

    result.warnings += budgets.warnings(result.files, result.skill_descriptions)
    return result
