"""Skills installed from the real registry: copies (never links) byte for byte and mode for mode in
every folder the project's agents scan, checked by the Agent Skills reference validator; names
kept, collisions refused, and a rename in rigging.json."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.catalog_publish import RULE, unique_namespace
from tests.conftest import run_cli
from tests.test_skills_package import _files, _make_package, _pack

pytestmark = pytest.mark.usefixtures("umask_022")

AGENTSKILLS = Path(sys.executable).parent / "agentskills"


def _publish(source: Path, host: str, name: str, env) -> None:
    published = run_cli("publish", source, f"{host}/{name}", env=env)
    assert published.returncode == 0, published.stderr


def _project(tmp_path: Path, host: str, deps: dict, targets: list[str], extra: dict | None = None) -> Path:
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    data = {"registry": host, "dependencies": deps, "targets": targets, **(extra or {})}
    (project / "rigging.json").write_text(json.dumps(data))
    return project


def test_skills_round_trip_byte_for_byte_with_modes(cli, tmp_path, registry, env):
    name = f"{unique_namespace('s')}/kit"
    source = _make_package(tmp_path / "src", name)
    digest = _pack(source, tmp_path / "layout1")
    assert _pack(source, tmp_path / "layout2") == digest, "the same source packs to the same digest"
    _publish(source, registry.host, name, env)
    project = _project(tmp_path, registry.host, {name: "^0"}, ["claude", "agents", "kiro"])
    done = cli("install", "-C", project, "--json", env=env)
    assert done.returncode == 0, done.stderr

    for skill in ("pdf-tools", "review-guide"):
        expected = _files(source / "skills" / skill)
        for folder in (".agents/skills", ".claude/skills", ".kiro/skills"):
            installed = project / folder / skill
            assert not installed.is_symlink() and _files(installed) == expected, f"{folder}/{skill}"
    script = project / ".claude/skills/pdf-tools/scripts/run.sh"
    assert stat.S_IMODE(script.stat().st_mode) == 0o755
    assert stat.S_IMODE((project / ".claude/skills/pdf-tools/scripts/parse.py").stat().st_mode) == 0o644
    lock = json.loads((project / "rigging.lock").read_text())["packages"][name]
    assert ".agents/skills/pdf-tools/scripts/run.sh" in lock["executable"]

    again = cli("install", "-C", project, "--json", env=env)
    assert json.loads(again.stdout)["written"] == [] and json.loads(again.stdout)["requests"] == 0
    script.chmod(0o644)  # a lost executable bit is put back
    fixed = cli("install", "-C", project, "--json", env=env)
    assert fixed.returncode == 0 and ".claude/skills/pdf-tools/scripts/run.sh" in json.loads(fixed.stdout)["written"]
    assert stat.S_IMODE(script.stat().st_mode) == 0o755

    removed = cli("remove", name, "-C", project, env=env)
    assert removed.returncode == 0, removed.stderr
    assert sorted(p.name for p in project.iterdir()) == ["rigging.json", "rigging.lock"], "no empty folder left"


SPEC_SKILL = """---
name: {name}
description: {description}
license: MIT
metadata:
  author: acme
---

# {name}

Steps.
"""


def _spec_package(root: Path, name: str) -> Path:
    """Skills within the specification's keys, plus rules of every trigger (some become skills)."""
    assert run_cli("new", root, "--name", name).returncode == 0
    for skill, description in (("lint-fix", "Fix lint errors. Use after a failing lint run."), ("notes", "Notes.")):
        assert run_cli("new", root, "--skill", skill).returncode == 0
        (root / "skills" / skill / "SKILL.md").write_text(SPEC_SKILL.format(name=skill, description=description))
    for stem, trigger, description in (("sql", "model_decision", "When writing SQL"), ("asked", "manual", "")):
        (root / "rules" / f"{stem}.md").write_text(
            RULE.format(trigger=trigger, description=description, extra="", body="Body.")
        )
    return root


def test_the_reference_validator_accepts_every_skill_folder_install_wrote(cli, tmp_path, registry, env):
    if not AGENTSKILLS.exists():
        pytest.fail("skills-ref is a dev dependency (./dev setup installs it)")
    name = f"{unique_namespace('r')}/spec"
    _publish(_spec_package(tmp_path / "src", name), registry.host, name, env)
    project = _project(tmp_path, registry.host, {name: "^0"}, ["claude", "agents", "cursor", "kiro"])
    done = cli("install", "-C", project, env=env)
    assert done.returncode == 0, done.stderr
    folders = sorted(p.parent for p in project.glob(".*/skills/*/SKILL.md"))
    assert len(folders) == 7, folders  # 2 skills x 3 folders, and the model-picked rule as Claude's skill
    for folder in folders:
        checked = subprocess.run([str(AGENTSKILLS), "validate", str(folder)], capture_output=True, text=True)
        assert checked.returncode == 0, (folder, checked.stdout, checked.stderr)


