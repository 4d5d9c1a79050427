"""The shared service fixtures are real, and the service skeletons start and answer."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psycopg
import pytest
from rigging.registry.client import RegistryClient

from tests.packages import make_package
from tests.support.indexer_server import start_indexer
from tests.support.postgres import required_database, server_url
from tests.support.registry import RegistryServer, basic_auth_config
from tests.support.services import free_port, unavailable, wait_http


def test_registry_fixture_is_a_real_distribution_registry(registry):
    with urllib.request.urlopen(f"{registry.url}/v2/", timeout=5) as response:  # noqa: S310
        assert response.status == 200
        assert response.headers["Docker-Distribution-Api-Version"] == "registry/2.0"


def test_registry_server_takes_extra_configuration(tmp_path):
    import shutil

    if shutil.which("docker-registry") is None:
        unavailable("needs Debian's docker-registry")
    server = RegistryServer(basic_auth_config(tmp_path, "alice", "secret"))
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
    database = f"sqlite:///{tmp_path / 'index.db'}"
    if service == "rigging-portal":  # the portal reads an index the indexer has made
        from rigging_indexer.db import make_engine, migrate

        migrate(make_engine(database))
    extra = ["--database", database]
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


# -- the indexer on PostgreSQL, with several server processes ---------------------------------

WORKERS = 3


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _descendants(pid: int) -> list[int]:
    found, queue = [], [pid]
    while queue:
        children = _children(queue.pop())
        found += children
        queue += children
    return found


def _workers(pid: int) -> list[int]:
    """uvicorn's worker processes (multiprocessing spawn children; not its resource tracker)."""
    return [c for c in _children(pid) if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]


