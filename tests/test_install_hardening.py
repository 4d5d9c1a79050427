"""What the lock and the transaction promise, under tampering and concurrency.

A lock (and a transaction journal) arrives with every pull request: a path in it that leaves the
project, or routes through a linked folder, is refused before anything is read, written or
deleted. Two commands in one project take turns. Finishing an interrupted install never
overwrites an edit made after the crash.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.catalog_publish import RULE, unique_namespace, write_package
from tests.conftest import RIGGING
from tests.test_install import snapshot


def _digest(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def _rule(body: str, trigger: str = "always_on") -> str:
    return RULE.format(trigger=trigger, description="d", extra="", body=body)


@pytest.fixture
def published(tmp_path, registry):
    """acme-like package `NS/pkg` 1.0.0 (and 1.1.0, which changes, adds and drops files)."""
    from rigging.transfer import publish

    ns = unique_namespace("h")
    v1 = write_package(
        tmp_path / "v1",
        f"{ns}/pkg",
        "1.0.0",
        rules={"a": _rule("a one"), "b": _rule("b one")},
        workflows={"w": "---\ndescription: w\n---\nw one\n"},
    )
    v2 = write_package(
        tmp_path / "v2",
        f"{ns}/pkg",
        "1.1.0",
        rules={"a": _rule("a two"), "c": _rule("c new")},
        workflows={"w": "---\ndescription: w\n---\nw two\n"},
    )
    publish(str(v1), f"{registry.host}/{ns}/pkg")
    return ns, lambda: publish(str(v2), f"{registry.host}/{ns}/pkg")


def _installed_project(cli, tmp_path, registry, env, ns, targets=None, name="project") -> Path:
    project = tmp_path / name
    project.mkdir()
    data = {"registry": registry.host, "dependencies": {f"{ns}/pkg": "^1"}}
    if targets:
        data["targets"] = targets
    (project / "rigging.json").write_text(json.dumps(data))
    done = cli("install", "-C", project, env=env)
    assert done.returncode == 0, done.stderr
    return project


def _tamper(project: Path, change) -> None:
    path = project / "rigging.lock"
    lock = json.loads(path.read_text())
    change(lock)
    path.write_text(json.dumps(lock, indent=2))


def _disk_state(*folders: Path) -> dict[str, bytes | str]:
    """Every file and link under `folders`, the .rigging journal included."""
    state: dict[str, bytes | str] = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            key = str(path)
            if path.is_symlink():
                state[key] = "link -> " + os.readlink(path)
            elif path.is_file():
                state[key] = path.read_bytes()
    return state


# -- a tampered lock -----------------------------------------------------------------------------

BAD_PATHS = {
    "dotdot": "../victim.txt",
    "deep-dotdot": ".windsurf/rules/../../../victim.txt",
    "absolute": None,  # filled in with the victim's absolute path
    "backslash": "..\\victim.txt",
    "drive": "C:/victim.txt",
    "outside-install-folders": "src/main.py",
    "below-install-folders": ".cursor/rules/team/conventions.mdc",
    "another-name": ".cursor/rules/team.conventions.mdc",
    "linked-parent": ".cursor/rules/{ident}.victim.mdc",
}
COMMANDS = {
    "install": ["install"],
    "frozen": ["install", "--frozen"],
    "update": ["update"],
    "remove": ["remove", "{pkg}"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("kind", sorted(BAD_PATHS))
def test_a_lock_path_that_leaves_the_project_is_refused_and_nothing_is_touched(
    cli, tmp_path, registry, env, published, kind, command
):
    ns, _ = published
    project = _installed_project(cli, tmp_path, registry, env, ns, targets=["windsurf", "claude"])
    outside = tmp_path / "outside"
    (outside / "rules").mkdir(parents=True)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    (outside / "rules" / f"{ns}.pkg.victim.mdc").write_text("precious rule\n")
    (project / "src").mkdir()
    (project / "src" / "main.py").write_text("print('mine')\n")

    (project / ".cursor" / "rules" / "team").mkdir(parents=True)
    for own in ("team/conventions.mdc", "team.conventions.mdc"):  # the team's own rules, not the package's
        (project / ".cursor" / "rules" / own).write_text("our conventions\n")
    listed = (BAD_PATHS[kind] or str(victim)).format(ident=f"{ns}.pkg")
    target = {
        "linked-parent": outside / "rules" / f"{ns}.pkg.victim.mdc",
        "outside-install-folders": project / "src" / "main.py",
        "below-install-folders": project / ".cursor" / "rules" / "team" / "conventions.mdc",
        "another-name": project / ".cursor" / "rules" / "team.conventions.mdc",
    }.get(kind, victim)
    if kind == "linked-parent":
        shutil.rmtree(project / ".cursor")
        (project / ".cursor").symlink_to(outside, target_is_directory=True)

    def add_victim(lock):
        # the victim, listed with its true digest, as a file the package installed: removing the
        # package (or updating it away) would delete it if the path were trusted
        lock["packages"][f"{ns}/pkg"]["files"][listed] = _digest(target)

    _tamper(project, add_victim)
    before = _disk_state(tmp_path / "project", outside, tmp_path / "victim.txt")
    args = [a.format(pkg=f"{ns}/pkg") for a in COMMANDS[command]]
    refused = cli(*args, "-C", project, env=env)
    assert refused.returncode == 1, (refused.stdout, refused.stderr)
    message = refused.stderr.strip()
    assert message.count("\n") == 0 and "Traceback" not in message, message
    assert "rigging.lock" in message and repr(listed) in message and "nothing was changed" in message, message
    if kind == "linked-parent":
        assert ".cursor, a symbolic link" in message
    if kind in ("outside-install-folders", "below-install-folders"):
        assert "not directly inside a folder rigging installs to" in message
    if kind == "another-name":
        assert f"is not named for the package ({ns}.pkg.*)" in message
    assert _disk_state(tmp_path / "project", outside, tmp_path / "victim.txt") == before
    assert target.exists()


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("managed", {"../victim.md": {"sha256": "sha256:" + "0" * 64}}, "managed '../victim.md'"),
        ("content", {"digest": "sha256:../../../../victim", "size": 1}, "sha256 digests"),
        ("name", "../../victim", "package '../../victim'"),
        ("tag", "1.0.0/../../x", "do not agree"),
    ],
)
def test_other_tampered_lock_fields_are_refused(cli, tmp_path, registry, env, published, field, value, expected):
    ns, _ = published
    project = _installed_project(cli, tmp_path, registry, env, ns, targets=["windsurf", "claude"])

    def change(lock):
        if field == "managed":
            lock["managed"].update(value)
        elif field == "name":
            lock["packages"][value] = lock["packages"].pop(f"{ns}/pkg")
        else:
            lock["packages"][f"{ns}/pkg"][field] = value

    _tamper(project, change)
    before = snapshot(project)
    for args in (["install"], ["install", "--frozen"], ["list"]):
        refused = cli(*args, "-C", project, env=env)
        assert refused.returncode == 1 and expected in refused.stderr, (args, refused.stderr)
        assert "Traceback" not in refused.stderr
    assert snapshot(project) == before


def test_a_lock_naming_another_registry_is_refused_when_frozen_and_relocked_otherwise(
    cli, tmp_path, registry, env, published
):
    ns, _ = published
    project = _installed_project(cli, tmp_path, registry, env, ns, targets=["windsurf"])
    honest = (project / "rigging.lock").read_text()
    _tamper(project, lambda lock: lock["packages"][f"{ns}/pkg"].update(source=f"evil.example/{ns}/pkg"))
    before = snapshot(project)
    frozen = cli("install", "--frozen", "-C", project, env=env)
    assert frozen.returncode == 1, frozen.stderr
    assert f"is locked from evil.example/{ns}/pkg, but rigging.json places it at {registry.host}/{ns}/pkg" in (
        frozen.stderr
    )
    assert snapshot(project) == before
    relocked = cli("install", "-C", project, env=env)
    assert relocked.returncode == 0, relocked.stderr
    assert (project / "rigging.lock").read_text() == honest, "resolved again from where rigging.json says"


def test_a_linked_install_folder_is_refused_before_anything_is_written(cli, tmp_path, registry, env, published):
    ns, _ = published
    project = tmp_path / "project"
    project.mkdir()
    (project / "rigging.json").write_text(
        json.dumps({"registry": registry.host, "dependencies": {f"{ns}/pkg": "^1"}, "targets": ["windsurf"]})
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (project / ".windsurf").symlink_to(elsewhere, target_is_directory=True)
    refused = cli("install", "-C", project, env=env)
    assert refused.returncode == 1
    assert ".windsurf, a symbolic link" in refused.stderr and "cannot install .windsurf/" in refused.stderr
    assert list(elsewhere.iterdir()) == [], "nothing was written through the link"
    assert sorted(p.name for p in project.iterdir()) == [".windsurf", "rigging.json"]


def test_a_linked_managed_file_is_not_followed(cli, tmp_path, registry, env, published):
    ns, _ = published
    project = tmp_path / "project"
    project.mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text("do not copy me\n")
    (project / "AGENTS.md").symlink_to(secret)
    (project / "rigging.json").write_text(
        json.dumps({"registry": registry.host, "dependencies": {f"{ns}/pkg": "^1"}, "targets": ["agents"]})
    )
    refused = cli("install", "-C", project, env=env)
    assert refused.returncode == 1 and "AGENTS.md: a symbolic link" in refused.stderr, refused.stderr
    assert '"targets"' in refused.stderr
    assert secret.read_text() == "do not copy me\n" and (project / "AGENTS.md").is_symlink()
    assert not (project / "rigging.lock").exists()


def test_a_planted_journal_cannot_reach_outside_the_project(cli, tmp_path, registry, env, published):
    ns, _ = published
    project = _installed_project(cli, tmp_path, registry, env, ns, targets=["windsurf"])
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    txn = project / ".rigging" / "txn"
    txn.mkdir(parents=True)
    plan = {
        "version": 2,
        "changes": [{"op": "delete", "path": "../victim.txt", "before": _digest(victim), "after": None}],
        "prune": [],
    }
    (txn / "plan.json").write_text(json.dumps(plan))
    for args in (["list"], ["install"], ["install", "--force"]):
        refused = cli(*args, "-C", project, env=env)
        assert refused.returncode == 1, refused.stderr
        assert "plan.json: refusing a change to a path that leaves the project" in refused.stderr
    assert victim.read_text() == "precious\n"

    # a journal folder that is a link elsewhere is refused too
    shutil.rmtree(project / ".rigging")
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "txn").mkdir(parents=True)
    (project / ".rigging").symlink_to(elsewhere, target_is_directory=True)
    refused = cli("update", "-C", project, env=env)
    assert refused.returncode == 1 and ".rigging, a symbolic link" in refused.stderr, refused.stderr
    assert list((elsewhere / "txn").iterdir()) == []


# -- two commands at once ------------------------------------------------------------------------


def _start(*args: str | Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [str(RIGGING), *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )


def test_twenty_rounds_of_two_installs_at_once_both_end_cleanly(cli, tmp_path, registry, env, published):
    ns, _ = published
    reference = _installed_project(cli, tmp_path, registry, env, ns, name="reference")
    expected = snapshot(reference)
    waited = 0
    for n in range(20):
        project = tmp_path / f"round{n}"
        project.mkdir()
        shutil.copy(reference / "rigging.json", project / "rigging.json")
        if n % 2:  # odd rounds: the lock is there, the files are not (a fresh checkout)
            shutil.copy(reference / "rigging.lock", project / "rigging.lock")
        round_env = {**env, "RIGGING_CACHE_DIR": str(tmp_path / f"cache{n}")}  # cold: both go to the registry
        procs = [_start("install", "-C", project, env=round_env) for _ in range(2)]
        reader = _start("list", "--json", "-C", project, env=round_env)
        outputs = [p.communicate(timeout=120) for p in procs]
        for proc, (out, err) in zip(procs, outputs, strict=True):
            assert proc.returncode == 0, (n, out, err)
            assert "error" not in err, (n, err)
            assert out.startswith("installed 1 package(s)"), (n, out)
        waited += sum("waiting for another rigging command" in err for _, err in outputs)
        listed_out, listed_err = reader.communicate(timeout=120)
        if reader.returncode == 0:  # it ran after an install: it sees the whole of it
            assert [r["name"] for r in json.loads(listed_out)] == [f"{ns}/pkg"], listed_out
        else:  # it ran before either: there is no lock yet, and it says so
            assert n % 2 == 0 and "no rigging.lock" in listed_err, (n, listed_err)
        assert snapshot(project) == expected, f"round {n}"
        assert not (project / ".rigging").exists()
    assert waited >= 1, "in 20 rounds the two installs never overlapped: the test proved nothing"


def test_a_command_waits_for_the_project_lock_and_gives_up_after_the_timeout(cli, tmp_path, registry, env, published):
    from rigging.folder_lock import hold

    ns, _ = published
    project = tmp_path / "project"
    project.mkdir()
    (project / "rigging.json").write_text(
        json.dumps({"registry": registry.host, "dependencies": {f"{ns}/pkg": "^1"}, "targets": ["windsurf"]})
    )
    with hold(project):  # as another rigging process would
        gave_up = cli("install", "-C", project, env={**env, "RIGGING_LOCK_TIMEOUT": "1"})
        assert gave_up.returncode == 1
        assert "waiting for another rigging command to finish" in gave_up.stderr
        assert "another rigging command has been changing this project for over 1 s" in gave_up.stderr
        assert sorted(p.name for p in project.iterdir()) == ["rigging.json"]

        waiting = _start("install", "-C", project, env=env)
        reader = _start("list", "-C", project, env=env)
        time.sleep(1.5)
        assert waiting.poll() is None and reader.poll() is None, "both wait while the lock is held"
        assert sorted(p.name for p in project.iterdir()) == ["rigging.json"]
    out, err = waiting.communicate(timeout=120)
    assert waiting.returncode == 0 and "waiting for another rigging command" in err, err
    assert out.startswith("installed 1 package(s)")
    reader.communicate(timeout=120)
    assert (project / "rigging.lock").exists()


# -- crash, then an edit, then recovery ------------------------------------------------------------


def _kill_after_commit(cli, tmp_path, registry, env, published, targets):
    """An update SIGKILLed just after its commit point: every change planned, none applied."""
    ns, publish_v2 = published
    project = _installed_project(cli, tmp_path, registry, env, ns, targets=targets)
    if "agents" in targets:
        (project / "AGENTS.md").write_text((project / "AGENTS.md").read_text() + "\nTeam notes.\n")
    publish_v2()
    reference = tmp_path / "reference"
    shutil.copytree(project, reference)
    done = cli("update", "-C", reference, "--json", env=env)
    assert done.returncode == 0, done.stderr
    staged = len(json.loads(done.stdout)["written"])
    killed = cli("update", "-C", project, env={**env, "RIGGING_TEST_KILL_AT": str(staged + 1)})
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert (project / ".rigging" / "txn" / "plan.json").exists()
    return ns, project, reference


def test_an_edit_made_after_a_crash_survives_recovery_unless_forced(cli, tmp_path, registry, env, published):
    ns, project, reference = _kill_after_commit(cli, tmp_path, registry, env, published, ["claude", "agents"])
    rule = project / f".claude/rules/{ns}.pkg.a.md"
    assert "a one" in rule.read_text(), "not applied yet"
    rule.write_text("my own words\n")

    for args in (["list"], ["tree"], ["install"], ["update"]):
        refused = cli(*args, "-C", project, env=env)
        assert refused.returncode == 1, (args, refused.stderr)
        assert "interrupted install" in refused.stderr and rule.relative_to(project).as_posix() in refused.stderr
        assert "--force" in refused.stderr
        assert rule.read_text() == "my own words\n"
    assert (project / ".rigging" / "txn" / "plan.json").exists(), "the transaction waits for a decision"

    forced = cli("install", "--force", "-C", project, env=env)
    assert forced.returncode == 0, forced.stderr
    assert snapshot(project) == snapshot(reference)
    assert not (project / ".rigging").exists()


def test_notes_added_beside_the_managed_section_after_a_crash_are_kept(cli, tmp_path, registry, env, published):
    _, project, reference = _kill_after_commit(cli, tmp_path, registry, env, published, ["windsurf", "agents"])
    agents = project / "AGENTS.md"
    agents.write_text(agents.read_text() + "\nWritten after the crash.\n")
    listed = cli("list", "-C", project, env=env)
    assert listed.returncode == 0, listed.stderr
    text = agents.read_text()
    assert text.endswith("Team notes.\n\nWritten after the crash.\n"), text
    expected = (reference / "AGENTS.md").read_text()
    from rigging.managed_section import current_section

    assert current_section(text) == current_section(expected), "the new section was spliced in"
    assert {k: v for k, v in snapshot(project).items() if k != "AGENTS.md"} == {
        k: v for k, v in snapshot(reference).items() if k != "AGENTS.md"
    }


def test_an_edit_inside_the_managed_section_after_a_crash_stops_recovery(cli, tmp_path, registry, env, published):
    _, project, reference = _kill_after_commit(cli, tmp_path, registry, env, published, ["windsurf", "agents"])
    agents = project / "AGENTS.md"
    agents.write_text(agents.read_text().replace("a one", "a mine"))
    refused = cli("list", "-C", project, env=env)
    assert refused.returncode == 1 and "AGENTS.md" in refused.stderr, refused.stderr
    assert "a mine" in agents.read_text()
    assert cli("install", "--force", "-C", project, env=env).returncode == 0
    assert snapshot(project)["AGENTS.md"] == snapshot(reference)["AGENTS.md"]


def test_a_file_removed_after_a_crash_is_simply_written(cli, tmp_path, registry, env, published):
    ns, project, reference = _kill_after_commit(cli, tmp_path, registry, env, published, ["windsurf"])
    (project / f".windsurf/rules/{ns}.pkg.a.md").unlink()
    listed = cli("list", "-C", project, env=env)
    assert listed.returncode == 0, listed.stderr
    assert snapshot(project) == snapshot(reference)


# -- what an adversarial review found, kept fixed ----------------------------------------------------


def test_a_lock_pairing_a_signed_manifest_with_other_content_is_refused(cli, tmp_path, registry, signing_env, keys):
    """A signature covers the manifest; the lock's content digest must be the one it names."""
    from tests.packages import make_package

    good, _ = keys
    name = f"{unique_namespace('s')}/signed"
    for version, rule in (("1.0.0", None), ("1.1.0", "Only in the unsigned 1.1.0.")):
        pkg = make_package(tmp_path / version, name, version, extra_rule=rule)
        sign = ["--sign", "--key", good / "cosign.key"] if version == "1.0.0" else []
        assert cli("publish", pkg, f"{registry.host}/{name}", *sign, env=signing_env).returncode == 0
    project = tmp_path / "project"
    (project / "keys").mkdir(parents=True)
    (project / "keys" / "trusted.pub").write_bytes((good / "cosign.pub").read_bytes())
    policy = {"mode": "enforce", "require": [{"packages": name, "keys": ["keys/trusted.pub"]}]}
    data = {"registry": registry.host, "dependencies": {name: "~1.0.0"}, "targets": ["cursor"], "signatures": policy}
    (project / "rigging.json").write_text(json.dumps(data))
    assert cli("install", "-C", project, env=signing_env).returncode == 0

    # the unsigned 1.1.0's content, slipped under the signed 1.0.0's manifest
    unsigned = tmp_path / "unsigned"
    unsigned.mkdir()
    unsigned_data = {"registry": registry.host, "dependencies": {name: "1.1.0"}, "targets": ["cursor"]}
    (unsigned / "rigging.json").write_text(json.dumps(unsigned_data))
    assert cli("install", "-C", unsigned, env=signing_env).returncode == 0
    unsigned_content = json.loads((unsigned / "rigging.lock").read_text())["packages"][name]["content"]
    _tamper(project, lambda lock: lock["packages"][name].update(content=unsigned_content))
    shutil.rmtree(project / ".cursor")  # a fresh checkout: the lock and the policy, no files yet
    before = snapshot(project)
    for flags in ([], ["--frozen"], ["--locked"]):
        refused = cli("install", "-C", project, *flags, env=signing_env)
        assert refused.returncode == 1, (flags, refused.stderr)
        assert f"{name} 1.0.0 does not match its manifest" in refused.stderr, refused.stderr
        assert snapshot(project) == before


