"""Real OCI registries for tests.

In order of preference: RIGGING_TEST_REGISTRY (an external registry, host:port), Debian's
`docker-registry` binary (CNCF distribution) on a free loopback port with its own storage
folder, or the `registry:2` image through testcontainers when a Docker engine answers.
`RegistryServer` also takes extra configuration (auth, notifications) for the tests that need it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.services import free_port, wait_http, wait_tcp

REGISTRY_BINARY = "docker-registry"


@dataclass
class Registry:
    host: str  # host:port
    storage: Path | None = None  # the filesystem driver's root, when the test owns it
    plain_http: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"{'http' if self.plain_http else 'https'}://{self.host}"


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


class RegistryServer:
    """Debian's distribution binary, configured through a JSON file (JSON is valid YAML)."""

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="rigging-registry-"))
        self.storage = self.workdir / "storage"
        self.storage.mkdir()
        self.port = free_port()
        base = {
            "version": 0.1,
            "log": {"level": "warn", "accesslog": {"disabled": True}},
            "storage": {
                "filesystem": {"rootdirectory": str(self.storage)},
                "delete": {"enabled": True},
                "maintenance": {"uploadpurging": {"enabled": False}},
            },
            "http": {"addr": f"127.0.0.1:{self.port}", "secret": "rigging-test-secret"},
        }
        self.config = _merge(base, config or {})
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def tls(self) -> bool:
        return "tls" in self.config.get("http", {})

    def start(self) -> Registry:
        config_path = self.workdir / "config.yml"
        config_path.write_text(json.dumps(self.config))
        log = (self.workdir / "registry.log").open("wb")
        self.process = subprocess.Popen(
            [REGISTRY_BINARY, "serve", str(config_path)], stdout=log, stderr=subprocess.STDOUT
        )
        try:
            if self.tls:
                wait_tcp("127.0.0.1", self.port)
            else:
                wait_http(f"http://127.0.0.1:{self.port}/v2/")
        except TimeoutError:
            self.stop()
            raise
        return Registry(host=f"127.0.0.1:{self.port}", storage=self.storage, plain_http=not self.tls)

    def log(self) -> str:
        path = self.workdir / "registry.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)


def docker_engine_reachable() -> bool:
    if not (os.environ.get("DOCKER_HOST") or Path("/var/run/docker.sock").exists()):
        return False
    import docker
    from docker.errors import DockerException

    try:
        docker.from_env(timeout=3).ping()
    except (DockerException, OSError):  # no engine answers on that socket (requests' errors are OSErrors)
        return False
    return True


@contextlib.contextmanager
def _container_registry() -> Iterator[Registry]:
    from testcontainers.core.container import DockerContainer

    with DockerContainer("registry:2").with_exposed_ports(5000) as container:
        host = f"{container.get_container_host_ip()}:{container.get_exposed_port(5000)}"
        wait_http(f"http://{host}/v2/")
        yield Registry(host=host)


@contextlib.contextmanager
def any_registry() -> Iterator[Registry | str]:
    """A running registry, or a string saying why none could be had."""
    external = os.environ.get("RIGGING_TEST_REGISTRY")
    if external:
        yield Registry(
            host=external.removeprefix("http://").removeprefix("https://").rstrip("/"),
            plain_http=not external.startswith("https://"),
        )
        return
    if shutil.which(REGISTRY_BINARY):
        server = RegistryServer()
        try:
            yield server.start()
        finally:
            server.stop()
        return
    if docker_engine_reachable():
        with _container_registry() as registry:
            yield registry
        return
    yield (
        f"no registry: set RIGGING_TEST_REGISTRY, install Debian's {REGISTRY_BINARY} "
        "(apt-get install -y docker-registry), or run a Docker engine"
    )


def basic_auth_config(folder: Path, user: str, password: str) -> dict[str, Any]:
    """Configuration for a registry that asks for Basic auth: one user in an htpasswd file, its
    password hashed with bcrypt (the only scheme distribution accepts, as `htpasswd -B` writes)."""
    import bcrypt

    htpasswd = folder / "htpasswd"
    htpasswd.write_bytes(f"{user}:".encode() + bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)) + b"\n")
    return {"auth": {"htpasswd": {"realm": "rigging-test", "path": str(htpasswd)}}}


def notifications_config(url: str, secret: str) -> dict[str, Any]:
    """Configuration for a registry that sends push and pull notifications to `url` (an indexer's
    webhook) with `Authorization: Bearer <secret>`, retrying after a 1 s backoff."""
    return {
        "notifications": {
            "endpoints": [
                {
                    "name": "indexer",
                    "url": url,
                    "headers": {"Authorization": [f"Bearer {secret}"]},
                    "timeout": "2s",
                    "threshold": 3,
                    "backoff": "1s",
                }
            ]
        }
    }
