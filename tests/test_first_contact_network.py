"""First contact, the network part: refused connections fail at once, a server's 4xx carries its
reason, a killed download's `.part` file is swept, search takes any query and says where each
package lives, `--signed` finds signed versions, `serve --source` crawls, a webhook catches a
missed push, and `update` sees what `outdated` reports even when the index is stale.

Everything runs for real: Debian's docker-registry, the indexer as a server process on SQLite
(PostgreSQL where the search SQL differs), and the CLI in subprocesses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from rigging.registry.client import RegistryClient
from rigging.registry.errors import RegistryError, TransientError, registry_reason

from tests.catalog_publish import publish_catalogue, write_package
from tests.conftest import RIGGING
from tests.support.fault_proxy import FaultProxy
from tests.support.index_db import fresh_index
from tests.support.indexer_server import INDEXER, start_indexer
from tests.support.registry import REGISTRY_BINARY, RegistryServer
from tests.support.services import free_port, unavailable, wait_http


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "RIGGING_CACHE_DIR": str(tmp_path / "cache"),
        "DOCKER_CONFIG": str(tmp_path / "docker"),
        "COSIGN_PASSWORD": "pw",
        **extra,
    }


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback test server
        return json.loads(response.read())


def _eventually(probe: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"{what} not reached within {timeout}s (last: {last!r})")


def _crawl(database: str, source: str) -> dict[str, Any]:
    done = subprocess.run(
        [str(INDEXER), "crawl", "--once", "--database", database, "--source", source],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def _one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, f"one line expected: {text!r}"
    assert "Traceback" not in text and "internal error" not in text
    return lines[0]


@pytest.fixture
def serve(tmp_path) -> Iterator[Callable[..., str]]:
    """Start `rigging-indexer serve` (stopped after the test); returns its base URL."""
    servers: list[subprocess.Popen] = []

    def start(database: str, **options: Any) -> str:
        port = free_port()
        servers.append(start_indexer(port, database, **options))
        wait_http(f"http://127.0.0.1:{port}/healthz", timeout=30, ok_statuses=(200,))
        return f"http://127.0.0.1:{port}"

    yield start
    for server in servers:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def registry_server() -> Iterator[Callable[..., RegistryServer]]:
    """Registry processes of the test's own, with whatever configuration it needs."""
    import shutil

    if shutil.which(REGISTRY_BINARY) is None:
        unavailable("needs Debian's docker-registry")
    servers: list[RegistryServer] = []

    def start(config: dict[str, Any] | None = None) -> RegistryServer:
        server = RegistryServer(config)
        servers.append(server)
        server.start()
        return server

    yield start
    for server in servers:
        server.stop()


# -- refused connections, resets, 4xx reasons -----------------------------------------------------


def test_a_refused_connection_fails_at_once_and_says_what_to_check(cli, tmp_path):
    """Nothing listens on the port: docker fails at once, and so does rigging (it took ~9 s of
    retries before). Pull, install and the library all say which host and what to check."""
    host = f"127.0.0.1:{free_port()}"
    started = time.monotonic()
    with RegistryClient(host) as client, pytest.raises(RegistryError) as refused:
        client.tags("acme/x")
    assert time.monotonic() - started < 1.0, "a refused connection is not retried"
    assert not isinstance(refused.value, TransientError)
    assert client.requests == 1

    pulled = cli("pull", f"{host}/acme/x:1.0.0", "-o", tmp_path / "out", env=_env(tmp_path))
    line = _one_line(pulled.stderr)
    assert pulled.returncode == 1
    assert f"{host}: connection refused" in line and "is the registry running" in line and host in line

    project = tmp_path / "project"
    project.mkdir()
    (project / "rigging.json").write_text(json.dumps({"registry": host, "dependencies": {"acme/x": "^1"}}))
    started = time.monotonic()
    installed = cli("install", "-C", project, env=_env(tmp_path))
    assert time.monotonic() - started < 5.0, "one process start, no backoff"
    assert installed.returncode == 1 and "connection refused" in _one_line(installed.stderr)


