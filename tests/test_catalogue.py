"""The starting catalogue (catalogue/): 50 packages that validate with no warning (so within every
target's budgets), scan clean with the built-in checks and our Semgrep pack, whose skills pass
the Agent Skills reference validator, each living at the name it claims, and whose dependencies
stay inside the catalogue, are met by what it holds and never loop."""

from __future__ import annotations

import json
import os
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest
from rigging.ranges import parse_range
from rigging.scan.package import scan_packages
from rigging.validation import validate_package
from rigging.versions import Version

from tests.conftest import REPO_ROOT
from tests.support.services import unavailable

CATALOGUE = REPO_ROOT / "catalogue"
SEMGREP = REPO_ROOT / ".venv-tools" / "bin" / "semgrep"
PACKAGES = sorted(p for p in CATALOGUE.iterdir() if (p / "rigging.json").is_file())


def _manifest(folder: Path) -> dict:
    return json.loads((folder / "rigging.json").read_text())


def test_fifty_packages_each_named_for_its_folder():
    assert len(PACKAGES) == 50
    assert sorted(p.name for p in CATALOGUE.iterdir()) == [p.name for p in PACKAGES], "a folder without rigging.json"
    for folder in PACKAGES:
        manifest = _manifest(folder)
        assert manifest["name"] == f"rigging/{folder.name}" and manifest["version"] == "1.0.0", folder.name
        assert (folder / "README.md").is_file(), folder.name
        kinds = [kind for kind in ("rules", "workflows", "skills") if (folder / kind).is_dir()]
        assert kinds, f"{folder.name} gives the agent nothing"


@pytest.mark.parametrize("folder", PACKAGES, ids=lambda p: p.name)
def test_validates_with_no_warning(folder):
    report = validate_package(folder)
    assert [f"{p.code} {p.path}: {p.message}" for p in report.problems] == []


def test_every_package_scans_clean_with_semgrep_too():
    if not os.access(SEMGREP, os.X_OK):
        unavailable(f"semgrep not found at {SEMGREP} (./dev setup installs it into .venv-tools)")
    reports = scan_packages(PACKAGES, semgrep=str(SEMGREP))
    found = {
        folder.name: [f"{f.severity} {f.rule} {f.file}:{f.line}" for f in report.findings]
        for folder, report in reports.items()
        if report.findings
    }
    assert found == {}
    assert all(report.semgrep for report in reports.values())


def test_every_skill_passes_the_agent_skills_reference_validator():
    skills_ref = pytest.importorskip("skills_ref", reason="skills-ref is a dev dependency: ./dev setup installs it")
    skills = sorted(p.parent for p in CATALOGUE.glob("*/skills/*/SKILL.md"))
    assert len(skills) >= 40, "most packages carry a skill"
    assert {skill.name: skills_ref.validate(skill) for skill in skills if skills_ref.validate(skill)} == {}


def test_dependencies_stay_inside_the_catalogue_are_met_and_never_loop():
    names = {_manifest(folder)["name"]: folder for folder in PACKAGES}
    graph: dict[str, set[str]] = {}
    for name, folder in names.items():
        dependencies = _manifest(folder).get("dependencies", {})
        for dependency, wanted in dependencies.items():
            assert dependency in names, f"{name} needs {dependency}, which the catalogue lacks"
            assert parse_range(wanted).allows(Version.parse(_manifest(names[dependency])["version"])), name
        graph[name] = set(dependencies)
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        pytest.fail(f"a dependency loop: {exc.args[1]}")
    assert len(order) == 50
    assert sum(1 for deps in graph.values() if deps) >= 15, "some build on others"
