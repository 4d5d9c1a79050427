"""Publish a whole catalogue of small packages to a real registry, in-process (fast)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from rigging.transfer import publish

RULE = "---\ntrigger: {trigger}\ndescription: {description}\n{extra}---\n\n{body}\n"


def unique_namespace(prefix: str = "t") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def write_package(
    root: Path,
    name: str,
    version: str,
    deps: dict[str, str] | None = None,
    rules: dict[str, str] | None = None,
    workflows: dict[str, str] | None = None,
) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "rules").mkdir(exist_ok=True)
    (root / "workflows").mkdir(exist_ok=True)
    manifest = {"name": name, "version": version, "description": f"{name} for tests", "dependencies": deps or {}}
    (root / "rigging.json").write_text(json.dumps(manifest, indent=2))
    (root / "README.md").write_text(f"# {name}\n\nRules for {name.split('/')[1]}.\n")
    stem = name.split("/")[1]
    rules = (
        rules
        if rules is not None
        else {
            stem: RULE.format(
                trigger="glob",
                description=f"{name} style",
                extra="globs: **/*.py\n",
                body=f"# {name} {version}\n\nUse {stem}.",
            )
        }
    )
    for file_stem, text in rules.items():
        (root / "rules" / f"{file_stem}.md").write_text(text)
    for file_stem, text in (workflows or {}).items():
        (root / "workflows" / f"{file_stem}.md").write_text(text)
    return root


def publish_catalogue(tmp: Path, host: str, packages: dict[str, dict[str, dict[str, str]]]) -> None:
    """packages: name -> version -> dependencies."""
    for name, versions in packages.items():
        for version, deps in versions.items():
            folder = write_package(tmp / "src" / name.replace("/", "_") / version, name, version, deps)
            publish(str(folder), f"{host}/{name}")