def test_an_unknown_host_fails_at_once(cli, tmp_path):
    started = time.monotonic()
    pulled = cli("pull", "registry.invalid/acme/x:1.0.0", "-o", tmp_path / "out", env=_env(tmp_path))
    assert pulled.returncode == 1 and time.monotonic() - started < 5.0
    assert "registry.invalid" in _one_line(pulled.stderr) and "does not resolve" in pulled.stderr


def test_a_reset_is_still_retried(registry, tmp_path, cli):
    """Retries stay for what they mend: the first request's connection is reset, the pull succeeds."""
    publish_catalogue(tmp_path, registry.host, {"net/reset": {"1.0.0": {}}})
    proxy = FaultProxy(registry.host, lambda index, method, path: "reset" if index == 1 else None).start()
    try:
        pulled = cli("pull", f"{proxy.host}/net/reset:1.0.0", "-o", tmp_path / "out", env=_env(tmp_path))
        assert pulled.returncode == 0, pulled.stderr
        assert proxy.injected["reset"] == 1 and (tmp_path / "out" / "rigging.json").is_file()
    finally:
        proxy.stop()


def test_a_registry_4xx_carries_the_registrys_reason(registry):
    """Distribution's own 400s: the error names what the registry said, not only the status."""
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + "a" * 64, "size": 3},
        "layers": [],
    }
    with RegistryClient(registry.host) as client:
        with pytest.raises(RegistryError) as invalid:
            client.put_manifest("net/reason", "1.0.0", b"{not json", "application/vnd.oci.image.manifest.v1+json")
        assert invalid.value.status == 400 and invalid.value.code == "MANIFEST_INVALID"
        assert "rejected the manifest as invalid (the registry says: manifest invalid" in str(invalid.value)
        with pytest.raises(RegistryError) as missing_blob:
            client.put_manifest(
                "net/reason", "1.0.0", json.dumps(manifest).encode(), "application/vnd.oci.image.manifest.v1+json"
            )
        assert missing_blob.value.code == "MANIFEST_BLOB_UNKNOWN"
        assert "sha256:" + "a" * 64 in str(missing_blob.value), "the registry's detail names the missing blob"


def test_reasons_are_read_from_oci_fastapi_and_html_bodies():
    assert registry_reason(
        b'{"errors":[{"code":"DENIED","message":"push denied","detail":{"repo":"a/b"}}]}', "application/json"
    ) == ("DENIED", "push denied; repo=a/b")
    assert registry_reason(
        b'{"detail":[{"loc":["query","limit"],"msg":"Input should be less than or equal to 100"}]}',
        "application/json",
    ) == (None, "limit: Input should be less than or equal to 100")
    assert registry_reason(
        b"<html><head><title>413 Request Entity Too Large</title></head><body><h1>413</h1></body></html>",
        "text/html",
    ) == (None, "413 Request Entity Too Large")
    assert len(registry_reason(b"x" * 10_000, "text/plain")[1]) <= 200


# -- .part files -----------------------------------------------------------------------------------

_HOLD_PART = """
import sys, time
from pathlib import Path
from rigging.cache import PartialFile
with PartialFile(Path(sys.argv[1])) as part:
    part.write(b"half a blob")
    part.file.flush()
    print(part.path, flush=True)
    sys.stdin.read()  # until the test closes our stdin
"""