def _sockets(pid: int) -> set[str]:
    found = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:"):
                found.add(target)
    return found


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _ask(conn: http.client.HTTPConnection, method: str, path: str, body: object = None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    conn.request(method, path, body=data, headers={"Content-Type": "application/json", **(headers or {})})
    response = conn.getresponse()
    return response.status, json.loads(response.read())


def _connection_per_worker(port: int, workers: list[int]) -> dict[int, http.client.HTTPConnection]:
    """Open connections until every worker has accepted one; the worker that did is the one whose
    socket table grew while it answered (each kept connection then always reaches that worker)."""
    held: dict[int, http.client.HTTPConnection] = {}
    deadline = time.monotonic() + 30
    while len(held) < len(workers) and time.monotonic() < deadline:
        before = {w: _sockets(w) for w in workers}
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        status, body = _ask(conn, "GET", "/healthz")
        assert status == 200 and body["status"] == "ok", body
        grew = [w for w in workers if _sockets(w) - before[w]]
        if len(grew) != 1:  # another worker opened a socket meanwhile (its database pool, say): ask again
            conn.close()
            continue
        if grew[0] in held:
            conn.close()
        else:
            held[grew[0]] = conn
        for other in held.values():  # keep the held connections from idling out
            assert _ask(other, "GET", "/healthz")[0] == 200
    return held


def test_indexer_serves_from_postgresql_with_several_workers(cli, tmp_path, own_registry):
    """`serve --workers 3` on PostgreSQL: every worker answers; a webhook write taken by one worker is
    what every worker's search and package page show at once; SIGTERM stops the whole tree."""
    registry = own_registry()
    env = {"RIGGING_CACHE_DIR": str(tmp_path / "cache"), "DOCKER_CONFIG": str(tmp_path / "docker")}
    pkg = make_package(tmp_path / "pkg", "multi/worker", "1.0.0")
    published = cli("publish", pkg, f"{registry.host}/multi/worker", "--json", env=env)
    assert published.returncode == 0, published.stderr
    digest = json.loads(published.stdout)["digest"]
    with RegistryClient(registry.host) as client:
        manifest = json.loads(client.get_manifest("multi/worker", digest)[0])
    content = manifest["layers"][0]

    with contextlib.ExitStack() as stack:
        database = stack.enter_context(required_database())  # no server: unavailable (a failure in CI)
        port = free_port()
        secret = "multi-worker-hook"
        server = start_indexer(
            port,
            database,
            source=f"http://{registry.host}",
            webhook_secret=secret,
            workers=WORKERS,
            crawl_interval=0,  # the webhook alone writes
            output=subprocess.PIPE,
        )
        stack.callback(lambda: server.poll() is None and (server.kill(), server.wait()))
        wait_http(f"http://127.0.0.1:{port}/healthz", timeout=60, ok_statuses=(200,))
        workers = _workers(server.pid)
        assert len(workers) == WORKERS, workers
        conns = _connection_per_worker(port, workers)
        assert sorted(conns) == sorted(workers), "every worker process answered"

        query = "/api/v1/packages?q=worker"
        for _ in range(3):  # each worker computes and caches the empty answer (its first search
            for conn in conns.values():  # starts its generation watcher; the next ones cache)
                assert _ask(conn, "GET", query) == (200, {"query": "worker", "total": 0, "results": []})
            time.sleep(0.05)

        writer, *readers = list(conns)
        push = {
            "action": "push",
            "target": {
                "mediaType": manifest["mediaType"],
                "digest": digest,
                "repository": "multi/worker",
                "url": f"http://{registry.host}/v2/multi/worker/manifests/{digest}",
                "tag": "1.0.0",
            },
            "request": {"useragent": "docker/27"},
        }
        auth = {"Authorization": f"Bearer {secret}"}
        assert _ask(conns[writer], "POST", "/api/v1/webhooks/registry", {"events": [push]}, auth) == (
            202,
            {"indexed": 1, "downloads": 0},
        )
        time.sleep(0.1)  # each worker reads the search generation every 20 ms while it is busy
        for pid, conn in conns.items():
            status, body = _ask(conn, "GET", query)
            assert status == 200 and [hit["name"] for hit in body["results"]] == ["multi/worker"], (pid, body)
            status, detail = _ask(conn, "GET", "/api/v1/packages/multi/worker")
            assert status == 200 and detail["versions"] == ["1.0.0"] and detail["latest"]["manifest"] == digest

        pull = {
            "action": "pull",
            "target": {"mediaType": content["mediaType"], "digest": content["digest"], "repository": "multi/worker"},
            "request": {"useragent": "rigging/0.1"},
        }
        counted = _ask(conns[readers[0]], "POST", "/api/v1/webhooks/registry", {"events": [pull]}, auth)
        assert counted == (202, {"indexed": 0, "downloads": 1})
        for conn in conns.values():
            assert _ask(conn, "GET", "/api/v1/packages/multi/worker")[1]["downloads"] == 1

        with psycopg.connect(database) as db:  # the writes are in PostgreSQL, not a file beside us
            rows = db.execute("SELECT name, downloads FROM packages").fetchall()
        assert rows == [("multi/worker", 1)]

        for conn in conns.values():
            conn.close()
        tracked = _descendants(server.pid)  # the workers, multiprocessing's resource tracker, anything they started
        assert set(workers) <= set(tracked)
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0, server.stdout.read().decode(errors="replace") if server.stdout else ""
        deadline = time.monotonic() + 10
        while any(_running(pid) for pid in tracked) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [pid for pid in tracked if _running(pid)], "every process of the tree has exited"
        with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
            pass
        name = database.rsplit("/", 1)[1]
        deadline = time.monotonic() + 10
        with psycopg.connect(server_url(), autocommit=True) as admin:
            while True:
                left = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (name,)).fetchone()[0]
                if left == 0 or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
        assert left == 0, f"{left} database connection(s) outlived the server"


def test_the_portal_refuses_an_index_that_is_not_migrated(tmp_path):
    """One line naming the index and what to run, exit 2, no traceback: the portal never migrates."""
    done = subprocess.run(
        [str(Path(sys.executable).parent / "rigging-portal"), "serve", "--database", f"sqlite:///{tmp_path / 'x.db'}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "holds no index; run rigging-indexer" in done.stderr and "Traceback" not in done.stderr
    none = subprocess.run(
        [str(Path(sys.executable).parent / "rigging-portal"), "serve"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={k: v for k, v in os.environ.items() if k != "RIGGING_INDEXER_DATABASE_URL"},
    )
    assert none.returncode == 2 and "give --database URL" in none.stderr
