"""SKILL.md as the Agent Skills specification (agentskills.io) defines it, checked for validation.

Unlike rule and workflow frontmatter (`key: value` lines, read as the agents read them), a skill's
frontmatter is YAML: the agents parse it with YAML libraries, and Claude Code's own keys use YAML
lists and maps (`argument-hint: [issue]`, `hooks:`). We read it with PyYAML's composer, which
gives every value with its line but resolves no types, so `description: 2024` is the text "2024"
as it is for the reference validator (skills-ref, strictyaml). PyYAML is imported only here, and
only for packages that hold skills: it costs ~3x `json`'s import time, strictyaml ~3x PyYAML's.

Keys (SPEC.md, "Skills"):
- the specification's keys are checked: `name`, `description`, `compatibility`, `metadata`;
  `license` and `allowed-tools` are accepted as written;
- keys an agent documents for skills (Claude Code's `disable-model-invocation`, `hooks`, …) are
  accepted silently and kept verbatim (SKILL.md is packed byte for byte): they are how an author
  configures the skill for that agent, so a warning on each would teach people to ignore warnings;
- any other key is a warning (RIG511), not an error: agents ignore keys they do not know, and an
  agent may document a new key before rigging knows it; skills-ref rejects such keys, so the
  hint says to move the value under `metadata:`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rigging.problems import Problem

if TYPE_CHECKING:
    from yaml.nodes import MappingNode, Node

MAX_NAME_CHARS = 64
MAX_DESCRIPTION_CHARS = 1024
MAX_COMPATIBILITY_CHARS = 500
# The specification's guidance: SKILL.md is loaded whole when the skill activates.
GUIDE_MAX_LINES = 500

# ASCII only, although skills-ref accepts any Unicode letter: a skill's name is its folder name
# on every user's disk and what they type after `/`; non-ASCII names differ by normalisation.
NAME = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")

SPEC_KEYS = frozenset({"name", "description", "license", "compatibility", "metadata", "allowed-tools"})
# Keys agents document for SKILL.md beyond the specification (Claude Code, code.claude.com/docs/en/skills).
AGENT_KEYS = frozenset(
    {
        "argument-hint",
        "arguments",
        "disable-model-invocation",
        "user-invocable",
        "model",
        "effort",
        "context",
        "agent",
        "hooks",
        "paths",
        "shell",
        "when_to_use",
    }
)


def name_problem(name: str) -> str | None:
    """Why `name` is not a skill name, or None."""
    if not name:
        return "is empty"
    if len(name) > MAX_NAME_CHARS:
        return f"is {len(name)} characters; at most {MAX_NAME_CHARS} are allowed"
    if NAME.match(name):
        return None
    if name.startswith("-") or name.endswith("-"):
        return "starts or ends with '-'"
    if "--" in name:
        return "holds '--'"
    return "may hold only lowercase ASCII letters, digits and '-'"


@dataclass
class SkillCheck:
    """What validating one SKILL.md found: its problems, and (when valid) its catalogue entry."""

    problems: list[Problem] = field(default_factory=list)
    name: str | None = None
    description: str | None = None


def _frontmatter(text: str) -> str | None:
    """The YAML between the opening and the closing '---' lines, or None without both."""
    lines = text.split("\n")
    if lines[0].rstrip("\r") != "---":
        return None
    for index in range(1, len(lines)):
        if lines[index].rstrip("\r") == "---":
            return "\n".join(lines[1:index])
    return None


def _loader() -> type:
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when the wheel has it


def _anchor_alias_or_tag(source: str) -> int | None:
    """The line of the first anchor (&a), alias (*a) or explicit tag (!!str), or None. Frontmatter
    needs none of them; the reference validator refuses them; refusing them also means no alias
    can make a small file expand into a large document for a reader that copies values."""
    import yaml

    for event in yaml.parse(source, Loader=_loader()):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) or getattr(event, "tag", None):
            return int(event.start_mark.line) + 2
    return None


def _scalar(node: Node) -> str | None:
    from yaml.nodes import ScalarNode

    return node.value if isinstance(node, ScalarNode) else None


def check_skill_md(path: str, folder: str, text: str) -> SkillCheck:
    """Check the SKILL.md at package path `path` of the skill folder `folder`."""
    result = SkillCheck()
    problems = result.problems
    source = _frontmatter(text)
    if source is None:
        why = "opens with '---' but never closes it" if text.split("\n")[0].rstrip("\r") == "---" else "has none"
        problems.append(Problem("RIG502", f"YAML frontmatter {why}; SKILL.md must begin with it", path, 1))
        return result
    import yaml

    try:
        root = yaml.compose(source, Loader=_loader())
    except RecursionError:  # pure-Python PyYAML composes recursively; libyaml stops at its own depth limit
        problems.append(Problem("RIG502", "frontmatter nests too deeply to be YAML an agent reads", path, 2))
        return result
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        if mark is not None and mark.index >= len(source.rstrip()) and getattr(exc, "context_mark", None):
            mark = exc.context_mark  # found at the end: point at what was left open, not at the '---'
        line = mark.line + 2 if mark is not None else 1  # +1 for 0-based, +1 for the opening '---'
        problem, context = getattr(exc, "problem", None), getattr(exc, "context", None)
        reason = ", ".join(filter(None, (context, problem))) or str(exc).split("\n")[0]
        problems.append(Problem("RIG502", f"frontmatter is not valid YAML: {reason}", path, line))
        return result
    from yaml.nodes import MappingNode

    if (line := _anchor_alias_or_tag(source)) is not None:
        message = "frontmatter uses a YAML anchor, alias or tag; write each value out in full"
        problems.append(Problem("RIG502", message, path, line))
        return result
    if not isinstance(root, MappingNode):
        problems.append(Problem("RIG502", "frontmatter must be a YAML mapping of keys to values", path, 2))
        return result
    fields = _fields(root, path, problems)
    if fields is None:
        return result
    _check_fields(fields, path, folder, result)
    lines = text.count("\n") + (0 if text.endswith("\n") else 1)
    if lines > GUIDE_MAX_LINES:
        problems.append(
            Problem("RIG510", f"SKILL.md has {lines} lines; the Agent Skills guidance is under {GUIDE_MAX_LINES}", path)
        )
    return result


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 2  # 0-based inside the frontmatter, which starts on line 2


def _fields(root: MappingNode, path: str, problems: list[Problem]) -> dict[str, tuple[int, Node]] | None:
    """key -> (the key's line, its value), or None after reporting keys that are not plain or unique."""
    fields: dict[str, tuple[int, Node]] = {}
    for key_node, value_node in root.value:
        key = _scalar(key_node)
        if key is None:
            problems.append(Problem("RIG502", "frontmatter keys must be plain strings", path, _line(key_node)))
            return None
        if key in fields:
            # YAML forbids it; parsers disagree on which value wins, so the skill would mean two things.
            problems.append(Problem("RIG502", f"frontmatter key {key!r} appears twice", path, _line(key_node)))
            return None
        fields[key] = (_line(key_node), value_node)
    return fields


def _string(fields: dict[str, tuple[int, Node]], key: str) -> tuple[int, str | None] | None:
    """(line, value if it is a scalar) of `key`, or None when the key is absent."""
    if key not in fields:
        return None
    line, node = fields[key]
    return line, _scalar(node)


def _check_fields(fields: dict[str, tuple[int, Node]], path: str, folder: str, result: SkillCheck) -> None:
    problems = result.problems

    found = _string(fields, "name")
    if found is None:
        problems.append(Problem("RIG503", "frontmatter has no 'name'", path, 1))
    elif found[1] is None:
        problems.append(Problem("RIG503", "'name' must be a string", path, found[0]))
    elif (why := name_problem(found[1])) is not None:
        problems.append(Problem("RIG503", f"skill name {found[1]!r} {why}", path, found[0]))
    elif found[1] != folder:
        message = f"skill name {found[1]!r} differs from its folder skills/{folder}/"
        problems.append(Problem("RIG504", message, path, found[0]))
    else:
        result.name = found[1]

    found = _string(fields, "description")
    if found is None:
        problems.append(Problem("RIG505", "frontmatter has no 'description'", path, 1))
    elif found[1] is None:
        problems.append(Problem("RIG505", "'description' must be a string", path, found[0]))
    elif not found[1].strip():
        problems.append(Problem("RIG505", "'description' is empty", path, found[0]))
    elif len(found[1]) > MAX_DESCRIPTION_CHARS:
        message = f"'description' is {len(found[1])} characters; at most {MAX_DESCRIPTION_CHARS} are allowed"
        problems.append(Problem("RIG505", message, path, found[0]))
    else:
        result.description = found[1].strip()

    found = _string(fields, "compatibility")
    if found is not None and found[1] is None:
        problems.append(Problem("RIG506", "'compatibility' must be a string", path, found[0]))
    elif found is not None and found[1] is not None and len(found[1]) > MAX_COMPATIBILITY_CHARS:
        message = f"'compatibility' is {len(found[1])} characters; at most {MAX_COMPATIBILITY_CHARS} are allowed"
        problems.append(Problem("RIG506", message, path, found[0]))

    if "metadata" in fields:
        _check_metadata(*fields["metadata"], path, problems)

    for key, (line, _) in fields.items():
        if key not in SPEC_KEYS and key not in AGENT_KEYS:
            message = f"frontmatter key {key!r} is neither in the Agent Skills specification nor one an agent documents"
            problems.append(Problem("RIG511", message, path, line))


def _check_metadata(line: int, node: Node, path: str, problems: list[Problem]) -> None:
    from yaml.nodes import MappingNode

    if _scalar(node) == "":  # `metadata:` with nothing after it: an empty map, not a wrong type
        return
    if not isinstance(node, MappingNode):
        problems.append(Problem("RIG507", "'metadata' must be a map of string keys to string values", path, line))
        return
    seen: set[str] = set()
    for key_node, value_node in node.value:
        key = _scalar(key_node)
        if key is None or _scalar(value_node) is None:
            where = f"metadata key {key!r}" if key is not None else "a metadata key"
            problems.append(Problem("RIG507", f"{where} must map a string to a string", path, _line(key_node)))
            return
        if key in seen:
            problems.append(Problem("RIG502", f"metadata key {key!r} appears twice", path, _line(key_node)))
            return
        seen.add(key)


def summary(check: SkillCheck) -> dict[str, Any] | None:
    """The skill's entry in the package config, or None when SKILL.md is not valid."""
    if check.name is None or check.description is None or any(p.severity == "error" for p in check.problems):
        return None
    return {"name": check.name, "description": check.description}