def test_a_planted_journal_cannot_read_or_move_files_through_links(cli, tmp_path, registry, env, published):
    ns, _ = published
    project = _installed_project(cli, tmp_path, registry, env, ns, targets=["claude", "agents"])
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET=hunter2\n")
    staged = project / ".rigging" / "txn" / "staged"
    staged.mkdir(parents=True)
    (staged / "0").symlink_to(secret)
    plan = {
        "version": 2,
        "prune": [],
        "changes": [{"op": "section", "path": "AGENTS.md", "before": None, "after": None, "staged": "0"}],
    }
    (project / ".rigging" / "txn" / "plan.json").write_text(json.dumps(plan))
    refused = cli("list", "-C", project, env=env)
    assert refused.returncode == 1 and "staged/0 is not a file rigging staged" in refused.stderr, refused.stderr
    assert "hunter2" not in (project / "AGENTS.md").read_text()

    shutil.rmtree(project / ".rigging")
    outdir = tmp_path / "outdir"
    outdir.mkdir()
    (project / ".rigging" / "txn").mkdir(parents=True)
    (project / ".rigging" / "txn" / "trash").symlink_to(outdir, target_is_directory=True)
    rule = f".claude/rules/{ns}.pkg.a.md"
    plan = {
        "version": 2,
        "prune": [],
        "changes": [{"op": "delete", "path": rule, "before": _digest(project / rule), "after": None}],
    }
    (project / ".rigging" / "txn" / "plan.json").write_text(json.dumps(plan))
    refused = cli("list", "-C", project, env=env)
    assert refused.returncode == 1 and "trash, a symbolic link" in refused.stderr, refused.stderr
    assert (project / rule).exists() and list(outdir.iterdir()) == []


