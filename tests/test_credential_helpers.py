"""docker-credential helpers that go wrong, with real helper programs on a PATH the test makes:
missing, "credentials not found" (anonymous, as docker has it), failing, malformed answers,
hanging, and a `store` that fails under `rigging login`. Each ends in one line that names the
helper and a non-zero exit, or in the documented fallback; a helper's secrets never reach
rigging's output."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

import pytest

from tests.packages import make_package, tree
from tests.support.registry import REGISTRY_BINARY, RegistryServer, basic_auth_config
from tests.support.services import unavailable

USER, PASSWORD = "alice", "s3cret-pass-7d1f"
SECRET = "TOPSECRET-c0ffee-9b1e"  # what a misbehaving helper leaks on stderr


@pytest.fixture(autouse=True)
def _needs_binary():
    if shutil.which(REGISTRY_BINARY) is None:
        unavailable("credential helper tests configure their own registry: install docker-registry")


@pytest.fixture
def basic_registry(tmp_path):
    server = RegistryServer(basic_auth_config(tmp_path, USER, PASSWORD))
    yield server.start()
    server.stop()


@pytest.fixture
def env(tmp_path):
    docker = tmp_path / "docker"
    docker.mkdir()
    (tmp_path / "bin").mkdir()
    return {
        "DOCKER_CONFIG": str(docker),
        "RIGGING_CACHE_DIR": str(tmp_path / "cache"),
        "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}",
    }


def _docker_config(env, config) -> Path:
    path = Path(env["DOCKER_CONFIG"]) / "config.json"
    path.write_text(json.dumps(config))
    return path


def _python_helper(env, name, body) -> Path:
    """docker-credential-<name>: a Python program that logs each call, then runs `body` with
    `action` (argv[1]) and `payload` (stdin)."""
    bin_dir = Path(env["PATH"].split(":", 1)[0])
    script = bin_dir / f"docker-credential-{name}"
    calls = bin_dir / f"{name}.calls"
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, sys\n"
        "action, payload = sys.argv[1], sys.stdin.read()\n"
        f"with open({str(calls)!r}, 'a') as log:\n"
        "    log.write(json.dumps([action, payload]) + '\\n')\n" + body
    )
    script.chmod(0o755)
    return calls


def _calls(calls: Path) -> list[list[str]]:
    return [json.loads(line) for line in calls.read_text().splitlines()] if calls.exists() else []


def _one_line_error(result, *needles) -> str:
    out = result.stdout + result.stderr
    assert result.returncode == 1, (result.returncode, out)
    assert "Traceback" not in out and "internal error" not in out, out
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rigging: error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def _pull(cli, host, env, out, name="acme/helped"):
    return cli("pull", f"{host}/{name}:1.0.0", "-o", out, env=env)


@pytest.mark.parametrize("key", ["credHelpers", "credsStore"])
def test_a_helper_missing_from_path_is_named_with_the_fix(cli, tmp_path, registry, env, key):
    config = _docker_config(
        env, {"credHelpers": {registry.host: "nowhere"}} if key == "credHelpers" else {"credsStore": "nowhere"}
    )
    result = _pull(cli, registry.host, env, tmp_path / "out")
    _one_line_error(
        result, "credential helper docker-credential-nowhere is not on PATH", "install it, or remove it", str(config)
    )


def test_credentials_not_found_means_anonymous_as_in_docker(cli, tmp_path, registry, basic_registry, env):
    pkg = make_package(tmp_path / "pkg", "acme/helped", "1.0.0")
    assert cli("publish", pkg, f"{registry.host}/acme/helped", env=env).returncode == 0
    calls = _python_helper(
        env, "empty", "print('credentials not found in native keychain')\nsys.exit(1)\n"
    )  # docker-credential-helpers' own words
    _docker_config(env, {"credHelpers": {registry.host: "empty", basic_registry.host: "empty"}})

    # a registry that lets anyone pull: the pull goes on anonymously
    pulled = _pull(cli, registry.host, env, tmp_path / "out")
    assert pulled.returncode == 0, pulled.stderr
    assert tree(tmp_path / "out") == tree(pkg)
    assert ["get", registry.host] in _calls(calls)

    # a registry that needs a login: refused as anonymous, with the login hint, not as a helper failure
    refused = _pull(cli, basic_registry.host, env, tmp_path / "refused")
    line = _one_line_error(refused, f"rigging login {basic_registry.host}")
    assert "credential helper" not in line
    assert ["get", basic_registry.host] in _calls(calls)


@pytest.mark.parametrize(
    ("stdout", "shown"),
    [("error: the keychain is locked", "error: the keychain is locked"), ("", "no message")],
)
def test_a_failing_helper_is_an_error_that_never_shows_its_stderr(cli, tmp_path, basic_registry, env, stdout, shown):
    _python_helper(
        env,
        "locked",
        f"print({stdout!r}, end='\\n' if {stdout!r} else '')\n"
        f"print('debug: token {SECRET}', file=sys.stderr)\nsys.exit(3)\n",
    )
    _docker_config(env, {"credHelpers": {basic_registry.host: "locked"}})
    result = _pull(cli, basic_registry.host, env, tmp_path / "out")
    _one_line_error(result, f"credential helper docker-credential-locked get failed (exit 3): {shown}")
    assert SECRET not in result.stdout + result.stderr


def test_a_failing_helper_that_prints_credentials_does_not_have_them_shown(cli, tmp_path, basic_registry, env):
    answer = json.dumps({"ServerURL": basic_registry.host, "Username": USER, "Secret": SECRET})
    _python_helper(env, "half", f"print({answer!r})\nsys.exit(2)\n")
    _docker_config(env, {"credHelpers": {basic_registry.host: "half"}})
    result = _pull(cli, basic_registry.host, env, tmp_path / "out")
    _one_line_error(result, "credential helper docker-credential-half get failed (exit 2)")
    assert SECRET not in result.stdout + result.stderr


def test_a_working_helper_that_chatters_on_stderr_works_and_its_stderr_stays_hidden(cli, tmp_path, basic_registry, env):
    answer = json.dumps({"ServerURL": basic_registry.host, "Username": USER, "Secret": PASSWORD})
    _python_helper(env, "chatty", f"print('debug: secret is {PASSWORD}', file=sys.stderr)\nprint({answer!r})\n")
    _docker_config(env, {"credHelpers": {basic_registry.host: "chatty"}})
    pkg = make_package(tmp_path / "pkg", "acme/helped", "1.0.0")
    published = cli("publish", pkg, f"{basic_registry.host}/acme/helped", env=env)
    assert published.returncode == 0, published.stderr
    pulled = _pull(cli, basic_registry.host, env, tmp_path / "out")
    assert pulled.returncode == 0, pulled.stderr
    assert tree(tmp_path / "out") == tree(pkg)
    for result in (published, pulled):
        assert PASSWORD not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        ("{not json", "answered something that is not JSON"),
        ("[1, 2]", "answered JSON that is not an object"),
        (json.dumps({"Username": USER, "Secret": 7}), "answered a Username or Secret that is not a string"),
    ],
)
def test_a_malformed_answer_is_a_clear_error(cli, tmp_path, basic_registry, env, answer, says):
    _python_helper(env, "garbled", f"print({answer!r})\n")
    _docker_config(env, {"credHelpers": {basic_registry.host: "garbled"}})
    result = _pull(cli, basic_registry.host, env, tmp_path / "out")
    _one_line_error(result, f"credential helper docker-credential-garbled get {says}")


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def test_a_hanging_helper_is_ended_after_the_timeout(cli, tmp_path, basic_registry, env):
    bin_dir = Path(env["PATH"].split(":", 1)[0])
    script = bin_dir / "docker-credential-stuck"
    script.write_text(
        f"#!/bin/sh\necho $$ > {bin_dir / 'helper.pid'}\nsleep 300 &\necho $! > {bin_dir / 'child.pid'}\nwait\n"
    )
    script.chmod(0o755)
    _docker_config(env, {"credsStore": "stuck"})
    started = time.monotonic()
    result = _pull(cli, basic_registry.host, {**env, "RIGGING_CREDENTIAL_HELPER_TIMEOUT": "1.5"}, tmp_path / "out")
    elapsed = time.monotonic() - started
    _one_line_error(result, "credential helper docker-credential-stuck get did not answer within 1.5 s")
    assert elapsed < 20, elapsed
    pids = [int((bin_dir / name).read_text()) for name in ("helper.pid", "child.pid")]
    deadline = time.monotonic() + 5
    while any(_running(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_running(pid) for pid in pids), "the helper and what it started are ended"

    bad = _pull(cli, basic_registry.host, {**env, "RIGGING_CREDENTIAL_HELPER_TIMEOUT": "soon"}, tmp_path / "out")
    _one_line_error(bad, "RIGGING_CREDENTIAL_HELPER_TIMEOUT='soon' is not a positive number of seconds")


def test_login_fails_cleanly_when_the_store_helper_fails(cli, tmp_path, basic_registry, env):
    calls = _python_helper(
        env,
        "readonly",
        "if action == 'store':\n"
        "    print('could not store ' + payload)\n"  # a helper that echoes what it was given
        "    print(payload, file=sys.stderr)\n"
        "    sys.exit(1)\n"
        "print('credentials not found in native keychain')\nsys.exit(1)\n",
    )
    config = _docker_config(env, {"credsStore": "readonly"})
    before = config.read_text()
    result = cli("login", basic_registry.host, "-u", USER, "--password-stdin", env=env, input=PASSWORD + "\n")
    line = _one_line_error(
        result, "credential helper docker-credential-readonly store failed (exit 1): could not store"
    )
    assert PASSWORD not in result.stdout + result.stderr and "***" in line
    stored = [payload for action, payload in _calls(calls) if action == "store"]
    assert [json.loads(p) for p in stored] == [{"ServerURL": basic_registry.host, "Username": USER, "Secret": PASSWORD}]
    assert config.read_text() == before, "a failed store leaves the docker config as it was"

    _docker_config(env, {"credsStore": "gone"})
    missing = cli("login", basic_registry.host, "-u", USER, "--password-stdin", env=env, input=PASSWORD + "\n")
    _one_line_error(missing, "credential helper docker-credential-gone is not on PATH")
    assert PASSWORD not in missing.stdout + missing.stderr
