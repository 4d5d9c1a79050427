"""A fault-injecting proxy between CLI and registry: resets, 503s, 429 with Retry-After, slow
and cut-short responses. Publish and pull either succeed after retries or fail with one clear
line, and never leave a corrupt file behind."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pytest

from tests.packages import make_package, tree
from tests.support.fault_proxy import FAULTS, FaultProxy, every, rotating


@pytest.fixture
def proxy_factory(registry):
    started = []

    def start(schedule):
        proxy = FaultProxy(registry.host, schedule).start()
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        proxy.stop()


def _cache_is_sound(cache: Path) -> None:
    for blob in (cache / "blobs" / "sha256").glob("*") if cache.exists() else []:
        assert not blob.name.startswith("."), f"leftover temp file {blob}"
        assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.name, f"corrupt cache entry {blob}"


def _check_run(result, out: Path | None, expected: dict[str, bytes] | None) -> bool:
    """A run either worked or failed cleanly; True when it worked."""
    assert "Traceback" not in result.stderr
    if result.returncode == 0:
        if out is not None:
            assert tree(out) == expected
        return True
    assert result.returncode == 1, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    if out is not None:
        assert not out.exists()
    return False


@pytest.mark.parametrize("fault", FAULTS)
def test_publish_and_pull_survive_each_fault(fault, cli, tmp_path, proxy_factory):
    proxy = proxy_factory(every(3, fault))
    env = {"RIGGING_CACHE_DIR": str(tmp_path / "cache"), "DOCKER_CONFIG": str(tmp_path / "docker")}
    pkg = make_package(tmp_path / "pkg", f"faults/{fault}", "1.0.0", docs=True)
    published = cli("publish", pkg, f"{proxy.host}/faults/{fault}", "--json", env=env)
    assert _check_run(published, None, None), f"publish did not recover from {fault}: {published.stderr}"
    out = tmp_path / "out"
    pulled = cli("pull", f"{proxy.host}/faults/{fault}:1.0.0", "-o", out, "--json", env=env)
    assert _check_run(pulled, out, tree(pkg)), f"pull did not recover from {fault}: {pulled.stderr}"
    assert json.loads(pulled.stdout)["digest"] == json.loads(published.stdout)["digest"]
    _cache_is_sound(tmp_path / "cache")
    assert proxy.injected[fault] >= 2, "the schedule really injected faults"


def test_retry_after_is_honoured(proxy_factory):
    from rigging.registry.client import RegistryClient

    proxy = proxy_factory(lambda index, method, path: "429" if index == 1 else None)
    with RegistryClient(proxy.host) as client:
        start = time.monotonic()
        assert client.has_blob("faults/retry-after", "sha256:" + "0" * 64) is False
        assert time.monotonic() - start >= 1.0, "waited the Retry-After second"
        assert client.requests == 2


def test_mixed_faults_over_many_runs_never_corrupt(cli, tmp_path, proxy_factory):
    """A fault on every second request, cycling through all kinds: each request is retried
    (an upload session as a whole) within the budget of five attempts, so every run completes."""
    proxy = proxy_factory(rotating(2))
    env = {"RIGGING_CACHE_DIR": str(tmp_path / "cache"), "DOCKER_CONFIG": str(tmp_path / "docker")}
    pkg = make_package(tmp_path / "pkg", "faults/mixed", "1.0.0", docs=True)
    failed = []
    for run in range(4):
        published = cli("publish", pkg, f"{proxy.host}/faults/mixed", env=env)
        if not _check_run(published, None, None):
            failed.append(f"publish {run}: {published.stderr.strip()}")
        out = tmp_path / f"out{run}"
        pulled = cli("pull", f"{proxy.host}/faults/mixed:1.0.0", "-o", out, env=env)
        if not _check_run(pulled, out, tree(pkg)):
            failed.append(f"pull {run}: {pulled.stderr.strip()}")
        _cache_is_sound(tmp_path / "cache")
    assert failed == [], "retries must carry every run through a fault on every second request"
    assert set(proxy.injected) == set(FAULTS) and sum(proxy.injected.values()) >= 10


def test_a_registry_that_always_fails_gives_a_clear_error_quickly(cli, tmp_path, proxy_factory):
    proxy = proxy_factory(lambda index, method, path: "503")
    env = {"RIGGING_CACHE_DIR": str(tmp_path / "cache"), "DOCKER_CONFIG": str(tmp_path / "docker")}
    start = time.monotonic()
    out = tmp_path / "out"
    result = cli("pull", f"{proxy.host}/faults/down:1.0.0", "-o", out, env=env)
    assert not _check_run(result, out, None)
    assert "503" in result.stderr
    assert time.monotonic() - start < 30, "retries are bounded"


def test_an_unreachable_registry_is_a_clear_error(cli, tmp_path):
    from tests.support.services import free_port

    result = cli(
        "pull",
        f"127.0.0.1:{free_port()}/acme/x:1.0.0",
        "-o",
        tmp_path / "o",
        env={"RIGGING_CACHE_DIR": str(tmp_path / "cache")},
    )
    assert result.returncode == 1 and "connection refused" in result.stderr
    assert "is the registry running" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