def test_a_planted_temporary_file_is_not_written_through(cli, tmp_path, registry, env, published):
    ns, publish_v2 = published
    project = _installed_project(cli, tmp_path, registry, env, ns, targets=["agents"])
    outside = tmp_path / "outside.txt"
    outside.write_text("untouched\n")
    (project / ".AGENTS.md.rigging-tmp").symlink_to(outside)
    (project / ".AGENTS.md.x.rigging-tmp").mkdir()
    publish_v2()
    updated = cli("update", "-C", project, env=env)
    assert updated.returncode == 0, updated.stderr
    assert outside.read_text() == "untouched\n" and not (project / "AGENTS.md").is_symlink()
    assert "a two" in (project / "AGENTS.md").read_text()


def test_overlong_names_are_refused_before_the_commit_point(cli, tmp_path, registry, env, published):
    ns, _ = published
    project = _installed_project(cli, tmp_path, registry, env, ns, targets=["windsurf"])
    long_name = f".windsurf/rules/{ns}.pkg.{'x' * 300}.md"
    _tamper(project, lambda lock: lock["packages"][f"{ns}/pkg"]["files"].update({long_name: "sha256:" + "0" * 64}))
    before = snapshot(project)
    for flags in ([], ["--force"]):
        refused = cli("install", "-C", project, *flags, env=env)
        assert refused.returncode == 1 and "is too long" in refused.stderr, refused.stderr
        assert snapshot(project) == before and not (project / ".rigging").exists()


