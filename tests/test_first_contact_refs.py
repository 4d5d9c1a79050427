"""First contact, the names part: one reference grammar in every command (full references as
docker, helm and oras users type them, oci: layouts), `rigging add` with a full reference in an
empty folder, a project's rigging.json checked key by key, the project found from a subfolder,
and `update` that names what it did. Real registry, real layouts, the CLI in a subprocess."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rigging.transfer import publish

from tests.catalog_publish import unique_namespace, write_package

COMMANDS = {  # each command that takes a package, as a user runs it
    "add": ["add"],
    "pull": ["pull"],
    "outdated": ["outdated"],
    "verify": ["verify", "--key", "cosign.pub"],
    "update": ["update"],
    "remove": ["remove"],
}


@pytest.fixture
def env(tmp_path):
    return {
        "RIGGING_CACHE_DIR": str(tmp_path / "cache"),
        "DOCKER_CONFIG": str(tmp_path / "docker"),
        "RIGGING_INDEX_URL": "",
        "RIGGING_CONFIG": str(tmp_path / "no-config.json"),
    }


@pytest.fixture
def ns():
    return unique_namespace("r")


def _publish(tmp_path: Path, target: str, name: str, version: str, deps: dict[str, str] | None = None) -> None:
    folder = write_package(tmp_path / "src" / f"{name.replace('/', '.')}-{version}", name, version, deps)
    publish(str(folder), target)


def _one_line_error(result, code: int, *words: str) -> str:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rigging: error: "), result.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0].removeprefix("rigging: error: ")


def _nowhere(path: Path) -> Path:
    """A folder with no project in it or above it (the tests' own temporary root has none)."""
    path.mkdir(parents=True, exist_ok=True)
    assert not any((p / "rigging.json").exists() or (p / "rigging.lock").exists() for p in (path, *path.parents))
    return path


# --- one grammar, one vocabulary -------------------------------------------------------------

BAD = {
    # what a user types: what every command must say about it
    "http://reg.example/acme/x": ["starts with http://", "write reg.example/acme/x or oci://reg.example/acme/x"],
    "https://ghcr.io/acme/x:1.0.0": ["starts with https://", "write ghcr.io/acme/x:1.0.0"],
    "oci://layout:1.0.0": ["does not name a registry after oci://", "oci:layout:1.0.0 for an OCI layout folder"],
    "ghcr.io/acme/x@^9.x.y": ["neither a digest nor a version range", "@^1.2"],
    "ghcr.io/acme/x@sha256:12": ["'sha256:12' after '@', which is not a sha256 digest"],
    "ghcr.io/Acme/x": ["repository part 'Acme', which is not lowercase", "e.g. acme"],
    "acme": ["is not a package name", "NAMESPACE/NAME"],
    "acme/x:1.0@^1": ["gives both a tag and an '@' part"],
}


def test_every_command_reads_a_package_the_same_way_and_says_the_same_about_a_mistake(cli, tmp_path, env):
    project = tmp_path / "project"
    project.mkdir()
    (project / "rigging.json").write_text(json.dumps({"registry": "127.0.0.1:9", "dependencies": {}}))
    for text, words in BAD.items():
        said = {}
        for command, args in COMMANDS.items():
            result = cli(*args, text, cwd=project, env=env)
            said[command] = _one_line_error(result, 2, repr(text), *words)
        assert len(set(said.values())) == 1, (text, said)  # one message, whichever command read it
    assert json.loads((project / "rigging.json").read_text()) == {"registry": "127.0.0.1:9", "dependencies": {}}
    assert not (project / "rigging.lock").exists()


def test_full_references_name_the_same_package_as_its_name(cli, tmp_path, registry, env, ns):
    for version in ("1.0.0", "1.1.0", "2.0.0"):
        _publish(tmp_path, f"{registry.host}/{ns}/style", f"{ns}/style", version)
    out = tmp_path / "out"
    for text, version in (
        (f"{registry.host}/{ns}/style", "2.0.0"),  # no version: the newest release
        (f"{registry.host}/{ns}/style@^1", "1.1.0"),
        (f"{registry.host}/{ns}/style@~1.0", "1.0.0"),
        (f"oci://{registry.host}/{ns}/style:1.0.0", "1.0.0"),
        (f"{registry.host}/{ns}/style:2.0.0", "2.0.0"),
    ):
        pulled = cli("pull", text, "-o", out, "--force", "--json", cwd=_nowhere(tmp_path / "away"), env=env)
        assert pulled.returncode == 0, (text, pulled.stderr)
        assert json.loads(pulled.stdout)["version"] == version, text
    nothing = cli("pull", f"{registry.host}/{ns}/style@^3", "-o", out, "--force", env=env)
    _one_line_error(nothing, 1, f"{registry.host}/{ns}/style: no version matches ^3", "2.0.0")

    # A bare name outside any project says how to say where it lives.
    away = _nowhere(tmp_path / "away")
    bare = cli("pull", f"{ns}/style", "-o", out, cwd=away, env=env)
    _one_line_error(bare, 2, "does not name a registry", f"ghcr.io/{ns}/style", "run it in a project")

    # outdated takes a full reference outside a project: its version against the tag list
    checked = cli(
        "outdated", f"{registry.host}/{ns}/style:1.0.0", f"{registry.host}/{ns}/style@^1", "--json", cwd=away, env=env
    )
    assert checked.returncode == 0, checked.stderr
    rows = json.loads(checked.stdout)
    assert [(r["current"], r["wanted"], r["latest"]) for r in rows] == [
        ("1.0.0", "2.0.0", "2.0.0"),
        (None, "1.1.0", "2.0.0"),
    ]
    assert rows[0]["reference"] == f"{registry.host}/{ns}/style:1.0.0"


def test_layout_references_and_ranges(cli, tmp_path, env, ns):
    store = tmp_path / "store"
    for version in ("1.0.0", "1.2.0"):
        _publish(tmp_path, f"oci:{store}/{ns}/style", f"{ns}/style", version)
    away = _nowhere(tmp_path / "away")
    for text, version in ((f"oci:{store}/{ns}/style@^1.0", "1.2.0"), (f"oci:{store}/{ns}/style:1.0.0", "1.0.0")):
        pulled = cli("pull", text, "-o", tmp_path / "out", "--force", "--json", cwd=away, env=env)
        assert pulled.returncode == 0, (text, pulled.stderr)
        assert json.loads(pulled.stdout)["version"] == version


# --- rigging add with a full reference ----------------------------------------------------------


def test_add_with_a_full_reference_in_an_empty_folder_starts_the_project(cli, tmp_path, registry, env, ns):
    _publish(tmp_path, f"{registry.host}/{ns}/style", f"{ns}/style", "1.2.0")
    _publish(tmp_path, f"{registry.host}/{ns}/lint", f"{ns}/lint", "1.0.0")
    _publish(tmp_path, f"{registry.host}/mirror/{ns}x/tool", f"{ns}x/tool", "1.4.0")
    project = _nowhere(tmp_path / "project")
    (project / ".cursor").mkdir()

    added = cli("add", f"{registry.host}/{ns}/style", cwd=project, env=env)
    assert added.returncode == 0, added.stderr
    assert f"added {ns}/style@^1.2.0 from {registry.host}" in added.stdout
    assert json.loads((project / "rigging.json").read_text()) == {
        "registry": registry.host,
        "dependencies": {f"{ns}/style": "^1.2.0"},
    }
    assert json.loads((project / "rigging.lock").read_text())["packages"][f"{ns}/style"]["version"] == "1.2.0"
    assert any((project / ".cursor" / "rules").glob(f"{ns}.style.*.mdc")), "and installed"

    # helm's oci:// form and an exact version; the registry is the project's already, so no change
    pinned = cli("add", f"oci://{registry.host}/{ns}/lint:1.0.0", cwd=project, env=env)
    assert pinned.returncode == 0, pinned.stderr
    data = json.loads((project / "rigging.json").read_text())
    assert data["dependencies"][f"{ns}/lint"] == "1.0.0" and "registries" not in data

    # another namespace from another place: recorded for that namespace alone
    other = cli("add", f"{registry.host}/mirror/{ns}x/tool@^1", cwd=project, env=env)
    assert other.returncode == 0, other.stderr
    data = json.loads((project / "rigging.json").read_text())
    assert data["registry"] == registry.host and data["registries"] == {f"{ns}x": f"{registry.host}/mirror"}
    assert data["dependencies"][f"{ns}x/tool"] == "^1"
    assert json.loads((project / "rigging.lock").read_text())["packages"][f"{ns}x/tool"]["source"] == (
        f"{registry.host}/mirror/{ns}x/tool"
    )

    # a namespace the project already takes from elsewhere is not silently moved
    before = (project / "rigging.json").read_bytes()
    moved = cli("add", f"{registry.host}/mirror/{ns}/style", cwd=project, env=env)
    _one_line_error(moved, 2, f"{ns}/lint already comes from {registry.host}", "one namespace")
    assert (project / "rigging.json").read_bytes() == before
    for tagged, words in (
        (f"{registry.host}/{ns}/style:latest", ["the tag 'latest' is not a version"]),
        (f"{registry.host}/{ns}/style@sha256:{'a' * 64}", ["not a digest"]),
    ):
        _one_line_error(cli("add", tagged, cwd=project, env=env), 2, *words)
    assert (project / "rigging.json").read_bytes() == before


def test_add_with_a_layout_folder_records_it_relative_to_the_project(cli, tmp_path, env, ns):
    store = tmp_path / "store"
    _publish(tmp_path, f"oci:{store}/{ns}/style", f"{ns}/style", "1.0.0")
    project = _nowhere(tmp_path / "project")
    (project / "rigging.json").write_text("{}\n")
    (project / "sub").mkdir()
    added = cli("add", f"oci:../../store/{ns}/style", cwd=project / "sub", env=env)
    assert added.returncode == 0, added.stderr
    data = json.loads((project / "rigging.json").read_text())
    assert data == {"registry": "oci:../store", "dependencies": {f"{ns}/style": "^1.0.0"}}
    _one_line_error(
        cli("add", f"oci:{store}", cwd=project, env=env), 2, "is a folder of packages", f"oci:{store}/NAMESPACE/NAME"
    )
    _one_line_error(cli("add", f"oci:{tmp_path}/none/{ns}/x", cwd=project, env=env), 2, "holds no OCI layout")
    _one_line_error(cli("add", "ghcr.io/acme", cwd=project, env=env), 2, "names the registry ghcr.io but no namespace")


def test_add_of_a_bare_name_with_no_registry_says_how_to_give_one(cli, tmp_path, registry, env, ns):
    _publish(tmp_path, f"{registry.host}/{ns}/style", f"{ns}/style", "1.0.0")
    empty = _nowhere(tmp_path / "empty")
    said = _one_line_error(cli("add", f"{ns}/style", cwd=empty, env=env), 2, "--registry", f"ghcr.io/{ns}/style")
    assert "rigging.json:" not in said and "no rigging.json" in said, "never a file that does not exist"
    assert not (empty / "rigging.json").exists()

    (empty / "rigging.json").write_text('{"targets": ["claude"]}\n')
    said = _one_line_error(cli("add", f"{ns}/style", cwd=empty, env=env), 2, "rigging.json", "--registry")
    given = cli("add", f"{ns}/style", "--registry", registry.host, cwd=empty, env=env)
    assert given.returncode == 0, given.stderr
    assert json.loads((empty / "rigging.json").read_text())["registry"] == registry.host
    clash = cli("add", f"{registry.host}/{ns}/style", "--registry", "ghcr.io", cwd=empty, env=env)
    _one_line_error(clash, 2, "give one of them")


# --- rigging.json: a package's and a project's --------------------------------------------------


def test_a_package_dependency_written_as_a_full_reference_says_what_to_write(cli, tmp_path):
    package = write_package(tmp_path / "pkg", "acme/pkg", "1.0.0")
    manifest = {
        "name": "acme/pkg",
        "version": "1.0.0",
        "dependecies": {},
        "dependencies": {"acme/ok": "^1", "ghcr.io/acme/x": "^1"},
        "keywords": ["Bad Word"],
        "authors": [{"name": "Ada", "emial": "ada@example.com"}],
    }
    (package / "rigging.json").write_text(json.dumps(manifest, indent=2) + "\n")
    text = (package / "rigging.json").read_text().splitlines()

    def line_of(needle: str) -> int:
        return next(i for i, line in enumerate(text, 1) if needle in line)

    result = cli("validate", package, "--json")
    assert result.returncode == 1, result.stderr
    problems = {p["message"]: p for p in json.loads(result.stdout)["problems"]}
    full = problems["dependency 'ghcr.io/acme/x' is a full reference"]
    assert full["line"] == line_of('"ghcr.io/acme/x"')
    assert "write namespace/name ('acme/x'); the consumer's registry settings say where it comes from" in full["hint"]
    typo = problems["unknown key 'dependecies'"]
    assert typo["line"] == line_of('"dependecies"') and typo["hint"] == "did you mean 'dependencies'?"
    nested = problems["$.authors[0]: unknown key 'emial'"]
    assert nested["line"] == line_of('"emial"') and nested["hint"] == "did you mean 'email'?"
    keyword = next(p for m, p in problems.items() if m.startswith("$.keywords[0]"))
    assert keyword["line"] == line_of('"Bad Word"')
    human = cli("validate", package).stdout
    assert "oci-media-types" not in human and "^[a-z0-9]" not in human and "does not match" not in human, human


def test_a_typo_in_a_projects_rigging_json_fails_with_its_line(cli, tmp_path, registry, env, ns):
    _publish(tmp_path, f"{registry.host}/{ns}/style", f"{ns}/style", "1.0.0")
    project = tmp_path / "project"
    project.mkdir()
    cases = {
        "dependecies": (
            {"registry": registry.host, "dependecies": {f"{ns}/style": "^1"}},
            "unknown key 'dependecies'; did you mean 'dependencies'?",
        ),
        "maxdepth": (
            {"registry": registry.host, "resolver": {"maxdepth": 3}},
            "unknown key 'maxdepth' in resolver; did you mean 'maxDepth'?",
        ),
        "rule key": (
            {"registry": registry.host, "signatures": {"require": [{"keys": ["k.pub"], "packges": "a/*"}]}},
            "unknown key 'packges' in signatures.require.0; did you mean 'packages'?",
        ),
        "target": (
            {"registry": registry.host, "targets": ["claude", "cursr"]},
            "'cursr' is not an agent rigging installs for; did you mean 'cursor'?",
        ),
        "full reference": (
            {"registry": registry.host, "dependencies": {f"{registry.host}/{ns}/style": "^1"}},
            f'write "{ns}/style" in "dependencies" and say where it lives with "registry": "{registry.host}"',
        ),
    }
    for case, (data, words) in cases.items():
        text = json.dumps(data, indent=2) + "\n"
        (project / "rigging.json").write_text(text)
        bad_key = {"dependecies": "dependecies", "maxdepth": "maxdepth", "rule key": "packges", "target": "cursr"}
        needle = bad_key.get(case, f"{registry.host}/{ns}/style")
        line = next(i for i, row in enumerate(text.splitlines(), 1) if needle in row)
        for args in (["install"], ["add", f"{ns}/style"]):
            result = cli(*args, cwd=project, env=env)
            said = _one_line_error(result, 1, words)
            assert said.startswith(f"rigging.json:{line}: "), (case, args, said)
        assert not (project / "rigging.lock").exists(), "nothing installed"
        assert (project / "rigging.json").read_text() == text, "nothing changed"


def test_the_project_schema_and_the_fast_check_agree():
    from rigging.errors import RiggingError
    from rigging.project import PACKAGE_KEYS, PROJECT_KEYS, parse_project
    from rigging.schema import project_schema, project_schema_errors

    schema = project_schema()
    assert set(schema["properties"]) == set(PROJECT_KEYS) | set(PACKAGE_KEYS)
    source = Path(__file__).resolve().parent.parent / "oci-media-types" / "schema" / "project.schema.json"
    assert schema == json.loads(source.read_text()), "the shipped schema is oci-media-types' own"
    keyed = {"keys": ["k.pub"]}
    attested = {"packages": "*", "attestations": ["scan", "approval"], "keys": ["keys/index.pub"]}
    documents = [
        {},
        {"dependencies": {"acme/x": "^1.2"}, "registry": "ghcr.io/acme", "registries": {"v": "oci:./store"}},
        {"targets": ["claude", "cursor"], "resolver": {"maxDepth": 3}, "renameSkills": {"acme/x/lint": "x-lint"}},
        {"signatures": {"mode": "warn", "require": [{"packages": "acme/*", **keyed}]}},
        {"signatures": {"require": [{"issuer": "https://i", "identityRegexp": "^a", "offline": True}]}},
        {"name": "acme/x", "version": "1.0.0", "dependencies": {}},
        {"dependecies": {}},
        {"dependencies": {"ghcr.io/acme/x": "^1"}},
        {"dependencies": {"Acme/X": "^1"}},
        {"dependencies": {"acme/x": ""}},
        {"dependencies": {"acme/x": 1}},
        {"dependencies": []},
        {"targets": []},
        {"targets": ["emacs"]},
        {"resolver": {"maxDepth": 0}},
        {"resolver": {"maxdepth": 3}},
        {"resolver": {"maxDepth": True}},
        {"renameSkills": {"acme/x": "lint"}},
        {"renameSkills": {"acme/x/lint": "Lint"}},
        {"signatures": {"mode": "sometimes", "require": [keyed]}},
        {"signatures": {"require": []}},
        {"signatures": {"require": [{"keys": []}]}},
        {"signatures": {"require": [{"keys": [1]}]}},
        {"signatures": {"require": [{"issuer": "https://i"}]}},
        {"signatures": {"require": [{**keyed, "offline": "yes"}]}},
        {"signatures": {"require": [{**keyed, "isuer": "x"}]}},
        {"signatures": {"required": [keyed]}},
        {"registry": 5},
        {"registries": {"acme": 5}},
        {"signatures": {"require": [attested]}},
        {"signatures": {"mode": "warn", "require": [{"packages": "acme/*", "keys": ["a.pub"]}, attested]}},
        {"signatures": {"require": [{**attested, "attestations": []}]}},
        {"signatures": {"require": [{**attested, "attestations": ["scan", "scan"]}]}},
        {"signatures": {"require": [{**attested, "attestations": ["review"]}]}},
        {"signatures": {"require": [{**attested, "issuer": "https://i", "identity": "me"}]}},
        {"signatures": {"require": [{"attestations": ["scan"], "issuer": "https://i", "identity": "me"}]}},
        {"capabilities": {"deny": ["scripts", "network", "hooks", "tools", "outside-paths"]}},
        {"capabilities": {"allow": []}},
        {"capabilities": [{"packages": "acme/*", "allow": ["network"]}, {"deny": ["hooks"]}]},
        {"capabilities": {"deny": []}},
        {"capabilities": {"deny": ["script"]}},
        {"capabilities": {"deny": ["hooks", "hooks"]}},
        {"capabilities": {"allow": ["hooks"], "deny": ["scripts"]}},
        {"capabilities": {"packages": "acme/*"}},
        {"capabilities": {"deny": ["hooks"], "packages": 1}},
        {"capabilities": {"deny": ["hooks"], "package": "acme/*"}},
        {"capabilities": []},
        {"capabilities": "scripts"},
    ]
    for document in documents:
        try:
            parse_project(Path("/nonexistent"), document)
            fast = True
        except RiggingError:
            fast = False
        assert fast == (not project_schema_errors(document)), document


# --- the project root, found upward -----------------------------------------------------------


def test_the_project_is_found_from_a_subfolder_and_minus_c_still_wins(cli, tmp_path, registry, env, ns):
    _publish(tmp_path, f"{registry.host}/{ns}/style", f"{ns}/style", "1.0.0")
    project = _nowhere(tmp_path / "project")
    (project / "rigging.json").write_text(json.dumps({"registry": registry.host, "targets": ["claude"]}))
    deep = project / "src" / "pkg"
    deep.mkdir(parents=True)

    added = cli("add", f"{ns}/style", cwd=deep, env=env)
    assert added.returncode == 0, added.stderr
    assert f"{ns}/style" in json.loads((project / "rigging.json").read_text())["dependencies"]
    assert not (deep / "rigging.json").exists() and (project / "rigging.lock").exists()
    for args in (["list"], ["tree"], ["outdated"], ["install"]):
        result = cli(*args, cwd=deep, env=env)
        assert result.returncode == 0, (args, result.stderr)
    assert f"{ns}/style 1.0.0" in cli("list", cwd=deep, env=env).stdout

    # -C names the project exactly; a folder without one is not searched above
    other = _nowhere(tmp_path / "other")
    minus_c = cli("list", "-C", deep, cwd=other, env=env)
    assert minus_c.returncode == 1 and "no rigging.lock" in minus_c.stderr, minus_c.stderr
    assert cli("list", "-C", project, cwd=other, env=env).returncode == 0

    for args in (["list"], ["install"], ["update"], ["remove", f"{ns}/style"], ["outdated"]):
        said = _one_line_error(cli(*args, cwd=other, env=env), 1, f"no rigging.json in {other} or any folder above")
        assert "rigging add" in said and ".: " not in said


# --- update and remove name what they touch --------------------------------------------------


def test_update_of_a_name_that_is_not_a_dependency_is_an_error(cli, tmp_path, registry, env, ns):
    _publish(tmp_path, f"{registry.host}/{ns}/base", f"{ns}/base", "1.0.0")
    _publish(tmp_path, f"{registry.host}/{ns}/style", f"{ns}/style", "1.0.0", {f"{ns}/base": "^1"})
    project = _nowhere(tmp_path / "project")
    assert cli("add", f"{registry.host}/{ns}/style", cwd=project, env=env).returncode == 0
    lock = (project / "rigging.lock").read_bytes()

    typo = cli("update", f"{ns}/styel", cwd=project, env=env)
    _one_line_error(typo, 1, f"cannot update {ns}/styel", f"did you mean {ns}/style?")
    nothing = cli("update", "acme/nothing", cwd=project, env=env)
    said = _one_line_error(nothing, 1, "cannot update acme/nothing", f"it has {ns}/base, {ns}/style")
    assert "updated" not in said and "package(s)" not in nothing.stdout
    elsewhere = cli("update", f"ghcr.io/{ns}/style", cwd=project, env=env)
    _one_line_error(elsewhere, 1, f"takes {ns}/style from {registry.host}, not ghcr.io")
    assert (project / "rigging.lock").read_bytes() == lock

    same = cli("update", f"{ns}/style", cwd=project, env=env)
    assert same.returncode == 0, same.stderr
    assert f"nothing to update: {ns}/style 1.0.0 is the newest the ranges allow" in same.stdout
    assert "updated" not in same.stdout

    _publish(tmp_path, f"{registry.host}/{ns}/base", f"{ns}/base", "1.1.0")
    _publish(tmp_path, f"{registry.host}/{ns}/style", f"{ns}/style", "1.3.0", {f"{ns}/base": "^1"})
    one = cli("update", f"{registry.host}/{ns}/base", cwd=project, env=env)  # a locked package, by full reference
    assert one.returncode == 0, one.stderr
    assert one.stdout.splitlines()[0] == f"updated {ns}/base 1.0.0 -> 1.1.0"
    assert f"{ns}/style" not in one.stdout.splitlines()[0]
    every = cli("update", cwd=project, env=env)
    assert every.returncode == 0, every.stderr
    assert every.stdout.splitlines()[0] == f"updated {ns}/style 1.0.0 -> 1.3.0"

    removed_typo = cli("remove", f"{ns}/styel", cwd=project, env=env)
    _one_line_error(removed_typo, 1, f"cannot remove {ns}/styel", f"did you mean {ns}/style?")
    removed = cli("remove", f"oci://{registry.host}/{ns}/style", cwd=project, env=env)
    assert removed.returncode == 0, removed.stderr
    assert removed.stdout.startswith(f"removed {ns}/style\n")
    assert json.loads((project / "rigging.json").read_text())["dependencies"] == {}


def test_verify_takes_a_name_in_a_project_and_checks_the_locked_version(cli, tmp_path, registry, signing_env, keys, ns):
    env = {**signing_env, "RIGGING_INDEX_URL": ""}
    good, _ = keys
    _publish(tmp_path, f"{registry.host}/{ns}/style", f"{ns}/style", "1.0.0")
    project = _nowhere(tmp_path / "project")
    assert cli("add", f"{registry.host}/{ns}/style", cwd=project, env=env).returncode == 0
    signed = cli("sign", f"{registry.host}/{ns}/style:1.0.0", "--key", good / "cosign.key", env=env)
    assert signed.returncode == 0, signed.stderr
    _publish(tmp_path, f"{registry.host}/{ns}/style", f"{ns}/style", "1.1.0")  # newer, unsigned, not installed

    locked = json.loads((project / "rigging.lock").read_text())["packages"][f"{ns}/style"]["manifest"]
    verified = cli("verify", f"{ns}/style", "--key", good / "cosign.pub", "--json", cwd=project, env=env)
    assert verified.returncode == 0, verified.stderr
    assert json.loads(verified.stdout)["digest"] == locked
    newest = cli("verify", f"{ns}/style@^1", "--key", good / "cosign.pub", cwd=project, env=env)
    assert newest.returncode == 1 and "no valid signature" in newest.stderr, newest.stderr
    by_ref = cli("verify", f"{registry.host}/{ns}/style@~1.0", "--key", good / "cosign.pub", env=env)
    assert by_ref.returncode == 0, by_ref.stderr
