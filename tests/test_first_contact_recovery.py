"""Honest recovery: a lost or damaged rigging.lock is rebuilt from the files on disk, and a file
at a path rigging writes is named for what it is (edited since rigging installed it, the user's
own, or unknown for want of a lock), against the real registry, through the CLI."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from rigging.transfer import publish

from tests.catalog_publish import unique_namespace
from tests.conftest import run_cli
from tests.test_install import snapshot

pytestmark = pytest.mark.usefixtures("umask_022")

TARGETS = ["windsurf", "cursor", "claude", "agents"]
HOUSE_NOTES = "# Our agents\n\nHouse rules stay here.\n"
SKILL = (
    "---\nname: lint\ndescription: Lint the change before a commit. Use when asked to lint.\n---\n\n# Lint\n\n{body}\n"
)
RULE = "---\ntrigger: {trigger}\ndescription: {description}\n---\n\n{body}\n"


def _kit(root: Path, name: str, version: str, body: str, more: bool = False) -> Path:
    """A package with an always-on rule (AGENTS.md's section), a rule, a workflow and a skill with a script."""
    made = run_cli("new", root, "--name", name, "--version", version)
    assert made.returncode == 0, made.stderr
    (root / "rules" / "house.md").write_text(RULE.format(trigger="always_on", description="House", body=body))
    (root / "rules" / "extra.md").write_text(RULE.format(trigger="model_decision", description="SQL", body=body))
    if more:
        (root / "rules" / "more.md").write_text(RULE.format(trigger="model_decision", description="More", body="More."))
    skill = root / "skills" / "lint"
    (skill / "scripts").mkdir(parents=True)
    (skill / "SKILL.md").write_text(SKILL.format(body=body))
    (skill / "scripts" / "run.sh").write_text("#!/bin/sh\necho lint\n")
    (skill / "scripts" / "run.sh").chmod(0o755)
    return root


@pytest.fixture
def kit(tmp_path, registry) -> tuple[str, Callable[[], None]]:
    """`NS/kit` 1.0.0 published; the second item publishes 1.1.0 (one rule changed, one added)."""
    name = f"{unique_namespace('r')}/kit"
    publish(str(_kit(tmp_path / "kit1", name, "1.0.0", "Kit one.")), f"{registry.host}/{name}")

    def publish_v2() -> None:
        publish(str(_kit(tmp_path / "kit2", name, "1.1.0", "Kit two.", more=True)), f"{registry.host}/{name}")

    return name, publish_v2


def _project(tmp_path: Path, registry, deps: dict[str, str], folder: str = "project") -> Path:
    project = tmp_path / folder
    project.mkdir()
    (project / "rigging.json").write_text(
        json.dumps({"registry": registry.host, "dependencies": deps, "targets": TARGETS})
    )
    (project / "AGENTS.md").write_text(HOUSE_NOTES)
    return project


def _installed(cli, tmp_path: Path, registry, env, deps: dict[str, str], folder: str = "project") -> Path:
    project = _project(tmp_path, registry, deps, folder)
    done = cli("install", "-C", project, env=env)
    assert done.returncode == 0, done.stderr
    return project


def _one_line(stderr: str) -> str:
    message = stderr.strip()
    assert message.count("\n") == 0 and "Traceback" not in message, stderr
    return message


def _lock(project: Path) -> dict:
    return json.loads((project / "rigging.lock").read_text())


def test_a_deleted_lock_is_rebuilt_from_the_unchanged_files(cli, tmp_path, registry, env, kit):
    name, _ = kit
    project = _installed(cli, tmp_path, registry, env, {name: "^1"})
    honest = (project / "rigging.lock").read_bytes()
    installed = snapshot(project)
    locked = _lock(project)
    files = locked["packages"][name]["files"]
    assert locked["managed"] and any(p.startswith(".claude/skills/lint/") for p in files), "every kind of path"
    script = project / ".claude/skills/lint/scripts/run.sh"
    assert stat.S_IMODE(script.stat().st_mode) == 0o755

    (project / "rigging.lock").unlink()
    listed = cli("list", "-C", project, env=env)
    assert listed.returncode == 1 and "`rigging install`" in _one_line(listed.stderr), "list says what to do"

    done = cli("install", "-C", project, "--json", env=env)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["written"] == ["rigging.lock"], "no file was rewritten, none refused as 'changed'"
    assert report["adopted"] == len(files) + len(locked["managed"])
    assert report["rebuilt"].startswith("there was no rigging.lock: rebuilt it from rigging.json"), report
    assert (project / "rigging.lock").read_bytes() == honest
    assert snapshot(project) == installed and stat.S_IMODE(script.stat().st_mode) == 0o755

    (project / "rigging.lock").unlink()
    again = cli("install", "-C", project, env=env)
    assert again.returncode == 0, again.stderr
    notes = [line for line in again.stderr.splitlines() if "rigging.lock" in line]
    assert notes == [
        f"note: there was no rigging.lock: rebuilt it from rigging.json and the files on disk "
        f"({report['adopted']} already as the packages write them)"
    ], again.stderr
    assert (project / "rigging.lock").read_bytes() == honest


def _truncated(honest: bytes) -> bytes:
    return honest[: len(honest) // 2]


def _merge_conflict(honest: bytes) -> bytes:
    return b"<<<<<<< HEAD\n" + honest + b"=======\n" + honest.replace(b"1.0.0", b"1.0.1") + b">>>>>>> theirs\n"


DAMAGE: dict[str, tuple[Callable[[bytes], bytes], str]] = {
    "empty": (lambda honest: b"", "(empty)"),
    "truncated": (_truncated, "(not JSON: "),
    "merge-conflict": (_merge_conflict, "(it holds a merge conflict)"),
    "not-utf8": (lambda honest: b"\xff\xfe" + honest, "(not UTF-8 text)"),
    "not-an-object": (lambda honest: b"[]\n", "(its JSON is not an object)"),
    "no-version": (
        lambda honest: json.dumps({k: v for k, v in json.loads(honest).items() if k != "lockfileVersion"}).encode(),
        "(lockfileVersion is missing)",
    ),
    "wrong-shape": (
        lambda honest: json.dumps({**json.loads(honest), "packages": []}).encode(),
        "(malformed: AttributeError: ",
    ),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_lock_is_rebuilt_when_the_files_agree(cli, tmp_path, registry, env, kit, damage):
    name, _ = kit
    project = _installed(cli, tmp_path, registry, env, {name: "^1"})
    honest = (project / "rigging.lock").read_bytes()
    damaged, why = DAMAGE[damage]
    (project / "rigging.lock").write_bytes(damaged(honest))
    before = snapshot(project)

    for args in (["list"], ["install", "--frozen"], ["install", "--locked"]):
        refused = cli(*args, "-C", project, env=env)
        message = _one_line(refused.stderr)
        assert refused.returncode == 1, (args, refused.stderr)
        assert f"rigging.lock: damaged {why}" in message, message
        assert "run `rigging install` to rebuild it from rigging.json and the files on disk" in message
    assert snapshot(project) == before, "the frozen and locked installs never rebuild a lock"

    done = cli("install", "-C", project, env=env)
    assert done.returncode == 0, done.stderr
    notes = [line for line in done.stderr.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and notes[0].startswith(f"note: rigging.lock was damaged {why}"), done.stderr
    assert "rebuilt it from rigging.json and the files on disk" in notes[0]
    assert (project / "rigging.lock").read_bytes() == honest
    assert {k: v for k, v in snapshot(project).items() if k != "rigging.lock"} == {
        k: v for k, v in before.items() if k != "rigging.lock"
    }


def test_a_lock_from_a_newer_rigging_is_refused_not_rebuilt(cli, tmp_path, registry, env, kit):
    name, _ = kit
    project = _installed(cli, tmp_path, registry, env, {name: "^1"})
    lock = _lock(project) | {"lockfileVersion": 7}
    (project / "rigging.lock").write_text(json.dumps(lock))
    before = snapshot(project)
    refused = cli("install", "-C", project, env=env)
    message = _one_line(refused.stderr)
    assert refused.returncode == 1 and "lockfileVersion 7 was written by a newer rigging" in message, message
    assert "upgrade rigging" in message and snapshot(project) == before


@pytest.mark.parametrize("lost", ["deleted", "damaged"])
def test_after_a_lost_lock_only_files_that_differ_are_named_and_force_settles_them(
    cli, tmp_path, registry, env, kit, lost
):
    name, _ = kit
    project = _installed(cli, tmp_path, registry, env, {name: "^1"})
    honest = (project / "rigging.lock").read_bytes()
    ident = name.replace("/", ".")
    rule = f".windsurf/rules/{ident}.extra.md"
    (project / rule).write_text((project / rule).read_text() + "\nOur own line.\n")
    agents = project / "AGENTS.md"
    agents.write_text(agents.read_text().replace("Kit one.", "Kit mine."))
    if lost == "deleted":
        (project / "rigging.lock").unlink()
    else:
        (project / "rigging.lock").write_text('{"lockfileVersion": 1, "packages": ')
    before = snapshot(project)

    refused = cli("install", "-C", project, env=env)
    message = _one_line(refused.stderr)
    assert refused.returncode == 1, refused.stderr
    words = "no rigging.lock" if lost == "deleted" else "rigging.lock damaged"
    assert (
        f"{rule} is not what {name} 1.0.0 writes there, and with {words} rigging cannot tell whether it is yours"
    ) in message, message
    assert f"the rigging section of AGENTS.md is not what the packages write there, and with {words}" in message
    assert "rerun with --force to overwrite them" in message and "nothing was changed" in message
    assert "changed since rigging installed" not in message, "rigging cannot know that without a lock"
    assert snapshot(project) == before

    forced = cli("install", "--force", "--json", "-C", project, env=env)
    assert forced.returncode == 0, forced.stderr
    report = json.loads(forced.stdout)
    assert {(c["path"], c["reason"]) for c in report["overwritten"]} == {(rule, "unlisted"), ("AGENTS.md", "unlisted")}
    assert (project / "rigging.lock").read_bytes() == honest
    assert agents.read_text().startswith(HOUSE_NOTES) and "Kit one." in agents.read_text()


def test_a_users_own_file_is_named_as_theirs_and_an_edited_one_as_edited(cli, tmp_path, registry, env, kit):
    name, publish_v2 = kit
    project = _installed(cli, tmp_path, registry, env, {name: "^1"})
    v1_files = _lock(project)["packages"][name]["files"]
    publish_v2()
    twin = _installed(cli, tmp_path, registry, env, {name: "^1"}, folder="twin")
    v2_files = _lock(twin)["packages"][name]["files"]
    ident = name.replace("/", ".")
    own, own_folder = f".windsurf/rules/{ident}.more.md", f".cursor/rules/{ident}.more.mdc"
    edited = f".windsurf/rules/{ident}.extra.md"
    assert {own, own_folder} <= set(v2_files) - set(v1_files) and v1_files[edited] != v2_files[edited]

    (project / own).write_text("Our own rule, written before the package had one.\n")
    (project / own_folder).mkdir()
    (project / own_folder / "notes.txt").write_text("ours\n")
    (project / edited).write_text("Our edit.\n")
    before = snapshot(project)

    refused = cli("update", "-C", project, env=env)
    message = _one_line(refused.stderr)
    assert refused.returncode == 1, refused.stderr
    assert f"{own} is your file, not installed by rigging" in message, message
    assert f"{own_folder} is your folder, not installed by rigging (--force never replaces a folder)" in message
    assert f"{edited} was changed since rigging installed it" in message
    assert f"{own} was changed" not in message and "move them aside, or rerun with --force" in message
    assert snapshot(project) == before

    still = cli("update", "--force", "-C", project, env=env)
    message = _one_line(still.stderr)
    assert still.returncode == 1 and f" {own_folder} is your folder" in message, message
    assert f"{own} " not in message and f"{edited} " not in message, "--force settles the others"
    assert message.endswith("so nothing was changed; move it aside"), "--force is no fix for a folder"
    assert snapshot(project) == before and (project / own_folder / "notes.txt").read_text() == "ours\n"

    (project / own_folder / "notes.txt").unlink()
    (project / own_folder).rmdir()
    forced = cli("update", "--force", "--json", "-C", project, env=env)
    assert forced.returncode == 0, forced.stderr
    report = json.loads(forced.stdout)
    assert [(c["path"], c["reason"], c["package"]) for c in report["overwritten"]] == [
        (edited, "edited", name),
        (own, "yours", name),
    ]
    assert report["packages"] == {name: "1.1.0"}
    assert {k: v for k, v in snapshot(project).items() if k != "rigging.lock"} == {
        k: v for k, v in snapshot(twin).items() if k != "rigging.lock"
    }

    text = cli("install", "-C", twin, "--force", env=env)  # nothing to force: no note
    assert text.returncode == 0 and "--force" not in text.stderr, text.stderr


def test_the_conflicts_carry_their_reasons_for_json_errors(tmp_path, registry, env, kit):
    from rigging.cache import BlobCache
    from rigging.installer import FileConflicts, install

    name, _ = kit
    project = _project(tmp_path, registry, {name: "^1"})
    ident = name.replace("/", ".")
    mine = project / f".cursor/rules/{ident}.extra.mdc"
    mine.parent.mkdir(parents=True)
    mine.write_text("ours\n")
    with pytest.raises(FileConflicts) as caught:
        install(project, cache=BlobCache(tmp_path / "cache"))
    assert caught.value.details == {
        "conflicts": [
            {
                "path": f".cursor/rules/{ident}.extra.mdc",
                "reason": "unlisted",
                "package": name,
                "op": "overwrite",
                "message": f".cursor/rules/{ident}.extra.mdc is not what {name} 1.0.0 writes there, and with no "
                "rigging.lock rigging cannot tell whether it is yours",
            }
        ]
    }
    assert sorted(p.name for p in project.iterdir()) == [".cursor", "AGENTS.md", "rigging.json"]


def test_remove_after_a_lost_lock_removes_what_the_package_wrote_and_names_what_it_left(
    cli, tmp_path, registry, env, kit
):
    name, _ = kit
    other = f"{name.split('/')[0]}/other"
    publish(str(_kit(tmp_path / "other", other, "1.0.0", "Other one.").resolve()), f"{registry.host}/{other}")
    # both install a skill called lint: the second one is renamed
    project = _project(tmp_path, registry, {name: "^1", other: "^1"})
    data = json.loads((project / "rigging.json").read_text())
    data["renameSkills"] = {f"{other}/lint": "other-lint"}
    (project / "rigging.json").write_text(json.dumps(data))
    assert cli("install", "-C", project, env=env).returncode == 0
    twin = _project(tmp_path, registry, {other: "^1"}, folder="twin")
    twin_data = json.loads((twin / "rigging.json").read_text())
    (twin / "rigging.json").write_text(json.dumps({**twin_data, "renameSkills": data["renameSkills"]}))
    assert cli("install", "-C", twin, env=env).returncode == 0

    ident = name.replace("/", ".")
    edited = f".windsurf/rules/{ident}.extra.md"
    assert edited in _lock(project)["packages"][name]["files"]
    (project / edited).write_text("Our edit.\n")
    (project / "rigging.lock").unlink()
    removed = cli("remove", name, "--json", "-C", project, env=env)
    assert removed.returncode == 0, removed.stderr
    report = json.loads(removed.stdout)
    assert report["packages"] == {other: "1.0.0"} and report["rebuilt"].startswith("there was no rigging.lock")
    assert any(
        w.startswith(f"left {edited} in place: it is not what {name} 1.0.0 writes there") for w in report["warnings"]
    ), report["warnings"]
    left = snapshot(project)
    assert left.pop(edited) == b"Our edit.\n", "the edited file is left, and named"
    assert not any(ident in path for path in left), "every other file the package wrote is gone"
    assert not (project / ".claude/skills/lint").exists()
    twin_files = snapshot(twin)
    assert (
        json.loads(left.pop("rigging.json"))["dependencies"]
        == json.loads(twin_files.pop("rigging.json"))["dependencies"]
    )
    assert _lock(project)["packages"].keys() == {other}
    assert {k: v for k, v in left.items() if k != "rigging.lock"} == {
        k: v for k, v in twin_files.items() if k != "rigging.lock"
    }
    assert (project / "AGENTS.md").read_text().startswith(HOUSE_NOTES)


def test_a_moved_tag_is_accepted_the_way_the_refusal_says(cli, tmp_path, registry, env, kit):
    name, _ = kit
    project = _installed(cli, tmp_path, registry, env, {name: "^1"})
    locked = _lock(project)["packages"][name]["manifest"]
    republished = _kit(tmp_path / "again", name, "1.0.0", "Kit one, re-pushed.")
    publish(str(republished), f"{registry.host}/{name}", force=True)
    before = snapshot(project)

    refused = cli("update", "-C", project, env=env)
    message = _one_line(refused.stderr)
    assert refused.returncode == 1 and "the tag was moved" in message, message
    assert f"`rigging update {name} --force` to accept the new content" in message
    assert snapshot(project) == before

    accepted = cli("update", name, "--force", "-C", project, env=env)
    assert accepted.returncode == 0, accepted.stderr
    assert _lock(project)["packages"][name]["manifest"] != locked
    assert "Kit one, re-pushed." in (project / "AGENTS.md").read_text()
