"""`rigging new`: a package folder that validates as it is, or a skill added to one."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from rigging.errors import RiggingError, UsageError
from rigging.names import name_problem, short_name

_RULE = """\
---
trigger: glob
description: Conventions for Python code in this project
globs: **/*.py
---

# Python conventions

- Type every public function; run `ruff check` before proposing a change.
- Prefer the standard library; add a dependency only with a reason in the commit message.
- Tests live in `tests/` and use pytest fixtures rather than setup methods.
"""

_WORKFLOW = """\
---
description: Prepare a release of this project
---

# Release

1. Run the full test suite and stop if anything fails.
2. Update `CHANGELOG.md` with the changes since the last tag.
3. Bump the version, commit, and tag it `vX.Y.Z`.
"""

_README = """\
# {name}

{description}

## Contents

- `rules/python-conventions.md`: applies to `**/*.py` files.
- `workflows/release.md`: a step-by-step release workflow.

## Install

```
rigging add {name}
rigging install
```
"""


# A placeholder the author replaces; it is a valid description (1-1,024 characters) so the
# package validates and packs as soon as it is made.
_SKILL = """\
---
name: {name}
description: Describe what the {name} skill does and when an agent should use it (replace this sentence).
---

# {title}

Steps the agent follows when this skill is active. Keep this file under 500 lines: put long
reference material in `references/` and scripts in `scripts/`, and say here when to read or run them.
"""

_SKILL_README = """\
# {name}

{description}

## Contents

- `skills/{skill}/SKILL.md`: the `{skill}` Agent Skill.

## Install

```
rigging add {name}
rigging install
```
"""


def _check_skill_name(skill: str) -> None:
    from rigging.skill_md import name_problem as skill_name_problem

    if (reason := skill_name_problem(skill)) is not None:
        raise UsageError(
            f"skill name {skill!r} {reason} (use 1-64 lowercase letters, digits and single '-', e.g. pdf-tools)"
        )


def create_package(
    target: Path, name: str, version: str = "0.1.0", description: str | None = None, skill: str | None = None
) -> Path:
    """A new package folder: sample rule and workflow, or (with `skill`) one skill and nothing else."""
    if (reason := name_problem(name)) is not None:
        raise UsageError(
            f"package name {name!r} {reason} "
            f"(use a lowercase namespace/name, e.g. acme/{short_name(name).lower() or 'rules'})"
        )
    if skill is not None:
        _check_skill_name(skill)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise RiggingError(f"{target}: already exists and is not empty; choose a new folder")
    # No `targets`: absent means every agent the consuming project uses, which is what authors
    # want unless a package only makes sense for one agent.
    if skill is None:
        description = description or f"Agent rules and workflows for {short_name(name)}."
        manifest: dict[str, object] = {
            "name": name,
            "version": version,
            "description": description,
            "license": "MIT",
            "keywords": ["python"],
            "dependencies": {},
        }
        files = {
            "README.md": _README.format(name=name, description=description),
            "rules/python-conventions.md": _RULE,
            "workflows/release.md": _WORKFLOW,
        }
    else:
        description = description or f"The {skill} Agent Skill, packaged with Rigging."
        manifest = {"name": name, "version": version, "description": description, "license": "MIT", "dependencies": {}}
        files = {
            "README.md": _SKILL_README.format(name=name, description=description, skill=skill),
            **_skill_files(skill),
        }
    files["rigging.json"] = json.dumps(manifest, indent=2) + "\n"
    _write_into(target, files)
    return target


def _skill_files(skill: str) -> dict[str, str]:
    title = skill.replace("-", " ").capitalize()
    return {f"skills/{skill}/SKILL.md": _SKILL.format(name=skill, title=title)}


def add_skill(package: Path, skill: str) -> Path:
    """Add `skills/<skill>/SKILL.md` to the existing package folder `package`; return the skill's folder."""
    _check_skill_name(skill)
    if not (package / "rigging.json").is_file():
        raise RiggingError(
            f"{package}: holds no rigging.json, so it is not a package folder; give the package folder, "
            "or a new folder and --name to make a package holding the skill"
        )
    folder = package / "skills" / skill
    if folder.exists() or folder.is_symlink():
        raise RiggingError(f"{folder}: already exists; choose another skill name or edit that skill")
    (package / "skills").mkdir(exist_ok=True)
    _write_into(folder, {rel.split("/", 2)[2]: text for rel, text in _skill_files(skill).items()})
    return folder


def _write_into(target: Path, files: dict[str, str]) -> None:
    write_folder(target, {rel: text.encode() for rel, text in files.items()})


def write_folder(target: Path, files: dict[str, bytes], executable: frozenset[str] = frozenset()) -> None:
    """Make `target` (absent or empty) hold `files`; those in `executable` get mode 0755 (less the umask)."""
    # Built beside the target and renamed into place, so a failure leaves no half a package.
    parent = target.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=parent, prefix=f".{target.name}."))
    umask = _umask()
    try:
        for rel, data in files.items():
            path = staging / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            if rel in executable:
                path.chmod(0o777 & ~umask)
        os.chmod(staging, 0o777 & ~umask)
        if target.exists():
            target.rmdir()
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