def test_a_published_rule_with_an_overlong_name_fails_cleanly(cli, tmp_path, registry, env):
    """Published by hand (rigging publish would refuse it): the install stops before its journal."""
    from rigging.registry.client import RegistryClient

    from tests.support.raw_package import push_raw_package, tar_gz

    name = f"{unique_namespace('l')}/long"
    stem = "r" * 250
    config = json.dumps({"name": name, "version": "1.0.0"}).encode()
    layer = tar_gz({"long/rigging.json": config, f"long/rules/{stem}.md": _rule("long").encode()})
    with RegistryClient(registry.host) as client:
        push_raw_package(client, name, "1.0.0", config, layer, "long")
    project = tmp_path / "project"
    project.mkdir()
    (project / "rigging.json").write_text(
        json.dumps({"registry": registry.host, "dependencies": {name: "^1"}, "targets": ["windsurf"]})
    )
    refused = cli("install", "-C", project, env=env)
    assert refused.returncode == 1 and "is too long" in refused.stderr and stem[:40] in refused.stderr, refused.stderr
    assert sorted(p.name for p in project.iterdir()) == ["rigging.json"]


def test_the_managed_section_is_found_after_its_begin_marker(cli, tmp_path, registry, env, published):
    ns, _ = published
    project = tmp_path / "project"
    project.mkdir()
    notes = "# Notes\n\nWe mention `<!-- rigging:end -->` in prose.\n"
    (project / "AGENTS.md").write_text(notes)
    (project / "rigging.json").write_text(
        json.dumps({"registry": registry.host, "dependencies": {f"{ns}/pkg": "^1"}, "targets": ["agents"]})
    )
    for _ in range(3):
        assert cli("install", "-C", project, env=env).returncode == 0
    text = (project / "AGENTS.md").read_text()
    assert text.startswith(notes) and text.count("rigging:begin") == 1, text
    assert cli("remove", f"{ns}/pkg", "-C", project, env=env).returncode == 0
    assert (project / "AGENTS.md").read_text() == notes


