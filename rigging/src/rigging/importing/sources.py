"""Readers for each agent's own files, mapping its frontmatter back to a rule's trigger, globs
and description (the inverse of rigging.agents.*).

Each agent spells "when does this apply" its own way:

| agent    | always               | for some files            | model picks by description | only when asked      |
|----------|----------------------|---------------------------|----------------------------|----------------------|
| windsurf | trigger: always_on   | trigger: glob, globs      | trigger: model_decision    | trigger: manual      |
| cursor   | alwaysApply: true    | globs                     | description only           | none of them         |
| copilot  | applyTo: "**"        | applyTo                   | description, no applyTo    | neither              |
| claude   | rules/, no paths     | rules/, paths             | (a skill)                  | (a command)          |
| cline    | no paths             | paths                     | (none)                     | (a workflow)         |
| kiro     | inclusion: always    | fileMatch, fileMatchPattern | auto, description        | manual               |
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

from rigging import limits
from rigging.frontmatter import FrontmatterError, parse_frontmatter
from rigging.globs import parse_globs
from rigging.importing.found import Findings, FoundRule, FoundSkill, FoundWorkflow

_UNSAFE_STEM = re.compile(r"[^A-Za-z0-9._-]+")
# Copilot's "applies to every file"
_EVERYTHING = {"**", "**/*", "*"}


def _stem(rel: str, suffix: str) -> str:
    """A file name for the package from the path under the agent's folder (`a/b.mdc` -> `a-b`)."""
    base = rel[: -len(suffix)] if suffix and rel.endswith(suffix) else rel
    return _UNSAFE_STEM.sub("-", base.replace("/", "-")).strip("-.") or "rule"


def _texts(root: Path, folder: str, suffix: str, found: Findings, skip: set[str]) -> Iterator[tuple[str, str, str]]:
    """(project path, path under folder, text) of each file ending in `suffix` under `folder`."""
    base = root / folder
    if not base.is_dir() or base.is_symlink():
        return
    for path in sorted(base.rglob(f"*{suffix}")):
        rel = path.relative_to(root).as_posix()
        if rel in skip or not path.name.endswith(suffix):
            continue
        text = _read(path, rel, found)
        if text is not None:
            yield rel, path.relative_to(base).as_posix(), text


def _read(path: Path, rel: str, found: Findings) -> str | None:
    if path.is_symlink() or not path.is_file():
        found.notes.append(f"{rel}: left out: not a regular file (a package holds copies, not links)")
        return None
    if path.stat().st_size > limits.MAX_FILE_BYTES:
        found.notes.append(f"{rel}: left out: larger than a package file may be ({limits.MAX_FILE_BYTES} bytes)")
        return None
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        found.notes.append(f"{rel}: left out: not UTF-8 text")
        return None


def _front(rel: str, text: str, found: Findings):  # noqa: ANN202 - Frontmatter | None
    try:
        return parse_frontmatter(text)
    except FrontmatterError as exc:
        found.notes.append(f"{rel}:{exc.line}: left out: {exc} (rigging carries 'key: value' frontmatter)")
        return None


def _front_text(text: str) -> str:
    lines = text.split("\n")
    if lines[0].rstrip("\r") != "---":
        return ""
    end = next((i for i in range(1, len(lines)) if lines[i].rstrip("\r") == "---"), 0)
    return "\n".join(line.rstrip("\r") for line in lines[1:end])


def _one_line(value: object) -> str:
    """A description as one line: rule frontmatter is line-based."""
    if isinstance(value, list):
        value = " ".join(value)
    return " ".join(str(value or "").split())


def _body(text: str) -> str:
    return text.lstrip("\n")


def _rule(
    found: Findings, agent: str, source: str, stem: str, when: tuple[str, list[str]], about: str, body: str
) -> None:
    """A rule from `source`: `when` is (trigger, globs), `about` its description."""
    found.rules.append(FoundRule(stem, when[0], about, when[1], body, source))
    found.sources[agent] = found.sources.get(agent, 0) + 1


def _when(always: bool, globs: list[str], description: str) -> tuple[str, list[str]]:
    """Trigger and globs for agents that say "always" and "for these files" and otherwise go by description."""
    if always:
        return "always_on", []
    if globs:
        return "glob", globs
    return ("model_decision" if description else "manual"), []


def _workflow(found: Findings, agent: str, stem: str, front: str, body: str, source: str) -> None:
    found.workflows.append(FoundWorkflow(stem, front, body, source))
    found.sources[agent] = found.sources.get(agent, 0) + 1


