"""`rigging validate`: every rule a package must meet before it is packed."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rigging import limits
from rigging.frontmatter import FrontmatterError, parse_frontmatter
from rigging.globs import glob_warnings, parse_globs
from rigging.managed_section import marker_line
from rigging.names import name_problem
from rigging.package_files import MANIFEST_FILE, SKILL_FILE, SKILLS_FOLDER, PackageFile, scan_package, skill_of
from rigging.paths import path_problem
from rigging.problems import CODES, Problem, json_key_line
from rigging.versions import is_semver

TRIGGERS = ("always_on", "manual", "model_decision", "glob")
_RULE_KEYS = {"trigger", "description", "globs"}
# Workflows keep the keys agents document for commands and prompt files (Claude Code, Copilot).
_WORKFLOW_KEYS = {
    "description",
    "argument-hint",
    "allowed-tools",
    "model",
    "disable-model-invocation",
    "name",
    "agent",
    "tools",
    "mode",
}
ALL_TARGETS = ("windsurf", "cursor", "copilot", "claude", "agents", "gemini", "cline", "kiro", "junie")
# How much of a file we look into for a NUL byte, git's test for "binary".
_BINARY_PROBE_BYTES = 8000


@dataclass
class Document:
    """A package file read as text, with its frontmatter once parsed."""

    file: PackageFile
    text: str
    fields: dict[str, str | list[str]] = field(default_factory=dict)
    field_lines: dict[str, int] = field(default_factory=dict)


@dataclass
class ValidationReport:
    root: Path
    manifest: dict[str, Any] | None = None
    manifest_bytes: bytes | None = None
    files: list[PackageFile] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    # {"name", "description"} of each skill, sorted by name: the config's `skills` (pack writes it)
    skills: list[dict[str, Any]] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def valid(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict[str, object]:
        manifest = self.manifest or {}
        return {
            "valid": self.valid,
            "path": str(self.root),
            "name": manifest.get("name"),
            "version": manifest.get("version"),
            "files": [f.path for f in self.files],
            "skills": self.skills,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "problems": [p.as_dict() for p in self.problems],
        }


def validate_package(root: Path) -> ValidationReport:
    report = ValidationReport(root=root)
    files, problems = scan_package(root)
    report.files = files
    report.problems.extend(problems)
    documents = _read_texts(root, files, report.problems)
    manifest_text = _check_manifest(root, files, documents, report)
    manifest = report.manifest if isinstance(report.manifest, dict) else {}
    _check_metadata_paths(manifest, manifest_text, files, report.problems)
    _check_frontmatter(documents, manifest, report.problems)
    _check_skills(root, files, documents, report)
    _check_listed_skills(manifest, manifest_text, report)
    _check_budgets(documents, manifest, report.problems)
    if not any(f.kind in ("rule", "workflow", "skill") for f in files):
        report.problems.append(Problem("RIG306", "the package has no rules, workflows or skills"))
    report.problems.sort(key=lambda p: (p.severity != "error", p.file or "", p.line or 0, p.code))
    return report


def _read_texts(root: Path, files: list[PackageFile], problems: list[Problem]) -> dict[str, Document]:
    documents: dict[str, Document] = {}
    for f in files:
        try:
            data = (root / f.path).read_bytes()
        except OSError as exc:
            problems.append(Problem("RIG212", f"cannot read: {exc.strerror}", f.path))
            continue
        if (nul := data.find(b"\0", 0, _BINARY_PROBE_BYTES)) >= 0:
            line = data[:nul].count(b"\n") + 1
            problems.append(Problem("RIG213", f"is binary (a NUL byte at offset {nul})", f.path, line))
            continue
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            problems.append(Problem("RIG207", f"is not UTF-8 (byte {exc.start})", f.path, line))
            continue
        documents[f.path] = Document(f, text)
    return documents


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _DuplicateKeyError(key)
        seen[key] = value
    return seen


class _DuplicateKeyError(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _check_manifest(
    root: Path, files: list[PackageFile], documents: dict[str, Document], report: ValidationReport
) -> str:
    if not any(f.path == MANIFEST_FILE for f in files):
        if not (root / MANIFEST_FILE).is_symlink():
            report.problems.append(Problem("RIG101", "no rigging.json in the package folder"))
        return ""
    document = documents.get(MANIFEST_FILE)
    if document is None:  # unreadable or not UTF-8: already reported
        return ""
    text = document.text
    try:
        manifest = json.loads(text, object_pairs_hook=_reject_duplicates)
    except _DuplicateKeyError as exc:
        line = json_key_line(text, [exc.key], last=True)
        report.problems.append(Problem("RIG106", f"key {exc.key!r} appears twice", MANIFEST_FILE, line))
        return text
    except json.JSONDecodeError as exc:
        report.problems.append(
            Problem(
                "RIG102",
                f"is not valid JSON: {exc.msg} (column {exc.colno})",
                MANIFEST_FILE,
                exc.lineno,
            )
        )
        return text
    report.manifest = manifest
    report.manifest_bytes = text.encode("utf-8")
    if not isinstance(manifest, dict):
        report.problems.append(Problem("RIG103", "must be a JSON object", MANIFEST_FILE, 1))
        return text
    from rigging.schema import schema_errors

    for error in schema_errors(manifest):
        report.problems.extend(_schema_problems(error, manifest, text))
    # The schema's pattern and our regex must agree; this catches a drift between them.
    version = manifest.get("version")
    if isinstance(version, str) and not is_semver(version) and not any(p.code == "RIG104" for p in report.problems):
        message = f"version {version!r} is not strict SemVer 2.0"
        report.problems.append(Problem("RIG104", message, MANIFEST_FILE, json_key_line(text, ["version"])))
    return text


# What a value with a `pattern` in the schema must look like, said in words rather than as the pattern.
_FORMS = {
    "keywords": "a keyword (lowercase letters, digits and '-', at most 40 characters)",
    "license": "an SPDX license expression such as MIT or Apache-2.0 OR MIT",
    "homepage": "an http:// or https:// URL",
    "repository": "an https://, http://, git:// or ssh:// URL, or git@HOST:PATH",
    "skills": "a skill name (1-64 lowercase letters, digits and single '-')",
}


def _schema_problems(error: Any, manifest: dict[str, Any], text: str) -> list[Problem]:
    """One schema error as problems a person can act on: the key's own line, no regular expressions,
    and for an unknown key the one it is likely a slip for."""
    path = list(error.absolute_path)
    where = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)
    if error.validator in ("oneOf", "anyOf") and error.context:
        # Only the alternatives of the value's own type say anything useful: an object that fails
        # the object form is not helped by "is not a string".
        branches: dict[Any, list[Any]] = {}
        for sub in error.context:
            branches.setdefault(sub.relative_schema_path[0], []).append(sub)
        fitting = [b for b in branches.values() if not any(e.validator == "type" and not e.path for e in b)]
        if len(fitting) == 1:
            return [p for sub in fitting[0] for p in _schema_problems(sub, manifest, text)]
        kinds = [e.validator_value for b in branches.values() for e in b if e.validator == "type" and not e.path]
        if len(kinds) == len(branches):
            line = json_key_line(text, path)
            shown = " or ".join(f"a {k}" if k != "object" else "an object" for k in kinds)
            return [Problem("RIG103", f"{where}: {error.instance!r} must be {shown}", MANIFEST_FILE, line)]
    if path == ["version"] and isinstance(manifest.get("version"), str):
        message = f"version {manifest['version']!r} is not strict SemVer 2.0"
        return [Problem("RIG104", message, MANIFEST_FILE, json_key_line(text, path))]
    if path == ["name"] and isinstance(manifest.get("name"), str):
        reason = name_problem(manifest["name"]) or "is not a valid package name"
        return [Problem("RIG105", f"name {manifest['name']!r} {reason}", MANIFEST_FILE, json_key_line(text, path))]
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        from rigging.names import closest

        known = list((error.schema.get("properties") or {}).keys())
        problems = []
        for key in error.instance:
            if key in known:
                continue
            guess = closest(key, known)
            hint = f"did you mean {guess!r}?" if guess else f"the keys here are {', '.join(known)}"
            line = json_key_line(text, [*path, key])
            inside = f"{where}: " if path else ""
            problems.append(Problem("RIG103", f"{inside}unknown key {key!r}", MANIFEST_FILE, line, hint=hint))
        return problems
    if path == ["dependencies"] and isinstance(error.instance, str):  # a key the propertyNames rule refused
        name = error.instance
        line = json_key_line(text, [*path, name])
        from rigging.names import name_in_reference

        if (alone := name_in_reference(name)) is not None:
            message = f"dependency {name!r} is a full reference"
            hint = f"write namespace/name ({alone!r}); the consumer's registry settings say where it comes from"
            return [Problem("RIG103", message, MANIFEST_FILE, line, hint=hint)]
        reason = name_problem(name) or "is not a package name"
        return [Problem("RIG103", f"dependency {name!r} {reason}", MANIFEST_FILE, line, hint=CODES["RIG105"][1])]
    line = json_key_line(text, path)
    if error.validator == "pattern":
        form = next((_FORMS[p] for p in reversed(path) if isinstance(p, str) and p in _FORMS), None)
        form = form or "in the form the rigging.json schema gives for it"
        return [Problem("RIG103", f"{where}: {error.instance!r} is not {form}", MANIFEST_FILE, line)]
    return [Problem("RIG103", f"{where}: {error.message}", MANIFEST_FILE, line)]


def _check_metadata_paths(
    manifest: dict[str, Any], text: str, files: list[PackageFile], problems: list[Problem]
) -> None:
    present = {f.path for f in files}
    for section in ("rules", "workflows"):
        entries = manifest.get(section)
        if not isinstance(entries, dict):
            continue
        for path in entries:
            line = json_key_line(text, [section, path])
            kind = path_problem(path)
            if kind == "absolute":
                problems.append(
                    Problem(
                        "RIG205",
                        f"{section} entry {path!r} is an absolute path",
                        MANIFEST_FILE,
                        line,
                    )
                )
            elif kind == "traversal":
                problems.append(
                    Problem(
                        "RIG204",
                        f"{section} entry {path!r} leaves the package",
                        MANIFEST_FILE,
                        line,
                    )
                )
            elif kind == "invalid":
                problems.append(
                    Problem(
                        "RIG211",
                        f"{section} entry {path!r} is not a plain path",
                        MANIFEST_FILE,
                        line,
                    )
                )
            elif path not in present or not path.startswith(section + "/"):
                problems.append(
                    Problem(
                        "RIG107",
                        f"{section} entry {path!r} names no {section[:-1]} file",
                        MANIFEST_FILE,
                        line,
                    )
                )


def _check_frontmatter(documents: dict[str, Document], manifest: dict[str, Any], problems: list[Problem]) -> None:
    for path, doc in documents.items():
        if doc.file.kind not in ("rule", "workflow"):
            continue
        try:
            front = parse_frontmatter(doc.text)
        except FrontmatterError as exc:
            problems.append(Problem("RIG301", str(exc), path, exc.line))
            continue
        section = "rules" if doc.file.kind == "rule" else "workflows"
        extra = manifest.get(section, {}) if isinstance(manifest.get(section), dict) else {}
        meta = extra.get(path) if isinstance(extra.get(path), dict) else {}
        doc.fields = {**meta, **front.fields}
        doc.field_lines = front.lines
        allowed = _RULE_KEYS if doc.file.kind == "rule" else _WORKFLOW_KEYS
        for key in front.fields:
            if key not in allowed:
                problems.append(
                    Problem(
                        "RIG304",
                        f"unknown frontmatter key {key!r} in a {doc.file.kind}",
                        path,
                        front.lines.get(key),
                    )
                )
        if doc.file.kind == "rule":
            _check_trigger(path, doc, problems)
            _check_globs(path, doc, _targets(manifest), problems)
        if (line := marker_line(doc.text)) is not None:
            problems.append(Problem("RIG307", "holds rigging's managed-section marker", path, line))


def _check_trigger(path: str, doc: Document, problems: list[Problem]) -> None:
    trigger = doc.fields.get("trigger")
    line = doc.field_lines.get("trigger")
    if trigger is None or trigger == "":
        problems.append(Problem("RIG305", "rule has no trigger", path, 1))
        return
    if not isinstance(trigger, str) or trigger not in TRIGGERS:
        problems.append(Problem("RIG302", f"unknown trigger {trigger!r}", path, line))
        return
    if trigger == "glob":
        globs = doc.fields.get("globs")
        if not globs or not parse_globs(globs):
            problems.append(Problem("RIG303", "trigger 'glob' needs globs", path, line))


def _targets(manifest: dict[str, Any]) -> list[str]:
    """The package's own targets; a package that names none supports every agent."""
    targets = manifest.get("targets")
    if not isinstance(targets, list) or not targets:
        return list(ALL_TARGETS)
    return [t for t in targets if isinstance(t, str)]


