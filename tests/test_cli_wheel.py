"""The CLI installs alone and light: no server library anywhere in its dependency closure."""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

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
def wheels(tmp_path_factory) -> Path:
    uv = shutil.which("uv")
    if uv is None:
        pytest.fail("uv is required to build wheels (the README's set-up installs it)")
    out = tmp_path_factory.mktemp("wheels")
    for package in ("rigging-cli", "rigging-core", "rigging-indexer", "rigging-portal"):
        # as users and PyPI build: the sdist, then the wheel from the unpacked sdist (a file reached
        # through a link out of the package folder is missing there, though a direct wheel has it)
        built = subprocess.run(
            [uv, "build", "--quiet", "--package", package, "-o", str(out)],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
        )
        assert built.returncode == 0, f"{package}: {built.stderr}"
    return out


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


def test_cli_wheel_closure_installs_and_runs_without_server_libraries(wheels, tmp_path):
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
            "--find-links",
            str(wheels),
            str(next(wheels.glob("rigging_cli-*.whl"))),
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
    # the installed command works and finds the schema shipped in the wheel
    pkg = tmp_path / "pkg"
    rigging = venv / "bin" / "rigging"
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