def read_windsurf(root: Path, found: Findings, skip: set[str]) -> None:
    for rel, inner, text in _texts(root, ".windsurf/rules", ".md", found, skip):
        if (front := _front(rel, text, found)) is None:
            continue
        trigger = str(front.fields.get("trigger") or "manual")  # Windsurf's default
        globs = parse_globs(front.fields.get("globs") or [])
        if trigger == "glob" and not globs:
            trigger = "manual"
        when = (trigger, globs if trigger == "glob" else [])
        about = _one_line(front.fields.get("description"))
        _rule(found, "windsurf", rel, _stem(inner, ".md"), when, about, _body(front.body))
    for rel, inner, text in _texts(root, ".windsurf/workflows", ".md", found, skip):
        if (front := _front(rel, text, found)) is not None:
            description = _one_line(front.fields.get("description"))
            head = f"description: {description}" if description else ""
            _workflow(found, "windsurf", _stem(inner, ".md"), head, _body(front.body), rel)


def read_cursor(root: Path, found: Findings, skip: set[str]) -> None:
    for rel, inner, text in _texts(root, ".cursor/rules", ".mdc", found, skip):
        if (front := _front(rel, text, found)) is None:
            continue
        description, body = _one_line(front.fields.get("description")), _body(front.body)
        globs = parse_globs(front.fields.get("globs") or [])
        always = str(front.fields.get("alwaysApply", "")).lower() == "true"
        _rule(found, "cursor", rel, _stem(inner, ".mdc"), _when(always, globs, description), description, body)
    for rel, inner, text in _texts(root, ".cursor/commands", ".md", found, skip):
        _workflow(found, "cursor", _stem(inner, ".md"), "", _body(text), rel)


# Keys of a Copilot prompt file that a workflow keeps (the copilot renderer writes them back).
_PROMPT_KEYS = ("description", "name", "agent", "model", "tools", "argument-hint", "mode")


def read_copilot(root: Path, found: Findings, skip: set[str]) -> None:
    single = ".github/copilot-instructions.md"
    if (root / single).is_file() and single not in skip and (text := _read(root / single, single, found)):
        _rule(found, "copilot", single, "copilot-instructions", ("always_on", []), "", _body(text))
    for rel, inner, text in _texts(root, ".github/instructions", ".instructions.md", found, skip):
        if (front := _front(rel, text, found)) is None:
            continue
        description = _one_line(front.fields.get("description"))
        globs = parse_globs(front.fields.get("applyTo") or [])
        always = bool(globs) and set(globs) <= _EVERYTHING
        stem = _stem(inner, ".instructions.md")
        _rule(found, "copilot", rel, stem, _when(always, globs, description), description, _body(front.body))
    for rel, inner, text in _texts(root, ".github/prompts", ".prompt.md", found, skip):
        if _front(rel, text, found) is None:
            continue
        kept = _kept_lines(_front_text(text), _PROMPT_KEYS)
        _workflow(found, "copilot", _stem(inner, ".prompt.md"), kept, _body(parse_frontmatter(text).body), rel)


def _kept_lines(front: str, keys: tuple[str, ...]) -> str:
    from rigging.agents.output import pick_lines

    return "\n".join(pick_lines(front, keys))


def _paths_rule(found: Findings, agent: str, rel: str, inner: str, text: str) -> None:
    """Claude's and Cline's rules: always loaded, or with a `paths:` list only for matching files."""
    if (front := _front(rel, text, found)) is None:
        return
    globs = parse_globs(front.fields.get("paths") or [])
    about = _one_line(front.fields.get("description"))
    _rule(found, agent, rel, _stem(inner, ".md"), ("glob" if globs else "always_on", globs), about, _body(front.body))


def read_claude(root: Path, found: Findings, skip: set[str]) -> None:
    for rel, inner, text in _texts(root, ".claude/rules", ".md", found, skip):
        _paths_rule(found, "claude", rel, inner, text)
    for rel, inner, text in _texts(root, ".claude/commands", ".md", found, skip):
        # A command keeps its whole frontmatter (argument-hint, allowed-tools, model, …).
        if (front := _front(rel, text, found)) is not None:
            _workflow(found, "claude", _stem(inner, ".md"), _front_text(text), _body(front.body), rel)


def read_cline(root: Path, found: Findings, skip: set[str]) -> None:
    single = root / ".clinerules"
    if single.is_file() and ".clinerules" not in skip and (text := _read(single, ".clinerules", found)):
        _rule(found, "cline", ".clinerules", "clinerules", ("always_on", []), "", _body(text))
        return
    for rel, inner, text in _texts(root, ".clinerules", ".md", found, skip):
        if inner.startswith("workflows/"):
            _workflow(found, "cline", _stem(inner.removeprefix("workflows/"), ".md"), "", _body(text), rel)
            continue
        _paths_rule(found, "cline", rel, inner, text)


