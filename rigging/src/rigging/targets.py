"""What each agent tool reads, rendered from a package's rules and workflows.

| target   | rules                                             | workflows                          |
|----------|---------------------------------------------------|------------------------------------|
| windsurf | .windsurf/rules/ID.md (trigger/description/globs) | .windsurf/workflows/ID.md          |
| cursor   | .cursor/rules/ID.mdc (description/globs/alwaysApply) | .cursor/commands/ID.md          |
| copilot  | .github/instructions/ID.instructions.md (applyTo) | .github/prompts/ID.prompt.md       |
| claude   | a managed section of CLAUDE.md                    | .claude/commands/ID.md             |
| agents   | a managed section of AGENTS.md                    | (listed in the section)            |

ID is `namespace.name.file-stem`, so packages never share a file name; should two ever produce
the same path, install stops with an error naming both.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from rigging import limits
from rigging.errors import IntegrityError, RiggingError
from rigging.frontmatter import FrontmatterError, parse_frontmatter, split_globs
from rigging.managed_section import BEGIN, END, marker_line
from rigging.paths import path_problem


@dataclass
class Rule:
    stem: str
    trigger: str
    description: str
    globs: list[str]
    body: str


@dataclass
class Workflow:
    stem: str
    description: str
    body: str


@dataclass
class PackageContent:
    name: str
    version: str
    rules: list[Rule] = field(default_factory=list)
    workflows: list[Workflow] = field(default_factory=list)

    @property
    def ident(self) -> str:
        return self.name.replace("/", ".")


def read_content(blob: Path, name: str, version: str) -> PackageContent:
    """Rules and workflows from a content layer, read in memory with the same limits as unpacking."""
    import gzip
    import io
    import tarfile

    files: dict[str, str] = {}
    title: str | None = None
    total = 0
    try:
        with gzip.open(blob, "rb") as gz:
            data = gz.read(limits.MAX_TOTAL_BYTES * 2 + 1)
        if len(data) > limits.MAX_TOTAL_BYTES * 2:
            raise IntegrityError(f"{name} {version}: content layer expands past the package limit")
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            for member in tar:
                top, _, rel = member.name.partition("/")
                title = title or top
                if top != title or (rel and path_problem(rel) is not None):
                    raise IntegrityError(f"{name} {version}: content layer entry {member.name!r} is not safe")
                if member.isdir() or not rel:
                    continue
                if not member.isfile() or member.size > limits.MAX_FILE_BYTES:
                    raise IntegrityError(f"{name} {version}: content layer entry {member.name!r} refused")
                total += member.size
                if total > limits.MAX_TOTAL_BYTES:
                    raise IntegrityError(f"{name} {version}: content layer holds more than a package may")
                handle = tar.extractfile(member)
                files[rel] = handle.read().decode("utf-8") if handle else ""
    except (tarfile.TarError, OSError, EOFError, UnicodeDecodeError) as exc:
        raise IntegrityError(f"{name} {version}: content layer cannot be read ({exc})") from None
    manifest = json.loads(files.get("rigging.json", "{}"))
    content = PackageContent(name, version)
    for path in sorted(files):
        folder, _, file_name = path.partition("/")
        if folder not in ("rules", "workflows") or "/" in file_name or not file_name.endswith(".md"):
            continue
        if (line := marker_line(files[path])) is not None:
            raise RiggingError(
                f"{name} {version}: {path}:{line} holds rigging's managed-section marker, which would cut the "
                "section of CLAUDE.md and AGENTS.md; the package cannot be installed (its author must remove it)"
            )
        try:
            front = parse_frontmatter(files[path])
        except FrontmatterError as exc:
            raise RiggingError(f"{name} {version}: {path}:{exc.line}: {exc}") from None
        extra = (manifest.get(folder) or {}).get(path) or {}
        fields = {**extra, **front.fields}
        description = str(fields.get("description") or "")
        body = front.body.lstrip("\n")
        stem = file_name[: -len(".md")]
        if folder == "rules":
            globs = split_globs(fields["globs"]) if fields.get("globs") else []
            content.rules.append(Rule(stem, str(fields.get("trigger") or "manual"), description, globs, body))
        else:
            content.workflows.append(Workflow(stem, description, body))
    return content


def _front(fields: list[tuple[str, str]]) -> str:
    lines = ["---", *(f"{key}: {value}" if value != "" else f"{key}:" for key, value in fields), "---", ""]
    return "\n".join(lines)


def _quoted(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def render_files(package: PackageContent, targets: list[str]) -> dict[str, str]:
    """Every file `package` installs for `targets`: path -> text."""
    out: dict[str, str] = {}
    ident = package.ident
    for rule in package.rules:
        rid = f"{ident}.{rule.stem}"
        if "windsurf" in targets:
            fields = [("trigger", rule.trigger), ("description", rule.description)]
            if rule.globs:
                fields.append(("globs", ",".join(rule.globs)))
            out[f".windsurf/rules/{rid}.md"] = _front(fields) + "\n" + rule.body
        if "cursor" in targets:
            always = rule.trigger == "always_on"
            fields = [
                ("description", rule.description if rule.trigger in ("model_decision", "glob", "always_on") else ""),
                ("globs", ",".join(rule.globs) if rule.trigger == "glob" else ""),
                ("alwaysApply", "true" if always else "false"),
            ]
            out[f".cursor/rules/{rid}.mdc"] = _front(fields) + "\n" + rule.body
        if "copilot" in targets:
            fields = []
            if rule.trigger == "always_on":
                fields.append(("applyTo", _quoted("**")))
            elif rule.trigger == "glob":
                fields.append(("applyTo", _quoted(",".join(rule.globs))))
            if rule.description:
                fields.append(("description", _quoted(rule.description)))
            out[f".github/instructions/{rid}.instructions.md"] = _front(fields) + "\n" + rule.body
    for flow in package.workflows:
        wid = f"{ident}.{flow.stem}"
        if "windsurf" in targets:
            out[f".windsurf/workflows/{wid}.md"] = _front([("description", flow.description)]) + "\n" + flow.body
        if "cursor" in targets:
            out[f".cursor/commands/{wid}.md"] = flow.body
        if "copilot" in targets:
            out[f".github/prompts/{wid}.prompt.md"] = (
                _front([("description", _quoted(flow.description))]) + "\n" + flow.body
            )
        if "claude" in targets:
            out[f".claude/commands/{wid}.md"] = _front([("description", flow.description)]) + "\n" + flow.body
    return out


def _when(rule: Rule) -> str:
    if rule.trigger == "always_on":
        return "Always applies."
    if rule.trigger == "glob":
        return "Applies to files matching " + ", ".join(f"`{g}`" for g in rule.globs) + "."
    if rule.trigger == "model_decision":
        return f"Apply when: {rule.description}" if rule.description else "Apply when relevant."
    return "Apply only when asked for by name."


def render_section(packages: list[PackageContent], target: str) -> str:
    """The managed section of CLAUDE.md or AGENTS.md for these packages ('' when none contribute)."""
    parts: list[str] = []
    for package in sorted(packages, key=lambda p: p.name):
        if not package.rules and not (target == "agents" and package.workflows):
            continue
        parts.append(f"## {package.name} {package.version}\n")
        for rule in package.rules:
            parts.append(f"### {rule.stem}\n\n_{_when(rule)}_\n\n{rule.body.rstrip()}\n")
        if target == "agents" and package.workflows:
            parts.append("### Workflows\n")
            parts.extend(f"- **{flow.stem}**: {flow.description or 'see the package'}" for flow in package.workflows)
            parts.append("")
    if not parts:
        return ""
    return "\n".join([BEGIN, "", *parts, END])


def budget_warnings(files: dict[str, str]) -> list[str]:
    warnings = []
    for path, text in sorted(files.items()):
        if (
            path.startswith((".windsurf/rules/", ".windsurf/workflows/"))
            and len(text) > limits.WINDSURF_FILE_LIMIT_CHARS
        ):
            warnings.append(f"{path}: {len(text)} characters; Windsurf reads {limits.WINDSURF_FILE_LIMIT_CHARS}")
        if path.startswith(".github/instructions/") and len(text) > limits.COPILOT_FILE_LIMIT_CHARS:
            warnings.append(
                f"{path}: {len(text)} characters; Copilot code review reads {limits.COPILOT_FILE_LIMIT_CHARS}"
            )
    always = sum(
        len(text)
        for path, text in files.items()
        if path.startswith(".windsurf/rules/") and "trigger: always_on" in text
    )
    if always > limits.WINDSURF_TOTAL_LIMIT_CHARS:
        warnings.append(
            f".windsurf/rules: always-on rules hold {always} characters; Windsurf's total is "
            f"{limits.WINDSURF_TOTAL_LIMIT_CHARS}"
        )
    return warnings
