"""The shared service fixtures are real, and the service skeletons start and answer."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.support.registry import RegistryServer
from tests.support.services import free_port, wait_http


def test_registry_fixture_is_a_real_distribution_registry(registry):
    with urllib.request.urlopen(f"{registry.url}/v2/", timeout=5) as response:  # noqa: S310
        assert response.status == 200
        assert response.headers["Docker-Distribution-Api-Version"] == "registry/2.0"


def test_registry_server_takes_extra_configuration(tmp_path):
    import shutil

    if shutil.which("docker-registry") is None:
        pytest.skip("needs Debian's docker-registry")
    htpasswd = tmp_path / "htpasswd"
    # bcrypt of "secret" for user "alice", as htpasswd -B writes it
    import bcrypt

    htpasswd.write_bytes(b"alice:" + bcrypt.hashpw(b"secret", bcrypt.gensalt(rounds=4)) + b"\n")
    server = RegistryServer({"auth": {"htpasswd": {"realm": "test", "path": str(htpasswd)}}})
    registry = server.start()
    try:
        with pytest.raises(urllib.error.HTTPError) as denied:
            urllib.request.urlopen(f"{registry.url}/v2/", timeout=5)  # noqa: S310
        assert denied.value.code == 401
        assert "Basic" in denied.value.headers["WWW-Authenticate"]
    finally:
        server.stop()
    assert not server.workdir.exists()


def test_database_fixture_is_a_fresh_real_postgresql(database_url):
    import psycopg

    assert "/rigging_test_" in database_url
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT current_database()").fetchone()[0] == database_url.rsplit("/", 1)[1]
        tables = conn.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema='public'")
        assert tables.fetchone()[0] == 0
        conn.execute("CREATE TABLE probe (id int primary key)")
        conn.execute("INSERT INTO probe VALUES (1)")
        assert conn.execute("SELECT id FROM probe").fetchall() == [(1,)]


@pytest.mark.parametrize("service", ["rigging-indexer", "rigging-portal"])
def test_service_serves_health(service, tmp_path):
    port = free_port()
    binary = Path(sys.executable).parent / service
    # the indexer's database goes in the test's folder, never into the checkout
    extra = ["--database", f"sqlite:///{tmp_path / 'index.db'}"] if service == "rigging-indexer" else []
    proc = subprocess.Popen(
        [str(binary), "serve", "--port", str(port), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", timeout=30, ok_statuses=(200,))
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            body = json.loads(response.read())
        assert body == {"status": "ok", "service": service, "version": "0.1.0"}
    finally:
        proc.terminate()
        proc.wait(timeout=10)