def _check_globs(path: str, doc: Document, targets: list[str], problems: list[Problem]) -> None:
    globs = doc.fields.get("globs")
    if not globs:
        return
    line = doc.field_lines.get("globs")
    for _target, why in glob_warnings(parse_globs(globs), targets):
        problems.append(Problem("RIG405", why, path, line))


def _skill_folders(root: Path, files: list[PackageFile]) -> list[str]:
    """Every folder under skills/, those holding no file at all included (they lack SKILL.md too)."""
    names = {name for f in files if (name := skill_of(f.path)) is not None}
    try:
        with os.scandir(root / SKILLS_FOLDER) as entries:
            for entry in entries:
                if not entry.name.startswith(".") and entry.is_dir(follow_symlinks=False):
                    names.add(entry.name)
    except OSError:  # no skills/ folder, or one that is not a folder (the scan reported it)
        pass
    return sorted(names)


def _check_skills(
    root: Path, files: list[PackageFile], documents: dict[str, Document], report: ValidationReport
) -> None:
    present = {f.path for f in files}
    for folder in _skill_folders(root, files):
        path = f"{SKILLS_FOLDER}/{folder}/{SKILL_FILE}"
        if path not in present:
            if any(p.file == path for p in report.problems):
                continue  # there, but refused by the scan (a link, too big, …): already reported
            near = next((p for p in present if p.lower() == path.lower()), None)
            also = f" (found {near.rsplit('/', 1)[1]}: the name is SKILL.md, in capitals)" if near else ""
            report.problems.append(
                Problem("RIG501", f"skill folder has no {SKILL_FILE}{also}", f"{SKILLS_FOLDER}/{folder}")
            )
            continue
        document = documents.get(path)
        if document is None:  # unreadable, binary or not UTF-8: already reported
            continue
        from rigging.skill_md import check_skill_md, summary

        check = check_skill_md(path, folder, document.text)
        report.problems.extend(check.problems)
        if (line := marker_line(document.text)) is not None:
            report.problems.append(Problem("RIG307", "holds rigging's managed-section marker", path, line))
        if (entry := summary(check)) is not None:
            report.skills.append(entry)
    report.skills.sort(key=lambda entry: entry["name"])
    from rigging.agents.budgets import SKILL_LISTING_BUDGET

    listing = sum(len(str(entry["name"])) + len(str(entry.get("description", ""))) for entry in report.skills)
    if listing > SKILL_LISTING_BUDGET:
        report.problems.append(
            Problem(
                "RIG512",
                f"the {len(report.skills)} skills' names and descriptions hold {listing} characters; Claude Code "
                f"and Codex list about {SKILL_LISTING_BUDGET} across every skill a project has",
                SKILLS_FOLDER,
            )
        )


