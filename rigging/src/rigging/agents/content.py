"""A package's content layer, read in memory for install: rules, workflows and skills.

The layer is untrusted: the same limits as unpacking apply (sizes, safe paths, regular files
only), and the executable bit of a skill's file is the only mode kept.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rigging import limits
from rigging.errors import IntegrityError, RiggingError
from rigging.frontmatter import FrontmatterError, parse_frontmatter, split_globs
from rigging.managed_section import marker_line
from rigging.paths import path_problem

TRIGGERS = ("always_on", "glob", "model_decision", "manual")


@dataclass
class Rule:
    stem: str
    trigger: str  # one of TRIGGERS
    description: str
    globs: list[str]
    body: str


@dataclass
class Workflow:
    stem: str
    description: str
    body: str
    fields: dict[str, str | list[str]] = field(default_factory=dict)  # every frontmatter key
    front: str = ""  # the frontmatter lines as written (between the '---' lines), for agents that share its keys


@dataclass
class SkillFile:
    path: str  # inside the skill's folder, e.g. SKILL.md or scripts/run.sh
    data: bytes
    executable: bool = False


@dataclass
class Skill:
    name: str
    description: str
    files: list[SkillFile] = field(default_factory=list)


@dataclass
class PackageContent:
    name: str
    version: str
    targets: list[str] | None = None  # the package's own `targets`, or None for every agent
    rules: list[Rule] = field(default_factory=list)
    workflows: list[Workflow] = field(default_factory=list)
    skills: list[Skill] = field(default_factory=list)

    @property
    def ident(self) -> str:
        return self.name.replace("/", ".")


def layer_files(blob: Path, where: str) -> dict[str, tuple[bytes, bool]]:
    """path inside the package -> (bytes, executable), with unpacking's limits."""
    import gzip
    import io
    import tarfile

    files: dict[str, tuple[bytes, bool]] = {}
    title: str | None = None
    total = 0
    try:
        with gzip.open(blob, "rb") as gz:
            data = gz.read(limits.MAX_TOTAL_BYTES * 2 + 1)
        if len(data) > limits.MAX_TOTAL_BYTES * 2:
            raise IntegrityError(f"{where}: content layer expands past the package limit")
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            for member in tar:
                top, _, rel = member.name.partition("/")
                title = title or top
                if top != title or (rel and path_problem(rel) is not None):
                    raise IntegrityError(f"{where}: content layer entry {member.name!r} is not safe")
                if member.isdir() or not rel:
                    continue
                if not member.isfile() or member.size > limits.MAX_FILE_BYTES:
                    raise IntegrityError(f"{where}: content layer entry {member.name!r} refused")
                total += member.size
                if total > limits.MAX_TOTAL_BYTES or len(files) >= limits.MAX_FILES:
                    raise IntegrityError(f"{where}: content layer holds more than a package may")
                handle = tar.extractfile(member)
                files[rel] = (handle.read() if handle else b"", bool(member.mode & 0o100))
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise IntegrityError(f"{where}: content layer cannot be read ({exc})") from None
    return files


def _text(files: dict[str, tuple[bytes, bool]], path: str, where: str) -> str:
    try:
        text = files[path][0].decode("utf-8")
    except UnicodeDecodeError:
        raise IntegrityError(f"{where}: {path} is not UTF-8 text") from None
    if (line := marker_line(text)) is not None:
        raise RiggingError(
            f"{where}: {path}:{line} holds rigging's managed-section marker, which would cut the section of "
            "CLAUDE.md and AGENTS.md; the package cannot be installed (its author must remove it)"
        )
    return text


def _front_lines(text: str) -> str:
    lines = text.split("\n")
    if lines[0].rstrip("\r") != "---":
        return ""
    end = next((i for i in range(1, len(lines)) if lines[i].rstrip("\r") == "---"), 0)
    return "\n".join(lines[1:end])