def test_a_killed_downloads_part_file_is_swept_by_the_next_run_but_a_live_one_is_kept(registry, tmp_path, cli):
    """A pull killed mid-download leaves its `.part` file; the next download into the cache removes
    it. A `.part` another process is still writing (it holds the file's lock) stays, however old."""
    publish_catalogue(tmp_path, registry.host, {"net/part": {"1.0.0": {}}, "net/other": {"1.0.0": {}}})
    slow_blobs = lambda index, method, path: "slow" if method == "GET" and "/blobs/" in path else None  # noqa: E731
    proxy = FaultProxy(registry.host, slow_blobs).start()
    env = _env(tmp_path)
    blobs = tmp_path / "cache" / "blobs" / "sha256"
    try:
        pulling = subprocess.Popen(
            [RIGGING, "pull", f"{proxy.host}/net/part:1.0.0", "-o", tmp_path / "a"],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        parts = _eventually(lambda: list(blobs.glob(".*.part")) if blobs.is_dir() else [], 30, "a .part file")
        pulling.send_signal(signal.SIGKILL)
        pulling.wait(timeout=10)
    finally:
        proxy.stop()
    assert all(p.exists() for p in parts), "SIGKILL leaves the download's .part behind"
    old = time.time() - 3600
    for part in parts:
        os.utime(part, (old, old))

    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_PART, str(blobs / ("0" * 64))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        live = Path(holder.stdout.readline().strip())
        assert live.is_file()
        os.utime(live, (old, old))  # as old as the abandoned ones: only its lock keeps it
        pulled = cli("pull", f"{registry.host}/net/other:1.0.0", "-o", tmp_path / "b", env=env)
        assert pulled.returncode == 0, pulled.stderr
        assert [p for p in parts if p.exists()] == [], "the killed download's .part was swept"
        assert live.exists(), "a download in progress in another process is never swept"
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)
    assert not live.exists(), "its own process removes a .part it did not finish"
    again = cli("pull", f"{registry.host}/net/part:1.0.0", "-o", tmp_path / "c", env=env)
    assert again.returncode == 0, again.stderr
    assert list(blobs.glob(".*.part")) == []


# -- search ----------------------------------------------------------------------------------------


@pytest.fixture
def signed_index(registry, tmp_path, cli, serve) -> tuple[str, str, dict[str, str]]:
    """net-signed/one: 1.0.0 signed, 1.1.0 (the latest) not; net-signed/two: never signed;
    net-signed/three: signed with the legacy .sig tag. Crawled into SQLite, served."""
    publish_catalogue(
        tmp_path / "first",
        registry.host,
        {"net-signed/one": {"1.0.0": {}}, "net-signed/two": {"1.0.0": {}}, "net-signed/three": {"2.0.0": {}}},
    )
    env = _env(tmp_path)
    assert cli("generate-key-pair", "--output-dir", tmp_path / "keys", env=env).returncode == 0
    key = tmp_path / "keys" / "cosign.key"
    assert cli("sign", f"{registry.host}/net-signed/one:1.0.0", "--key", key, env=env).returncode == 0
    legacy = cli("sign", f"{registry.host}/net-signed/three:2.0.0", "--key", key, "--format", "legacy", env=env)
    assert legacy.returncode == 0, legacy.stderr
    publish_catalogue(tmp_path / "second", registry.host, {"net-signed/one": {"1.1.0": {}}})
    database = f"sqlite:///{tmp_path / 'index.db'}"
    for namespace_repo in ("net-signed/one", "net-signed/two", "net-signed/three"):
        _crawl(database, f"http://{registry.host}/{namespace_repo}")
    return registry.host, serve(database), env


def test_signed_search_finds_packages_whose_signed_version_is_not_the_latest(signed_index, cli):
    _, index, env = signed_index
    found = cli("search", "net", "--index", index, "--signed", "--json", env=env)
    assert found.returncode == 0, found.stderr
    hits = {h["name"]: h for h in json.loads(found.stdout)}
    assert sorted(hits) == ["net-signed/one", "net-signed/three"]
    assert hits["net-signed/one"]["version"] == "1.0.0" and hits["net-signed/one"]["signed"] is True
    assert hits["net-signed/three"]["version"] == "2.0.0"
    everything = {h["name"]: h for h in json.loads(cli("search", "net", "--index", index, "--json", env=env).stdout)}
    assert everything["net-signed/one"]["version"] == "1.1.0" and everything["net-signed/one"]["signed"] is False
    assert everything["net-signed/three"]["signed"] is True and everything["net-signed/two"]["signed"] is False


