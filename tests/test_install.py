"""rigging add/install/update/remove into the five agent layouts, against the real registry."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from rigging.transfer import publish

from tests.catalog_publish import RULE, unique_namespace, write_package


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".rigging" not in p.parts
    }


@pytest.fixture
def ns():
    return unique_namespace("i")


def _publish_style(tmp_path, host, ns, version="1.0.0", body="Use type hints.", extra_rule=True, force=False):
    rules = {
        "style": RULE.format(
            trigger="glob",
            description="Python style",
            extra="globs: **/*.py, **/*.pyi\n",
            body=f"# Style {version}\n\n{body}",
        ),
        "always": RULE.format(trigger="always_on", description="Always", extra="", body="Be brief."),
        "decide": RULE.format(trigger="model_decision", description="When writing SQL", extra="", body="Use CTEs."),
    }
    if extra_rule:
        rules["manual"] = RULE.format(trigger="manual", description="", extra="", body="Only when asked.")
    workflows = {"release": "---\ndescription: Cut a release\n---\n\n1. Tag it.\n"}
    folder = write_package(tmp_path / "src" / version, f"{ns}/style", version, rules=rules, workflows=workflows)
    publish(str(folder), f"{host}/{ns}/style", force=force)


FIVE = ["windsurf", "cursor", "copilot", "claude", "agents"]


def _project(tmp_path, registry, deps=None, targets=None):
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    data = {"registry": registry.host, "dependencies": deps or {}, "targets": targets or FIVE}
    (project / "rigging.json").write_text(json.dumps(data, indent=2))
    return project


def test_the_lock_is_canonical_stable_and_matches_the_files(cli, tmp_path, registry, env, ns):
    _publish_style(tmp_path, registry.host, ns)
    project = _project(tmp_path, registry)
    (project / "AGENTS.md").write_text("# Our agents\n\nHouse rules stay here.\n")
    added = cli("add", f"{ns}/style", "-C", project, env=env)
    assert added.returncode == 0, added.stderr
    assert json.loads((project / "rigging.json").read_text())["dependencies"] == {f"{ns}/style": "^1.0.0"}
    assert (project / "AGENTS.md").read_text().startswith("# Our agents\n\nHouse rules stay here.\n")

    lock = json.loads((project / "rigging.lock").read_text())
    entry = lock["packages"][f"{ns}/style"]
    assert entry["version"] == "1.0.0" and entry["source"] == f"{registry.host}/{ns}/style"
    assert len(entry["files"]) > 10
    for path, digest in entry["files"].items():
        assert digest == "sha256:" + hashlib.sha256((project / path).read_bytes()).hexdigest()
    assert set(lock["managed"]) == {"AGENTS.md"}

    # stable: canonical bytes, unchanged by a second install, and the same lock from a fresh project
    lock_bytes = (project / "rigging.lock").read_bytes()
    assert lock_bytes == (json.dumps(lock, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
    again = cli("install", "-C", project, env=env)
    assert again.returncode == 0 and again.stdout.endswith("rigging.lock unchanged\n"), again.stdout
    assert (project / "rigging.lock").read_bytes() == lock_bytes
    twin = tmp_path / "twin"
    twin.mkdir()
    (twin / "rigging.json").write_bytes((project / "rigging.json").read_bytes())
    assert cli("install", "-C", twin, env=env).returncode == 0
    assert (twin / "rigging.lock").read_bytes() == lock_bytes


def test_targets_limit_what_is_written(cli, tmp_path, registry, env, ns):
    _publish_style(tmp_path, registry.host, ns)
    project = _project(tmp_path, registry, {f"{ns}/style": "^1"}, targets=["cursor"])
    assert cli("install", "-C", project, env=env).returncode == 0
    assert sorted(snapshot(project)) == sorted(
        [
            "rigging.json",
            "rigging.lock",
            *(f".cursor/rules/{ns}.style.{s}.mdc" for s in ("always", "decide", "manual", "style")),
            f".cursor/commands/{ns}.style.release.md",
        ]
    )


def test_edited_file_survives_update_and_remove_needs_force(cli, tmp_path, registry, env, ns):
    _publish_style(tmp_path, registry.host, ns, "1.0.0")
    project = _project(tmp_path, registry, {f"{ns}/style": "^1"})
    assert cli("install", "-C", project, env=env).returncode == 0
    edited = project / f".cursor/rules/{ns}.style.decide.mdc"
    edited.write_text(edited.read_text() + "\nOur own note.\n")
    (project / "AGENTS.md").write_text((project / "AGENTS.md").read_text() + "\nNotes after the section.\n")

    _publish_style(tmp_path, registry.host, ns, "1.1.0", body="Use type hints everywhere.")
    updated = cli("update", "-C", project, "--json", env=env)
    assert updated.returncode == 0, updated.stderr
    report = json.loads(updated.stdout)
    assert report["packages"] == {f"{ns}/style": "1.1.0"}
    assert str(edited.relative_to(project)) in report["kept"]
    assert edited.read_text().endswith("Our own note.\n"), "the edit survived the update"
    assert "# Style 1.1.0" in (project / f".cursor/rules/{ns}.style.style.mdc").read_text()
    assert (project / "AGENTS.md").read_text().endswith("Notes after the section.\n")

    refused = cli("remove", f"{ns}/style", "-C", project, env=env)
    assert refused.returncode == 1 and "--force" in refused.stderr and edited.name in refused.stderr
    assert edited.exists() and json.loads((project / "rigging.json").read_text())["dependencies"]

    forced = cli("remove", f"{ns}/style", "-C", project, "--force", env=env)
    assert forced.returncode == 0, forced.stderr
    assert sorted(snapshot(project)) == ["AGENTS.md", "rigging.json", "rigging.lock"], "no stray file"
    assert (project / "AGENTS.md").read_text() == "Notes after the section.\n"
    assert sorted(p.name for p in project.iterdir()) == ["AGENTS.md", "rigging.json", "rigging.lock"]


def test_update_changing_an_edited_file_is_refused_without_force(cli, tmp_path, registry, env, ns):
    _publish_style(tmp_path, registry.host, ns, "1.0.0")
    project = _project(tmp_path, registry, {f"{ns}/style": "^1"}, targets=["windsurf"])
    assert cli("install", "-C", project, env=env).returncode == 0
    edited = project / f".windsurf/rules/{ns}.style.style.md"
    edited.write_text("mine\n")
    before = snapshot(project)
    _publish_style(tmp_path, registry.host, ns, "1.2.0", body="New text.")
    refused = cli("update", "-C", project, env=env)
    assert refused.returncode == 1 and edited.name in refused.stderr
    assert snapshot(project) == before, "a refused update changes nothing, the lock included"
    forced = cli("update", "-C", project, "--force", "--json", env=env)
    assert forced.returncode == 0 and json.loads(forced.stdout)["packages"] == {f"{ns}/style": "1.2.0"}
    assert "New text." in edited.read_text()


def test_remove_deletes_exactly_what_install_wrote(cli, tmp_path, registry, env, ns):
    _publish_style(tmp_path, registry.host, ns)
    project = _project(tmp_path, registry)
    (project / ".cursor" / "rules").mkdir(parents=True)
    (project / ".cursor" / "rules" / "ours.mdc").write_text("our own rule\n")
    before = snapshot(project)
    assert cli("add", f"{ns}/style", "-C", project, env=env).returncode == 0
    assert cli("remove", f"{ns}/style", "-C", project, env=env).returncode == 0
    after = snapshot(project)
    assert after.pop("rigging.lock")
    assert json.loads(after.pop("rigging.json"))["dependencies"] == {}
    before.pop("rigging.json")
    assert after == before


def test_failed_add_leaves_project_and_lock_as_they_were(cli, tmp_path, registry, env, ns):
    _publish_style(tmp_path, registry.host, ns)
    project = _project(tmp_path, registry, {f"{ns}/style": "^1"})
    assert cli("install", "-C", project, env=env).returncode == 0
    before = snapshot(project)
    failed = cli("add", f"{ns}/style@^7", "-C", project, env=env)
    assert failed.returncode == 1 and "no published version matches" in failed.stderr
    missing = cli("add", f"{ns}/nothing", "-C", project, env=env)
    assert missing.returncode == 1 and f"has no versions of {ns}/nothing" in missing.stderr, missing.stderr
    assert snapshot(project) == before


def test_frozen_locked_and_moved_tags(cli, tmp_path, registry, env, ns):
    _publish_style(tmp_path, registry.host, ns, "1.0.0")
    project = _project(tmp_path, registry, {f"{ns}/style": "^1"}, targets=["agents"])
    no_lock = cli("install", "-C", project, "--frozen", env=env)
    assert no_lock.returncode == 1 and "rigging.lock is out of date with rigging.json (or missing)" in no_lock.stderr
    assert sorted(snapshot(project)) == ["rigging.json"]
    assert cli("install", "-C", project, env=env).returncode == 0
    installed = snapshot(project)
    for flag in ("--frozen", "--locked"):
        exact = cli("install", "-C", project, flag, "--json", env=env)
        assert exact.returncode == 0, exact.stderr
        assert json.loads(exact.stdout)["resolved"] is False and snapshot(project) == installed

    # someone re-pushes 1.0.0 with other content: the tag moved
    _publish_style(tmp_path, registry.host, ns, "1.0.0", body="Sneaky change.", extra_rule=False, force=True)
    from rigging.registry.client import RegistryClient

    with RegistryClient(registry.host) as client:
        moved_to = client.head_manifest(f"{ns}/style", "1.0.0")
    locked = cli("install", "-C", project, "--locked", env=env)
    assert locked.returncode == 1 and "tag was moved" in locked.stderr and moved_to in locked.stderr
    (project / "rigging.lock").unlink()
    (project / "rigging.lock").write_bytes(b"")  # corrupt lock: a clear error, not a traceback
    broken = cli("install", "-C", project, env=env)
    assert broken.returncode == 1 and "rigging.lock" in broken.stderr and "Traceback" not in broken.stderr


def test_changed_dependencies_make_the_lock_stale(cli, tmp_path, registry, env, ns):
    _publish_style(tmp_path, registry.host, ns)
    project = _project(tmp_path, registry, {f"{ns}/style": "^1"}, targets=["agents"])
    assert cli("install", "-C", project, env=env).returncode == 0
    data = json.loads((project / "rigging.json").read_text())
    data["dependencies"][f"{ns}/style"] = ">=1.0.0"
    (project / "rigging.json").write_text(json.dumps(data))
    stale = cli("install", "-C", project, "--locked", env=env)
    assert stale.returncode == 1 and "out of date" in stale.stderr
    assert cli("install", "-C", project, env=env).returncode == 0
    assert json.loads((project / "rigging.lock").read_text())["requires"] == {f"{ns}/style": ">=1.0.0"}


def test_list_tree_graph_outdated(cli, tmp_path, registry, env, ns):
    from tests.catalog_publish import publish_catalogue

    publish_catalogue(
        tmp_path,
        registry.host,
        {
            f"{ns}/top": {"1.0.0": {f"{ns}/mid": "^1"}},
            f"{ns}/mid": {"1.0.0": {f"{ns}/leaf": "^1"}, "2.0.0": {}},
            f"{ns}/leaf": {"1.0.0": {}, "1.1.0": {}},
        },
    )
    project = _project(tmp_path, registry, {f"{ns}/top": "^1"}, targets=["agents"])
    assert cli("install", "-C", project, env=env).returncode == 0
    listed = json.loads(cli("list", "-C", project, "--json", env=env).stdout)
    assert [(r["name"], r["version"], r["direct"]) for r in listed] == [
        (f"{ns}/leaf", "1.1.0", False),
        (f"{ns}/mid", "1.0.0", False),
        (f"{ns}/top", "1.0.0", True),
    ]
    tree = cli("tree", "-C", project, env=env).stdout
    assert f"└── {ns}/top 1.0.0 (^1)" in tree and f"        └── {ns}/leaf 1.1.0 (^1)" in tree
    dot = cli("graph", "-C", project, "--format", "dot", env=env).stdout
    assert dot.startswith("digraph") and f'"{ns}/top" -> "{ns}/mid" [label="^1"];' in dot
    mermaid = cli("graph", "-C", project, "--format", "mermaid", env=env).stdout
    assert mermaid.startswith("graph LR") and '-->|"^1"|' in mermaid
    outdated = json.loads(cli("outdated", "-C", project, "--json", env=env).stdout)
    assert outdated == [{"name": f"{ns}/mid", "current": "1.0.0", "wanted": "1.0.0", "latest": "2.0.0"}]


def test_a_file_name_collision_is_an_error(cli, tmp_path, registry, env):
    ns = unique_namespace("c")
    # "a.b/c" and "a/b.c" both namespace their rule "x" as a.b.c.x
    for name in (f"{ns}.b/c", f"{ns}/b.c"):
        folder = write_package(
            tmp_path / name.replace("/", "_"),
            name,
            "1.0.0",
            rules={"x": RULE.format(trigger="manual", description="", extra="", body="x")},
        )
        publish(str(folder), f"{registry.host}/{name}")
    project = _project(tmp_path, registry, {f"{ns}.b/c": "^1", f"{ns}/b.c": "^1"}, targets=["cursor"])
    result = cli("install", "-C", project, env=env)
    assert result.returncode == 1 and "both install" in result.stderr
    assert sorted(snapshot(project)) == ["rigging.json"]