def _skill_package(root: Path, name: str, skill: str) -> Path:
    assert run_cli("new", root, "--name", name).returncode == 0
    assert run_cli("new", root, "--skill", skill).returncode == 0
    text = SPEC_SKILL.format(name=skill, description=f"{skill} from {name}")
    (root / "skills" / skill / "SKILL.md").write_text(text)
    return root


def test_two_packages_with_one_skill_name_are_refused_until_one_is_renamed(cli, tmp_path, registry, env):
    ns = unique_namespace("c")
    for pkg in ("one", "two"):
        _publish(_skill_package(tmp_path / pkg, f"{ns}/{pkg}", "lint"), registry.host, f"{ns}/{pkg}", env)
    project = _project(tmp_path, registry.host, {f"{ns}/one": "^0", f"{ns}/two": "^0"}, ["agents"])
    refused = cli("install", "-C", project, env=env)
    assert refused.returncode == 1
    assert f"{ns}/one and {ns}/two both install the skill 'lint'" in refused.stderr, refused.stderr
    assert f'"renameSkills": {{"{ns}/two/lint": "two-lint"}}' in refused.stderr
    assert sorted(p.name for p in project.iterdir()) == ["rigging.json"]

    data = json.loads((project / "rigging.json").read_text())
    (project / "rigging.json").write_text(json.dumps({**data, "renameSkills": {f"{ns}/two/lint": "two-lint"}}))
    done = cli("install", "-C", project, env=env)
    assert done.returncode == 0, done.stderr
    renamed = (project / ".agents/skills/two-lint/SKILL.md").read_text()
    assert renamed.startswith("---\nname: two-lint\ndescription: lint from ") and f"from {ns}/two" in renamed
    assert f"from {ns}/one" in (project / ".agents/skills/lint/SKILL.md").read_text()
    if AGENTSKILLS.exists():
        checked = subprocess.run([str(AGENTSKILLS), "validate", str(project / ".agents/skills/two-lint")])
        assert checked.returncode == 0

    # undoing the rename moves the skill back (and is seen as a change to install)
    (project / "rigging.json").write_text(json.dumps(data | {"dependencies": {f"{ns}/one": "^0"}}))
    assert cli("install", "-C", project, env=env).returncode == 0
    assert not (project / ".agents/skills/two-lint").exists()


def test_a_skill_the_user_already_has_is_not_overwritten(cli, tmp_path, registry, env):
    ns = unique_namespace("u")
    _publish(_skill_package(tmp_path / "pkg", f"{ns}/pkg", "lint"), registry.host, f"{ns}/pkg", env)
    project = _project(tmp_path, registry.host, {f"{ns}/pkg": "^0"}, ["agents"])
    own = project / ".agents/skills/lint/SKILL.md"
    own.parent.mkdir(parents=True)
    own.write_text("---\nname: lint\ndescription: ours\n---\n")
    refused = cli("install", "-C", project, env=env)
    assert refused.returncode == 1 and ".agents/skills/lint/SKILL.md" in refused.stderr and "--force" in refused.stderr
    assert own.read_text().endswith("description: ours\n---\n")
    shutil.rmtree(project / ".agents")


def test_skill_descriptions_past_the_listing_budget_warn_at_validate_and_install(cli, tmp_path, registry, env):
    name = f"{unique_namespace('l')}/many"
    root = tmp_path / "src"
    assert run_cli("new", root, "--name", name).returncode == 0
    for i in range(9):  # 9 x ~1,000 characters: over the ~8,000 agents list
        skill = f"skill-{i}"
        assert run_cli("new", root, "--skill", skill).returncode == 0
        description = f"Skill {i}. " + "Use it when the task needs it. " * 31
        (root / "skills" / skill / "SKILL.md").write_text(SPEC_SKILL.format(name=skill, description=description))
    validated = run_cli("validate", root, "--json")
    assert validated.returncode == 0, "a warning, not an error"
    problems = json.loads(validated.stdout)["problems"]
    assert [p["code"] for p in problems] == ["RIG512"] and "about 8000" in problems[0]["message"], problems
    _publish(root, registry.host, name, env)
    project = _project(tmp_path, registry.host, {name: "^0"}, ["claude"])
    done = cli("install", "-C", project, env=env)
    assert done.returncode == 0, done.stderr
    assert "skills: 9 skill descriptions hold" in done.stderr and "Claude Code and Codex list about 8000" in done.stderr