def test_search_results_say_where_each_package_lives(signed_index, cli):
    host, index, env = signed_index
    found = json.loads(cli("search", "net", "--index", index, "--json", env=env).stdout)
    assert {h["name"]: h["ref"] for h in found} == {
        f"net-signed/{n}": f"{host}/net-signed/{n}" for n in ("one", "two", "three")
    }
    table = cli("search", "net", env={**env, "RIGGING_INDEX_URL": index})
    assert table.returncode == 0, table.stderr
    rows = {line.split()[0]: line.split() for line in table.stdout.splitlines()}
    assert rows["net-signed/one"][:3] == ["net-signed/one", "1.1.0", f"{host}/net-signed/one"]
    assert "✓signed" in " ".join(rows["net-signed/three"]) and "✓signed" not in " ".join(rows["net-signed/two"])
    # what the table shows is what pull takes
    out = Path(env["RIGGING_CACHE_DIR"]).parent / "pulled"
    pulled = cli("pull", rows["net-signed/two"][2] + ":1.0.0", "-o", out, env=env)
    assert pulled.returncode == 0, pulled.stderr


def test_an_oci_layout_source_is_named_as_such_in_results(cli, tmp_path, serve):
    layout = tmp_path / "store" / "net" / "layout"
    package = write_package(tmp_path / "src", "net/layout", "1.0.0")
    published = cli("publish", package, f"oci:{layout}", env=_env(tmp_path))
    assert published.returncode == 0, published.stderr
    database = f"sqlite:///{tmp_path / 'index.db'}"
    assert _crawl(database, f"oci:{layout}")["indexed"] == 1
    index = serve(database)
    hits = json.loads(cli("search", "layout", "--index", index, "--json", env=_env(tmp_path)).stdout)
    assert [(h["name"], h["ref"]) for h in hits] == [("net/layout", f"oci:{layout}")]
    pulled = cli("pull", f"{hits[0]['ref']}:1.0.0", "-o", tmp_path / "out", env=_env(tmp_path))
    assert pulled.returncode == 0, pulled.stderr


@pytest.mark.parametrize("dialect", ["postgresql", "sqlite"])
def test_signed_versions_and_refs_on_both_databases(dialect, tmp_path):
    from rigging_indexer import store
    from rigging_indexer.search import search

    with fresh_index(dialect, tmp_path) as (_, sessions), sessions() as s:
        repo = store.repository(s, store.source(s, "https://registry.test:5000/acme"), "acme/tool")
        for n, (version, signed) in enumerate((("1.0.0", True), ("1.1.0", True), ("2.0.0", False))):
            digest = f"sha256:{n + 1:064x}"
            store.upsert_version(
                s,
                repo,
                store.IndexedVersion(
                    name="acme/tool",
                    version=version,
                    manifest_digest=digest,
                    content_digest=digest,
                    content_size=1,
                    config={"name": "acme/tool", "version": version, "description": "a tool"},
                    signed_by=["bundle"] if signed else [],
                ),
            )
            store.set_tag(s, repo, version, digest)
        s.commit()
        assert [(h.version, h.ref, h.signed) for h in search(s, "tool", signed=True)] == [
            ("1.1.0", "registry.test:5000/acme/tool", True)
        ]
        assert [(h.version, h.signed) for h in search(s, "tool")] == [("2.0.0", False)]
        assert search(s, "tool", signed=False) == [], "it has signed versions"