def test_a_package_holding_the_section_marker_is_refused(cli, tmp_path, registry, env):
    """Published by hand (rigging publish refuses it, RIG307): install refuses it too."""
    from rigging.registry.client import RegistryClient

    from tests.support.raw_package import push_raw_package, tar_gz

    name = f"{unique_namespace('m')}/marker"
    config = json.dumps({"name": name, "version": "1.0.0"}).encode()
    rule = _rule("Be brief.\n<!-- rigging:end -->\nMore.").encode()
    layer = tar_gz({"marker/rigging.json": config, "marker/rules/sneaky.md": rule})
    with RegistryClient(registry.host) as client:
        push_raw_package(client, name, "1.0.0", config, layer, "marker")
    project = tmp_path / "project"
    project.mkdir()
    data = {"registry": registry.host, "dependencies": {name: "^1"}, "targets": ["agents"]}
    (project / "rigging.json").write_text(json.dumps(data))
    refused = cli("install", "-C", project, env=env)
    assert refused.returncode == 1, refused.stderr
    assert "rules/sneaky.md:7 holds rigging's managed-section marker" in refused.stderr, refused.stderr
    assert sorted(p.name for p in project.iterdir()) == ["rigging.json"]


def test_a_folder_where_a_package_file_goes_is_named(cli, tmp_path, registry, env, published):
    ns, _ = published
    project = tmp_path / "project"
    (project / ".windsurf" / "rules" / f"{ns}.pkg.a.md").mkdir(parents=True)
    (project / "rigging.json").write_text(
        json.dumps({"registry": registry.host, "dependencies": {f"{ns}/pkg": "^1"}, "targets": ["windsurf"]})
    )
    refused = cli("install", "-C", project, env=env)
    assert refused.returncode == 1, refused.stderr
    assert f".windsurf/rules/{ns}.pkg.a.md is your folder, not installed by rigging" in refused.stderr, refused.stderr


@pytest.mark.parametrize("value", ["nan", "-1", "soon"])
def test_a_bad_lock_timeout_is_one_clear_line(cli, tmp_path, registry, env, published, value):
    ns, _ = published
    project = _installed_project(cli, tmp_path, registry, env, ns, targets=["windsurf"])
    refused = cli("install", "-C", project, env={**env, "RIGGING_LOCK_TIMEOUT": value})
    assert refused.returncode == 1 and f"RIGGING_LOCK_TIMEOUT={value!r} is not a number of seconds" in refused.stderr
