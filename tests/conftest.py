"""Fixtures every test module shares: the CLI, package folders, a real registry, a real PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.registry import Registry, any_registry
from tests.support.services import unavailable

REPO_ROOT = Path(__file__).resolve().parent.parent
# ../shared/fixtures beside the checkout (as CI lays it out), or RIGGING_SHARED_FIXTURES
FIXTURES = Path(os.environ.get("RIGGING_SHARED_FIXTURES", REPO_ROOT.parent / "shared" / "fixtures"))
RIGGING = Path(sys.executable).parent / "rigging"


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def run_cli(
    *args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None, input: str | None = None
) -> Result:
    """Run the installed `rigging` command as a user would, in a separate process."""
    proc = subprocess.run(
        [str(RIGGING), *map(str, args)],
        input=input if input is not None else "",
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=120,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture(scope="session")
def registry() -> Iterator[Registry]:
    """One real registry for the whole run; tests use distinct repository names."""
    with any_registry() as found:
        if isinstance(found, str):
            unavailable(found)
        yield found


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A throw-away PostgreSQL database for this run (RIGGING_TEST_DATABASE_URL names the server).

    Only a server that does not answer is `unavailable`; failing to create the database is an error."""
    from tests.support.postgres import required_database

    with required_database() as url:
        yield url


@pytest.fixture
def skopeo() -> str:
    import shutil

    path = shutil.which("skopeo")
    if path is None:
        unavailable("skopeo is not installed (apt-get install -y skopeo)")
    return path


@pytest.fixture
def fixtures() -> Path:
    """Real signing material made by other projects' tools (cosign, Sigstore)."""
    if not (FIXTURES / "cosign").is_dir():
        unavailable(f"shared fixtures not found at {FIXTURES} (set RIGGING_SHARED_FIXTURES)")
    return FIXTURES


@pytest.fixture
def own_registry():
    """A registry with nothing else in it, so its _catalog is exactly what the test pushed."""
    import shutil

    from tests.support.registry import REGISTRY_BINARY, RegistryServer

    if shutil.which(REGISTRY_BINARY) is None:
        unavailable("needs Debian's docker-registry")
    servers = []

    def start(config=None):
        server = RegistryServer(config)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()


KEY_PASSWORD = "correct horse"


@pytest.fixture
def signing_env(tmp_path) -> dict[str, str]:
    """An isolated cache and docker config, and the password of the keys below."""
    return {
        "RIGGING_CACHE_DIR": str(tmp_path / "cache"),
        "DOCKER_CONFIG": str(tmp_path / "docker"),
        "COSIGN_PASSWORD": KEY_PASSWORD,
    }


@pytest.fixture
def keys(tmp_path, signing_env) -> tuple[Path, Path]:
    """Two cosign key pairs made by `rigging generate-key-pair`: (good, other)."""
    for name in ("good", "other"):
        result = run_cli("generate-key-pair", "--output-dir", tmp_path / name, env=signing_env)
        assert result.returncode == 0, result.stderr
    assert (tmp_path / "good" / "cosign.key").stat().st_mode & 0o777 == 0o600, "a private key is private"
    return tmp_path / "good", tmp_path / "other"


@pytest.fixture
def env(tmp_path):
    """A CLI environment of the test's own: an empty blob cache and docker config."""
    return {"RIGGING_CACHE_DIR": str(tmp_path / "cache"), "DOCKER_CONFIG": str(tmp_path / "docker")}


@pytest.fixture
def umask_022():
    """Files are written 0755/0644 less the umask, as git does: fix the umask so modes are exact."""
    old = os.umask(0o022)
    yield
    os.umask(old)