def test_an_over_long_query_is_refused_in_one_line_and_never_sent(cli, tmp_path, serve):
    index = serve(f"sqlite:///{tmp_path / 'index.db'}")
    huge = cli("search", "x" * 100_000, "--index", index, env=_env(tmp_path))
    assert huge.returncode == 2 and "100,000 characters" in _one_line(huge.stderr)
    wide = cli("search", "😀" * 999, "--index", index, env=_env(tmp_path))  # few characters, a long URL
    assert wide.returncode == 2 and "URL" in _one_line(wide.stderr)
    # the server refuses what the CLI would not send, with its reason
    with pytest.raises(urllib.error.HTTPError) as refused:
        _get_json(f"{index}/api/v1/packages?" + urllib.parse.urlencode({"q": "y" * 1001}))
    assert refused.value.code == 422 and "1000" in refused.value.read().decode()
    bad_index = cli("search", "x", "--index", "127.0.0.1:8700", env=_env(tmp_path))
    assert bad_index.returncode == 2 and "http://" in _one_line(bad_index.stderr)


def test_the_indexers_422_reason_reaches_the_user(cli, tmp_path, serve):
    index = serve(f"sqlite:///{tmp_path / 'index.db'}")
    refused = cli("search", "x", "--limit", "1000", "--index", index, env=_env(tmp_path))
    line = _one_line(refused.stderr)
    assert refused.returncode == 1
    assert "HTTP 422" in line and "limit: Input should be less than or equal to 100" in line


def test_an_indexer_that_is_not_running_fails_at_once(cli, tmp_path):
    port = free_port()
    started = time.monotonic()
    down = cli("search", "x", "--index", f"http://127.0.0.1:{port}", env=_env(tmp_path))
    assert down.returncode == 1 and time.monotonic() - started < 5.0
    line = _one_line(down.stderr)
    assert "connection refused" in line and "is the indexer running" in line and str(port) in line


# -- the indexer service ---------------------------------------------------------------------------


def _names(index: str, query: str) -> list[str]:
    return [h["name"] for h in _get_json(f"{index}/api/v1/packages?q={query}")["results"]]


def test_serve_with_a_source_crawls_on_start_and_on_its_interval(own_registry, tmp_path, serve):
    registry = own_registry()
    publish_catalogue(tmp_path / "a", registry.host, {"svc/early": {"1.0.0": {}}})
    index = serve(f"sqlite:///{tmp_path / 'index.db'}", source=f"http://{registry.host}", crawl_interval=1)
    _eventually(lambda: _names(index, "svc") == ["svc/early"], 30, "the crawl on start")
    publish_catalogue(tmp_path / "b", registry.host, {"svc/later": {"1.0.0": {}}})
    _eventually(lambda: sorted(_names(index, "svc")) == ["svc/early", "svc/later"], 30, "an interval crawl")
    jobs = _get_json(f"{index}/api/v1/stats")["crawl"]["jobs"]
    assert jobs.get("done", 0) >= 2, jobs


