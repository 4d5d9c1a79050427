"""A second install of the same lock needs no network; an install killed at any point leaves the
project in its old or its new state, with a lock that matches it."""

from __future__ import annotations

import hashlib
import json
import shutil
import signal

import pytest

from tests.catalog_publish import RULE, publish_catalogue, unique_namespace, write_package
from tests.support.registry import REGISTRY_BINARY, RegistryServer
from tests.support.services import unavailable
from tests.test_install import FIVE, snapshot


@pytest.fixture
def own_registry():
    """A registry this test may stop."""
    if shutil.which(REGISTRY_BINARY) is None:
        unavailable("needs Debian's docker-registry")
    server = RegistryServer()
    yield server, server.start()
    server.stop()


def _lock_matches_files(project) -> None:
    lock = json.loads((project / "rigging.lock").read_text())
    for package in lock["packages"].values():
        for path, digest in package["files"].items():
            assert digest == "sha256:" + hashlib.sha256((project / path).read_bytes()).hexdigest(), path


def test_reinstall_from_lock_and_cache_with_the_registry_stopped(cli, tmp_path, own_registry):
    server, registry = own_registry
    ns = unique_namespace("o")
    publish_catalogue(
        tmp_path,
        registry.host,
        {
            f"{ns}/app": {"1.0.0": {f"{ns}/lib": "^1"}},
            f"{ns}/lib": {"1.0.0": {f"{ns}/base": "^1"}},
            f"{ns}/base": {"1.0.0": {}},
        },
    )
    project = tmp_path / "project"
    project.mkdir()
    (project / "rigging.json").write_text(
        json.dumps({"registry": registry.host, "dependencies": {f"{ns}/app": "^1"}, "targets": FIVE})
    )
    env = {"RIGGING_CACHE_DIR": str(tmp_path / "cache"), "DOCKER_CONFIG": str(tmp_path / "docker")}
    first = cli("install", "-C", project, "--json", env=env)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["requests"] > 0
    installed = snapshot(project)
    assert len(installed) > 10

    server.stop()  # from here on, any request would fail to connect
    for path in project.iterdir():
        if path.name not in ("rigging.json", "rigging.lock"):
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    assert sorted(snapshot(project)) == ["rigging.json", "rigging.lock"]

    for flags in ([], ["--frozen"]):
        again = cli("install", "-C", project, "--json", *flags, env=env)
        assert again.returncode == 0, again.stderr
        report = json.loads(again.stdout)
        assert report["requests"] == 0 and report["resolved"] is False
        assert snapshot(project) == installed


def _publish_versions(tmp_path, host, ns):
    def rule(body):
        return RULE.format(trigger="always_on", description="d", extra="", body=body)

    old = write_package(
        tmp_path / "v1",
        f"{ns}/pkg",
        "1.0.0",
        {f"{ns}/dep": "^1"},
        rules={"a": rule("a one"), "b": rule("b one"), "c": rule("c one")},
        workflows={"w": "---\ndescription: w\n---\nw one\n"},
    )
    new = write_package(
        tmp_path / "v2",
        f"{ns}/pkg",
        "1.1.0",
        {f"{ns}/dep": "^1"},
        rules={"a": rule("a two"), "d": rule("d new"), "c": rule("c one")},
        workflows={"w": "---\ndescription: w\n---\nw two\n"},
    )
    from rigging.transfer import publish

    publish_catalogue(tmp_path, host, {f"{ns}/dep": {"1.0.0": {}}})
    publish(str(old), f"{host}/{ns}/pkg")
    return new


def _crash_scenario(cli, tmp_path, registry, env):
    """A project with pkg 1.0.0 installed, 1.1.0 published (which writes, replaces and deletes
    files), and the state an uninterrupted update reaches."""
    ns = unique_namespace("k")
    new_source = _publish_versions(tmp_path, registry.host, ns)
    base = tmp_path / "base"
    base.mkdir()
    (base / "rigging.json").write_text(
        json.dumps({"registry": registry.host, "dependencies": {f"{ns}/pkg": "^1"}, "targets": FIVE})
    )
    (base / "AGENTS.md").write_text("# Team notes\n")
    assert cli("install", "-C", base, env=env).returncode == 0
    old_state = snapshot(base)

    from rigging.transfer import publish

    publish(str(new_source), f"{registry.host}/{ns}/pkg")
    reference = tmp_path / "reference"
    shutil.copytree(base, reference)
    done = cli("update", "-C", reference, "--json", env=env)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    new_state = snapshot(reference)
    assert new_state != old_state and report["removed"], "the update writes, replaces and deletes files"
    return base, old_state, new_state, len(report["written"])


def _settled(cli, project, env, old_state, new_state) -> str:
    assert cli("list", "-C", project, env=env).returncode == 0  # any command first recovers
    state = snapshot(project)
    assert state in (old_state, new_state), "a mixed state"
    assert not (project / ".rigging").exists()
    _lock_matches_files(project)
    return "old" if state == old_state else "new"


def test_sigkill_at_every_step_leaves_old_or_new_state(cli, tmp_path, registry):
    env = {"RIGGING_CACHE_DIR": str(tmp_path / "cache"), "DOCKER_CONFIG": str(tmp_path / "docker")}
    base, old_state, new_state, staged = _crash_scenario(cli, tmp_path, registry, env)
    outcomes: dict[int, str] = {}
    point = 0
    while True:  # every step of the transaction, until a run gets past the last one
        point += 1
        project = tmp_path / f"run{point}"
        shutil.copytree(base, project)
        killed = cli("update", "-C", project, env={**env, "RIGGING_TEST_KILL_AT": str(point)})
        if killed.returncode == 0:
            assert snapshot(project) == new_state
            break
        assert killed.returncode == -signal.SIGKILL, (point, killed.stderr)
        outcomes[point] = _settled(cli, project, env, old_state, new_state)
        shutil.rmtree(project)
    assert point > 2 * staged, f"only {point - 1} steps: the hook no longer counts each change"
    commit = staged + 1
    assert {p for p, o in outcomes.items() if o == "old"} == set(range(1, commit)), outcomes
    assert {p for p, o in outcomes.items() if o == "new"} == set(range(commit, point)), outcomes


def test_sigkill_during_recovery_is_recovered_in_turn(cli, tmp_path, registry):
    env = {"RIGGING_CACHE_DIR": str(tmp_path / "cache"), "DOCKER_CONFIG": str(tmp_path / "docker")}
    base, old_state, new_state, staged = _crash_scenario(cli, tmp_path, registry, env)
    step = 0
    while True:  # kill the update just after its commit point, then its recovery at each step
        step += 1
        project = tmp_path / f"run{step}"
        shutil.copytree(base, project)
        killed = cli("update", "-C", project, env={**env, "RIGGING_TEST_KILL_AT": str(staged + 1)})
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        recovering = cli("list", "-C", project, env={**env, "RIGGING_TEST_KILL_AT": str(step)})
        if recovering.returncode == 0:
            assert snapshot(project) == new_state
            break
        assert recovering.returncode == -signal.SIGKILL, (step, recovering.stderr)
        assert (project / ".rigging" / "txn" / "plan.json").exists()
        assert _settled(cli, project, env, old_state, new_state) == "new", f"recovery killed at step {step}"
        shutil.rmtree(project)
    assert step > staged, f"recovery took only {step - 1} steps for {staged} staged changes"