def _check_listed_skills(manifest: dict[str, Any], text: str, report: ValidationReport) -> None:
    """A hand-written `skills` in rigging.json must say what pack would write; pack computes it anyway."""
    listed = manifest.get("skills")
    if listed is None or any(p.severity == "error" and p.code.startswith("RIG5") for p in report.problems):
        return  # nothing written, or a skill is invalid (reported): no list to compare it with yet
    if listed != report.skills:
        names = [entry.get("name") for entry in listed if isinstance(entry, dict)] if isinstance(listed, list) else []
        actual = [entry["name"] for entry in report.skills]
        why = (
            f"names {names}, the package holds {actual}" if names != actual else "its descriptions differ from SKILL.md"
        )
        line = json_key_line(text, ["skills"])
        report.problems.append(
            Problem("RIG508", f'"skills" does not match the skill folders: it {why}', MANIFEST_FILE, line)
        )


def _check_budgets(documents: dict[str, Document], manifest: dict[str, Any], problems: list[Problem]) -> None:
    targets = _targets(manifest)
    docs_chars = sum(len(d.text) for d in documents.values() if d.file.kind == "doc")
    if docs_chars > limits.DOCS_SOFT_LIMIT_CHARS:
        problems.append(
            Problem(
                "RIG401",
                f"docs/ holds {docs_chars} characters; the soft limit is {limits.DOCS_SOFT_LIMIT_CHARS}",
                "docs",
            )
        )
    rules = [d for d in documents.values() if d.file.kind == "rule"]
    if "windsurf" in targets:
        for d in documents.values():
            if d.file.kind in ("rule", "workflow") and len(d.text) > limits.WINDSURF_FILE_LIMIT_CHARS:
                problems.append(
                    Problem(
                        "RIG402",
                        f"{len(d.text)} characters; Windsurf's limit per {d.file.kind} "
                        f"is {limits.WINDSURF_FILE_LIMIT_CHARS}",
                        d.file.path,
                    )
                )
        total = sum(len(d.text) for d in rules if d.fields.get("trigger") == "always_on")
        if total > limits.WINDSURF_TOTAL_LIMIT_CHARS:
            problems.append(
                Problem(
                    "RIG403",
                    f"always-on rules hold {total} characters; Windsurf's total is {limits.WINDSURF_TOTAL_LIMIT_CHARS}",
                    "rules",
                )
            )
    if "copilot" in targets:
        for d in rules:
            if len(d.text) > limits.COPILOT_FILE_LIMIT_CHARS:
                problems.append(
                    Problem(
                        "RIG404",
                        f"{len(d.text)} characters; Copilot reads the first {limits.COPILOT_FILE_LIMIT_CHARS}",
                        d.file.path,
                    )
                )