def read_content(blob: Path, name: str, version: str) -> PackageContent:
    """Rules, workflows and skills from a content layer."""
    where = f"{name} {version}"
    files = layer_files(blob, where)
    try:
        manifest = json.loads(files["rigging.json"][0]) if "rigging.json" in files else {}
    except ValueError:
        raise IntegrityError(f"{where}: the content layer's rigging.json is not JSON") from None
    if not isinstance(manifest, dict):
        manifest = {}
    targets = manifest.get("targets")
    content = PackageContent(name, version, [str(t) for t in targets] if isinstance(targets, list) else None)
    for path in sorted(files):
        folder, _, file_name = path.partition("/")
        if folder not in ("rules", "workflows") or "/" in file_name or not file_name.endswith(".md"):
            continue
        text = _text(files, path, where)
        try:
            front = parse_frontmatter(text)
        except FrontmatterError as exc:
            raise RiggingError(f"{where}: {path}:{exc.line}: {exc}") from None
        extra = (manifest.get(folder) or {}).get(path) or {}
        fields = {**extra, **front.fields} if isinstance(extra, dict) else dict(front.fields)
        description = str(fields.get("description") or "")
        body = front.body.lstrip("\n")
        stem = file_name[: -len(".md")]
        if folder == "rules":
            globs = split_globs(fields["globs"]) if fields.get("globs") else []
            trigger = str(fields.get("trigger") or "manual")
            content.rules.append(Rule(stem, trigger if trigger in TRIGGERS else "manual", description, globs, body))
        else:
            content.workflows.append(Workflow(stem, description, body, fields, _front_lines(text)))
    content.skills = _skills(files, where)
    return content


def _skills(files: dict[str, tuple[bytes, bool]], where: str) -> list[Skill]:
    by_name: dict[str, list[SkillFile]] = {}
    for path in sorted(files):
        top, _, rest = path.partition("/")
        if top != "skills" or "/" not in rest:
            continue
        skill, _, inner = rest.partition("/")
        data, executable = files[path]
        by_name.setdefault(skill, []).append(SkillFile(inner, data, executable))
    skills = []
    for skill_name, skill_files in sorted(by_name.items()):
        if not any(f.path == "SKILL.md" for f in skill_files):
            raise IntegrityError(f"{where}: skills/{skill_name} has no SKILL.md")
        text = _text(files, f"skills/{skill_name}/SKILL.md", where)
        from rigging.skill_md import check_skill_md  # YAML, read only for packages that hold skills

        # SKILL.md is copied byte for byte; its description is read for the listing budget only
        description = check_skill_md(f"skills/{skill_name}/SKILL.md", skill_name, text).description
        skills.append(Skill(skill_name, description or "", skill_files))
    return skills


def rule_id(package: PackageContent, rule: Rule | Workflow) -> str:
    """`namespace.name.stem`: a file name no other package can produce."""
    return f"{package.ident}.{rule.stem}"


def rules_to_write(package: PackageContent, skip: set[str]) -> Iterator[tuple[str, Rule]]:
    """(ID, rule) for each rule not already written in full elsewhere (`skip`: AGENTS.md's)."""
    for rule in package.rules:
        if (rid := rule_id(package, rule)) not in skip:
            yield rid, rule


def skill_id(package: PackageContent, rule: Rule) -> str:
    """An Agent Skills name for a rule installed as a skill (a-z, 0-9, single '-', at most 64)."""
    import hashlib
    import re

    name = re.sub(r"[^a-z0-9]+", "-", rule_id(package, rule).lower()).strip("-")
    if len(name) > 64:
        name = name[:55].rstrip("-") + "-" + hashlib.sha256(name.encode()).hexdigest()[:8]
    return name


def when(rule: Rule) -> str:
    """When a rule applies, in words, for agents that read it from a file without frontmatter."""
    if rule.trigger == "always_on":
        return "Always applies."
    if rule.trigger == "glob":
        return "Applies to files matching " + ", ".join(f"`{g}`" for g in rule.globs) + "."
    if rule.trigger == "model_decision":
        return f"Apply when: {rule.description}" if rule.description else "Apply when relevant."
    return "Apply only when asked for by name."
