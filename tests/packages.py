"""Small helpers to make packages for tests."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli


def make_package(
    root: Path,
    name: str,
    version: str = "1.0.0",
    *,
    docs: bool = False,
    dependencies: dict[str, str] | None = None,
    extra_rule: str | None = None,
) -> Path:
    result = run_cli("new", root, "--name", name, "--version", version)
    assert result.returncode == 0, result.stderr
    if dependencies is not None:
        manifest = json.loads((root / "rigging.json").read_text())
        manifest["dependencies"] = dependencies
        (root / "rigging.json").write_text(json.dumps(manifest, indent=2) + "\n")
    if docs:
        (root / "docs").mkdir()
        (root / "docs" / "guide.md").write_text(f"# {name} guide\n")
    if extra_rule is not None:
        (root / "rules" / "extra.md").write_text(f"---\ntrigger: manual\n---\n{extra_rule}\n")
    return root


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