def test_a_webhook_push_also_indexes_a_tag_whose_push_was_missed(registry_server, tmp_path, cli, serve):
    """Two registry processes share one storage: pushes through `quiet` send no notification (a
    missed webhook); a push through `loud` does, and the indexer then finds both versions."""
    secret = "hook-secret"
    port = free_port()
    loud = registry_server(
        {
            "notifications": {
                "endpoints": [
                    {
                        "name": "indexer",
                        "url": f"http://127.0.0.1:{port}/api/v1/webhooks/registry",
                        "headers": {"Authorization": [f"Bearer {secret}"]},
                        "timeout": "2s",
                        "threshold": 3,
                        "backoff": "1s",
                    }
                ]
            }
        }
    )
    quiet = registry_server({"storage": {"filesystem": {"rootdirectory": str(loud.storage)}}})
    server = start_indexer(
        port,
        f"sqlite:///{tmp_path / 'index.db'}",
        source=f"http://127.0.0.1:{loud.port}",
        webhook_secret=secret,
        crawl_interval=0,  # no crawl: only the webhook can find anything
    )
    try:
        index = f"http://127.0.0.1:{port}"
        wait_http(f"{index}/healthz", timeout=30, ok_statuses=(200,))
        env = _env(tmp_path)
        missed = cli(
            "publish", write_package(tmp_path / "v1", "hook/pkg", "1.0.0"), f"127.0.0.1:{quiet.port}/hook/pkg", env=env
        )
        assert missed.returncode == 0, missed.stderr
        time.sleep(1)
        assert _names(index, "hook") == [], "the quiet registry told nobody"
        pushed = cli(
            "publish", write_package(tmp_path / "v2", "hook/pkg", "1.1.0"), f"127.0.0.1:{loud.port}/hook/pkg", env=env
        )
        assert pushed.returncode == 0, pushed.stderr

        def versions() -> list[str]:
            try:
                return _get_json(f"{index}/api/v1/packages/hook/pkg/versions")["versions"]
            except urllib.error.HTTPError:
                return []

        found = _eventually(lambda: [v["version"] for v in versions()] == ["1.1.0", "1.0.0"], 30, "both versions")
        assert found
        crawl = _get_json(f"{index}/api/v1/stats")["crawl"]
        assert crawl["jobs"] == {}, f"found by the webhook's re-check, not a crawl: {crawl}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_indexer_and_portal_say_their_version():
    for program in ("rigging-indexer", "rigging-portal"):
        done = subprocess.run(
            [str(Path(sys.executable).parent / program), "--version"], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(f"{program} 0.") and "rigging-core" in done.stdout


# -- outdated and update agree ---------------------------------------------------------------------


def test_update_and_add_see_what_outdated_reports_though_the_index_is_stale(registry, tmp_path, cli, serve):
    """The index crawled before 1.1.0 (and net-stale/late) were published: `outdated` reads the
    registry and reports 1.1.0; `update` brings exactly that, and `add` finds the new package."""
    publish_catalogue(tmp_path / "a", registry.host, {"net-stale/pkg": {"1.0.0": {}}})
    database = f"sqlite:///{tmp_path / 'index.db'}"
    _crawl(database, f"http://{registry.host}/net-stale/pkg")
    index = serve(database)
    env = _env(tmp_path, RIGGING_INDEX_URL=index)
    project = tmp_path / "project"
    project.mkdir()
    (project / "rigging.json").write_text(
        json.dumps({"registry": registry.host, "dependencies": {"net-stale/pkg": "^1"}, "targets": ["agents"]})
    )
    installed = cli("install", "-C", project, "--json", env=env)
    assert installed.returncode == 0, installed.stderr
    assert json.loads(installed.stdout)["packages"] == {"net-stale/pkg": "1.0.0"}

    publish_catalogue(tmp_path / "b", registry.host, {"net-stale/pkg": {"1.1.0": {}}, "net-stale/late": {"0.2.0": {}}})
    assert [v["version"] for v in _get_json(f"{index}/api/v1/packages/net-stale/pkg/versions")["versions"]] == [
        "1.0.0"
    ], "the index is stale"
    outdated = cli("outdated", "-C", project, "--json", env=env)
    assert outdated.returncode == 0, outdated.stderr
    rows = json.loads(outdated.stdout)
    assert [(r["name"], r["wanted"], r["latest"]) for r in rows] == [("net-stale/pkg", "1.1.0", "1.1.0")]
    updated = cli("update", "-C", project, "--json", env=env)
    assert updated.returncode == 0, updated.stderr
    assert json.loads(updated.stdout)["packages"] == {"net-stale/pkg": "1.1.0"}
    assert json.loads(cli("outdated", "-C", project, "--json", env=env).stdout) == []

    # add resolves again: the index, which lacks the locked 1.1.0, must not move it back to 1.0.0
    added = cli("add", "net-stale/late", "-C", project, "--json", env=env)
    assert added.returncode == 0, added.stderr
    assert json.loads((project / "rigging.json").read_text())["dependencies"]["net-stale/late"] == "^0.2.0"
    lock = json.loads((project / "rigging.lock").read_text())
    locked = {n: entry["version"] for n, entry in lock["packages"].items()}
    assert locked == {"net-stale/pkg": "1.1.0", "net-stale/late": "0.2.0"}
    assert "has not seen net-stale/pkg 1.1.0" in added.stderr and "behind" in added.stderr
