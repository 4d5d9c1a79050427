"""Releases, built as the release workflow builds them (scripts/release.py): every distribution
as sdist and wheel, each wheel from its sdist and equal to a direct build; the CLI installed
alone and light from those files (no server library in its closure) and run against a real
registry; the single-file pex run by a bare Python; the Homebrew formula's resources; one
version for all four; the release workflows valid against GitHub's schema."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

from rigging import __version__
from tests.conftest import REPO_ROOT
from tests.packages import make_package, tree

SERVER_LIBRARIES = {
    "fastapi",
    "uvicorn",
    "sqlalchemy",
    "psycopg",
    "psycopg-binary",
    "alembic",
    "starlette",
}


def _requires(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as zf:
        meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        return Parser().parsestr(zf.read(meta).decode()).get_all("Requires-Dist") or []


def _name(requirement: str) -> str:
    return (
        requirement.split(";")[0].split("[")[0].split("<")[0].split(">")[0].split("=")[0].split("~")[0].strip().lower()
    )


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> tuple[Path, dict]:
    """The release files and build's report (it fails when a wheel from an sdist differs)."""
    if shutil.which("uv") is None:
        pytest.fail("uv is required to build the release (the README's set-up installs it)")
    out = tmp_path_factory.mktemp("release")
    built = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts/release.py"), "build", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr
    return out, json.loads(built.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def wheels(release) -> Path:
    return release[0]


@pytest.fixture(scope="module")
def published(registry, tmp_path_factory) -> str:
    """A package in the real registry, published by the development CLI, for the released CLIs to pull."""
    from tests.conftest import run_cli

    source = make_package(tmp_path_factory.mktemp("src") / "pkg", "release/pulled", docs=True)
    done = run_cli("publish", source, f"{registry.host}/release/pulled")
    assert done.returncode == 0, done.stderr
    return f"{registry.host}/release/pulled:1.0.0"


def _pulls(rigging: list[str], ref: str, tmp_path: Path, env: dict[str, str]) -> None:
    out = tmp_path / "pulled"
    done = subprocess.run([*rigging, "pull", ref, "-o", str(out)], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads((out / "rigging.json").read_text())["name"] == "release/pulled"


def test_every_wheel_built_from_its_sdist_holds_the_schemas(wheels):
    core = next(wheels.glob("rigging_core-*.whl"))
    assert len(list(wheels.glob("*.tar.gz"))) == 4, "one sdist per distribution"
    with zipfile.ZipFile(core) as zf:
        for schema in ("rigging.schema.json", "project.schema.json"):
            assert json.loads(zf.read(f"rigging/schema/{schema}"))["$schema"], schema
        assert zf.read("rigging/scan/rules/semgrep.yml").startswith(b"# Rigging's Semgrep pack"), "the rule pack"


def test_cli_wheel_requires_no_server_library(wheels):
    cli_wheel = next(wheels.glob("rigging_cli-*.whl"))
    core_wheel = next(wheels.glob("rigging_core-*.whl"))
    direct = {_name(r) for r in _requires(cli_wheel)} | {_name(r) for r in _requires(core_wheel)}
    assert "rigging-core" in direct
    assert not direct & SERVER_LIBRARIES


def test_cli_wheel_closure_installs_and_runs_without_server_libraries(wheels, tmp_path, published):
    uv = shutil.which("uv")
    venv = tmp_path / "venv"
    subprocess.run([uv, "venv", "--quiet", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [
            uv,
            "pip",
            "install",
            "--quiet",
            "--python",
            str(python),
            # ours by file (never a same-named release on the index); the rest of the closure from the index
            str(next(wheels.glob("rigging_cli-*.whl"))),
            str(next(wheels.glob("rigging_core-*.whl"))),
        ],
        check=True,
        capture_output=True,
    )
    listed = subprocess.run(
        [uv, "pip", "list", "--python", str(python), "--format", "json"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    installed = {p["name"].lower() for p in json.loads(listed)}
    assert {"rigging-cli", "rigging-core", "jsonschema"} <= installed
    assert not installed & SERVER_LIBRARIES, installed & SERVER_LIBRARIES
    rigging = venv / "bin" / "rigging"
    said = subprocess.run([str(rigging), "--version"], capture_output=True, text=True)
    assert said.returncode == 0 and said.stdout.strip() == f"rigging {__version__}", said
    _pulls([str(rigging)], published, tmp_path, {**os.environ, "RIGGING_CACHE_DIR": str(tmp_path / "cache")})
    # the installed command finds the schema shipped in the wheel
    pkg = tmp_path / "pkg"
    subprocess.run([str(rigging), "new", str(pkg), "--name", "acme/wheel"], check=True, capture_output=True)
    result = subprocess.run([str(rigging), "validate", str(pkg)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "valid (0 error(s), 0 warning(s))" in result.stdout
    # the schema really is read: a manifest field it forbids is reported with the schema's code
    manifest = json.loads((pkg / "rigging.json").read_text())
    (pkg / "rigging.json").write_text(json.dumps({**manifest, "colour": "blue"}))
    refused = subprocess.run([str(rigging), "validate", str(pkg), "--json"], capture_output=True, text=True)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert [p["code"] for p in json.loads(refused.stdout)["problems"]] == ["RIG103"]


def test_schema_in_wheel_is_the_spec_file(wheels):
    spec = (REPO_ROOT / "oci-media-types/schema/rigging.schema.json").read_bytes()
    with zipfile.ZipFile(next(wheels.glob("rigging_core-*.whl"))) as zf:
        assert zf.read("rigging/schema/rigging.schema.json") == spec


def test_wheels_built_from_sdists_equal_direct_builds_and_share_one_version(release):
    out, report = release
    assert len(report["identical_wheels"]) == 4, report  # build compares them file by file, or fails
    assert report["version"] == __version__
    for dist in [*out.glob("*.whl"), *out.glob("*.tar.gz")]:
        assert dist.name.split("-")[1].removesuffix(".tar.gz") == __version__, dist.name
    pins = {_name(r): r for wheel in out.glob("*.whl") for r in _requires(wheel) if r.startswith("rigging-")}
    assert pins == {name: f"{name}=={__version__}" for name in ("rigging-core", "rigging-indexer")}
    for member in ("rigging", "cli", "indexer", "portal"):  # no second place to bump
        project = tomllib.loads((REPO_ROOT / member / "pyproject.toml").read_text())["project"]
        assert "version" not in project and "version" in project["dynamic"], member


def test_the_pex_runs_with_a_bare_python(release, tmp_path, published):
    """Only Python 3.11+ present: an interpreter with nothing installed, no venv, an empty environment."""
    out, report = release
    bare = next(
        (p for p in ("/usr/bin/python3.11", "/usr/bin/python3.12", "/usr/bin/python3.13") if Path(p).is_file()),
        getattr(sys, "_base_executable", sys.executable),
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path / "home"), "RIGGING_CACHE_DIR": str(tmp_path / "cache")}
    pex = [bare, str(out / report["pex"])]
    said = subprocess.run([*pex, "--version"], capture_output=True, text=True, env=env, timeout=300)
    assert said.returncode == 0 and said.stdout.strip() == f"rigging {__version__}", said.stderr
    _pulls(pex, published, tmp_path, env)
    assert tree(tmp_path / "pulled")["docs/guide.md"] == b"# release/pulled guide\n"


def test_the_homebrew_formula_carries_the_closure_with_the_locks_hashes(release):
    out, _ = release
    formula = (out / "rigging-cli.rb").read_text()
    sdist = out / f"rigging_cli-{__version__}.tar.gz"
    assert f'sha256 "{hashlib.sha256(sdist.read_bytes()).hexdigest()}"' in formula.split("resource", 1)[0]
    assert "virtualenv_install_with_resources" in formula and 'depends_on "python@3.12"' in formula
    resources = dict(
        (block.split('"', 1)[0], block.split('sha256 "', 1)[1].split('"', 1)[0])
        for block in formula.split('  resource "')[1:]
    )
    closure = {
        line.split("==", 1)[0].lower()
        for line in (out / "requirements-cli.txt").read_text().splitlines()
        if line and not line.startswith(("#", " "))
    }
    assert set(resources) == closure | {"rigging-core"}
    lock = {p["name"]: p for p in tomllib.loads((REPO_ROOT / "uv.lock").read_text())["package"]}
    for name in closure:
        hashes = [lock[name].get("sdist", {}).get("hash")] + [w["hash"] for w in lock[name].get("wheels", [])]
        assert f"sha256:{resources[name]}" in hashes, name
    core = out / f"rigging_core-{__version__}.tar.gz"
    assert resources["rigging-core"] == hashlib.sha256(core.read_bytes()).hexdigest()
    sums = dict(line.split("  ")[::-1] for line in (out / "SHA256SUMS").read_text().splitlines())
    assert sums[sdist.name] == hashlib.sha256(sdist.read_bytes()).hexdigest() and report_files(out) <= set(sums)


def report_files(out: Path) -> set[str]:
    return {p.name for p in out.iterdir() if p.is_file() and p.name not in ("SHA256SUMS", ".gitignore")}


def test_the_release_workflows_are_valid_github_workflows():
    checker = Path(sys.executable).parent / "check-jsonschema"
    workflows = sorted(str(p) for p in (REPO_ROOT / ".github/workflows").glob("*.yml"))
    assert any(w.endswith("release.yml") for w in workflows)
    done = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.github-workflows", *workflows], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