_KIRO = {"always": "always_on", "fileMatch": "glob", "auto": "model_decision", "manual": "manual"}


def read_kiro(root: Path, found: Findings, skip: set[str]) -> None:
    for rel, inner, text in _texts(root, ".kiro/steering", ".md", found, skip):
        if (front := _front(rel, text, found)) is None:
            continue
        inclusion = str(front.fields.get("inclusion") or "always")  # Kiro's default
        trigger = _KIRO.get(inclusion)
        if trigger is None:
            found.notes.append(f"{rel}: left out: unknown inclusion {inclusion!r} (Kiro knows {', '.join(_KIRO)})")
            continue
        globs = parse_globs(front.fields.get("fileMatchPattern") or []) if trigger == "glob" else []
        if trigger == "glob" and not globs:
            found.notes.append(f"{rel}: inclusion fileMatch without fileMatchPattern; imported as a manual rule")
            trigger = "manual"
        about = _one_line(front.fields.get("description"))
        _rule(found, "kiro", rel, _stem(inner, ".md"), (trigger, globs), about, _body(front.body))


def read_gemini(root: Path, found: Findings, skip: set[str]) -> None:
    import tomllib

    for rel, inner, text in _texts(root, ".gemini/commands", ".toml", found, skip):
        try:
            command = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            found.notes.append(f"{rel}: left out: not TOML ({exc})")
            continue
        prompt = command.get("prompt")
        if not isinstance(prompt, str):
            found.notes.append(f"{rel}: left out: a Gemini command needs a prompt string")
            continue
        description = _one_line(command.get("description"))
        head = f"description: {description}" if description else ""
        # `{{args}}` is Gemini's; workflows use Claude's $ARGUMENTS, which the gemini target translates back
        body = prompt.replace("{{args}}", "$ARGUMENTS")
        _workflow(found, "gemini", _stem(inner, ".toml"), head, body, rel)


# folder -> agent, in the order a skill found twice is taken from
SKILL_FOLDERS = {
    ".agents/skills": "agents",
    ".claude/skills": "claude",
    ".github/skills": "copilot",
    ".cursor/skills": "cursor",
    ".kiro/skills": "kiro",
    ".gemini/skills": "gemini",
    ".windsurf/skills": "windsurf",
}


def read_skills(root: Path, found: Findings, skip: set[str], agents: set[str]) -> None:
    from rigging.skill_md import NAME

    for folder, agent in SKILL_FOLDERS.items():
        base = root / folder
        if agent not in agents or not base.is_dir() or base.is_symlink():
            continue
        for skill_dir in sorted(p for p in base.iterdir() if p.is_dir() and not p.is_symlink()):
            rel = skill_dir.relative_to(root).as_posix()
            if not (skill_dir / "SKILL.md").is_file():
                found.notes.append(f"{rel}: left out: no SKILL.md")
                continue
            if f"{rel}/SKILL.md" in skip:
                continue
            if not NAME.match(skill_dir.name):
                found.notes.append(f"{rel}: left out: {skill_dir.name!r} is not an Agent Skills name")
                continue
            files = _skill_files(root, skill_dir, found)
            same = next((s for s in found.skills if s.name == skill_dir.name), None)
            if same is not None:
                if same.files != files:
                    found.notes.append(f"{rel}: left out: differs from {same.source}, which was taken")
                continue
            found.skills.append(FoundSkill(skill_dir.name, skill_dir, files, rel))
            found.sources[agent] = found.sources.get(agent, 0) + 1


def _skill_files(root: Path, skill_dir: Path, found: Findings) -> dict[str, tuple[bytes, bool]]:
    files: dict[str, tuple[bytes, bool]] = {}
    for path in sorted(skill_dir.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_dir() and not path.is_symlink():
            continue
        if path.is_symlink() or not path.is_file():
            found.notes.append(f"{rel}: left out: not a regular file (a package holds copies, not links)")
            continue
        data = path.read_bytes()
        if b"\0" in data[:8000]:
            found.notes.append(f"{rel}: left out: binary (packages hold text)")
            continue
        files[path.relative_to(skill_dir).as_posix()] = (data, bool(path.stat().st_mode & 0o100))
    return files


READERS: dict[str, Callable[[Path, Findings, set[str]], None]] = {
    "windsurf": read_windsurf,
    "cursor": read_cursor,
    "copilot": read_copilot,
    "claude": read_claude,
    "cline": read_cline,
    "kiro": read_kiro,
    "gemini": read_gemini,
}
