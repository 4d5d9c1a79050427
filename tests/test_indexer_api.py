"""The indexer as users meet it: `rigging-indexer crawl` and `serve`, the API, `rigging search`,
and installs that take version lists from the indexer and fall back to the registry."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.catalog_publish import publish_catalogue
from tests.support.fault_proxy import FaultProxy
from tests.support.indexer_server import INDEXER, start_indexer
from tests.support.services import free_port, wait_http


def _get(url: str):
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback test server
        body = response.read()
        return json.loads(body) if response.headers.get("content-type", "").startswith("application/json") else body


@pytest.fixture
def indexed(own_registry, tmp_path, cli):
    registry = own_registry()
    publish_catalogue(
        tmp_path,
        registry.host,
        {
            "idx/style": {"1.0.0": {}, "1.2.0": {"idx/base": "^1"}},
            "idx/base": {"1.0.0": {}},
            "idx/shell": {"0.3.0": {}},
        },
    )
    env = {
        "RIGGING_CACHE_DIR": str(tmp_path / "cache"),
        "DOCKER_CONFIG": str(tmp_path / "docker"),
        "COSIGN_PASSWORD": "pw",
    }
    assert cli("generate-key-pair", "--output-dir", tmp_path / "keys", env=env).returncode == 0
    assert (
        cli("sign", f"{registry.host}/idx/shell:0.3.0", "--key", tmp_path / "keys" / "cosign.key", env=env).returncode
        == 0
    )
    database = f"sqlite:///{tmp_path / 'index.db'}"
    crawl = subprocess.run(
        [str(INDEXER), "crawl", "--once", "--database", database, "--source", f"http://{registry.host}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert crawl.returncode == 0, crawl.stderr
    assert json.loads(crawl.stdout.strip().splitlines()[-1])["indexed"] == 4
    port = free_port()
    server = start_indexer(port, database)
    wait_http(f"http://127.0.0.1:{port}/healthz", timeout=30, ok_statuses=(200,))
    yield registry, f"http://127.0.0.1:{port}", server, env
    if server.poll() is None:
        server.terminate()
        server.wait(timeout=10)


def test_api_endpoints(indexed):
    _, index, _, _ = indexed
    detail = _get(f"{index}/api/v1/packages/idx/style")
    assert detail["versions"] == ["1.2.0", "1.0.0"] and detail["latest"]["dependencies"] == {"idx/base": "^1"}
    assert detail["latest"]["readme"].startswith("# idx/style") and "rules/style.md" in detail["latest"]["files"]
    assert _get(f"{index}/api/v1/packages/idx/shell")["latest"]["signatures"] == ["bundle"]
    versions = _get(f"{index}/api/v1/packages/idx/style/versions")["versions"]
    assert [v["version"] for v in versions] == ["1.2.0", "1.0.0"] and versions[0]["content"]["digest"]
    stats = _get(f"{index}/api/v1/stats")
    assert stats["packages"] == 3 and stats["versions"] == 4 and stats["crawl"]["jobs"] == {"done": 3}
    metrics = _get(f"{index}/metrics").decode()
    assert "rigging_index_packages 3.0" in metrics and 'rigging_index_crawl_jobs{state="done"} 3.0' in metrics
    openapi = _get(f"{index}/api/v1/openapi.json")
    assert "/api/v1/packages" in openapi["paths"] and "/api/v1/packages/{namespace}/{name}/versions" in openapi["paths"]
    with pytest.raises(urllib.error.HTTPError) as missing:
        _get(f"{index}/api/v1/packages/idx/nothing")
    assert missing.value.code == 404


def test_rigging_search(indexed, cli):
    _, index, _, env = indexed
    found = cli("search", "sty", "--index", index, "--json", env=env)
    assert found.returncode == 0 and [r["name"] for r in json.loads(found.stdout)] == ["idx/style"]
    signed = cli("search", "--index", index, "--signed", "--json", env=env)
    assert signed.returncode == 0 and [r["name"] for r in json.loads(signed.stdout)] == ["idx/shell"]
    table = cli("search", "idx", env={**env, "RIGGING_INDEX_URL": index})
    assert table.returncode == 0, table.stderr
    rows = {line.split()[0]: line for line in table.stdout.splitlines() if line.startswith("idx/")}
    assert sorted(rows) == ["idx/base", "idx/shell", "idx/style"]
    assert "✓signed" in rows["idx/shell"] and "✓signed" not in rows["idx/style"] + rows["idx/base"]
    none = cli("search", "idx", env={k: v for k, v in env.items() if k != "RIGGING_INDEX_URL"})
    assert none.returncode == 2 and "RIGGING_INDEX_URL" in none.stderr


def test_install_takes_version_lists_from_the_index_and_falls_back(indexed, cli, tmp_path):
    registry, index, server, env = indexed
    counted: list[tuple[str, str]] = []
    proxy = FaultProxy(registry.host, lambda i, method, path: counted.append((method, path)) or None).start()
    # The CLI asks the index for the versions in the registry it names (the proxy); the index knows
    # the proxy as another name of the crawled registry only if configured so, as --mirror does.
    _configure_mirrors(tmp_path / "index.db", {f"http://{proxy.host}": f"http://{registry.host}"})
    try:
        for n, index_url in enumerate([index, None]):
            project = tmp_path / f"project{n}"
            project.mkdir()
            (project / "rigging.json").write_text(
                json.dumps({"registry": proxy.host, "dependencies": {"idx/style": "^1"}, "targets": ["agents"]})
            )
            counted.clear()
            run_env = {**env, "RIGGING_CACHE_DIR": str(tmp_path / f"cache{n}")}
            if index_url:
                run_env["RIGGING_INDEX_URL"] = index_url
            done = cli("install", "-C", project, "--json", env=run_env)
            assert done.returncode == 0, done.stderr
            assert json.loads(done.stdout)["packages"] == {"idx/style": "1.2.0", "idx/base": "1.0.0"}
            tag_lists = [p for m, p in counted if p.endswith("/tags/list") or "/tags/list?" in p]
            if index_url:
                assert tag_lists == [], "version lists came from the index"
                server.terminate()
                server.wait(timeout=10)
                index_down = cli(
                    "install",
                    "-C",
                    project,
                    "--json",
                    env={**run_env, "RIGGING_CACHE_DIR": str(tmp_path / "cache-down")},
                )
                # the lock is current: nothing to resolve, so the stopped index is never asked
                assert index_down.returncode == 0, index_down.stderr
                assert json.loads(index_down.stdout)["packages"] == {"idx/style": "1.2.0", "idx/base": "1.0.0"}
                assert "unavailable" not in index_down.stderr
            else:
                assert len(tag_lists) == 2, "without an index the registry's tag lists are read"
        project = tmp_path / "project-down"
        project.mkdir()
        (project / "rigging.json").write_text(
            json.dumps({"registry": proxy.host, "dependencies": {"idx/style": "^1"}, "targets": ["agents"]})
        )
        fallback = cli(
            "install",
            "-C",
            project,
            "--json",
            env={**env, "RIGGING_INDEX_URL": index, "RIGGING_CACHE_DIR": str(tmp_path / "cache-fb")},
        )
        assert fallback.returncode == 0 and "unavailable" in fallback.stderr and "registry" in fallback.stderr
        assert json.loads(fallback.stdout)["packages"] == {"idx/style": "1.2.0", "idx/base": "1.0.0"}
        agents = (project / "AGENTS.md").read_text()
        assert "## idx/style 1.2.0" in agents and "## idx/base 1.0.0" in agents
    finally:
        proxy.stop()


def _configure_mirrors(database: Path, mirrors: dict[str, str]) -> None:
    from rigging_indexer import store
    from rigging_indexer.db import make_engine, sessions

    engine = make_engine(f"sqlite:///{database}")
    try:
        with sessions(engine)() as s:
            store.configure_mirrors(s, mirrors)
            s.commit()
    finally:
        engine.dispose()


def test_cached_search_sees_another_process_write_at_once(own_registry, tmp_path):
    """Two server processes cache search responses; a crawl in a third process changes the
    documents, and the next search (after the 20 ms generation check) already shows it."""
    registry = own_registry()
    publish_catalogue(tmp_path / "first", registry.host, {"cache/early": {"1.0.0": {}}})
    database = f"sqlite:///{tmp_path / 'index.db'}"
    crawl = [str(INDEXER), "crawl", "--once", "--database", database, "--source", f"http://{registry.host}"]
    assert subprocess.run(crawl, capture_output=True, timeout=120).returncode == 0
    port = free_port()
    server = start_indexer(port, database, workers=2)
    try:
        index = f"http://127.0.0.1:{port}"
        wait_http(f"{index}/healthz", timeout=30, ok_statuses=(200,))
        search = f"{index}/api/v1/packages?q=cache"
        for _ in range(20):  # every worker process has answered (and cached) this query
            assert [r["name"] for r in _get(search)["results"]] == ["cache/early"]
        publish_catalogue(tmp_path / "second", registry.host, {"cache/later": {"1.0.0": {}}})
        assert subprocess.run(crawl, capture_output=True, timeout=120).returncode == 0
        time.sleep(0.05)
        for _ in range(20):
            assert sorted(r["name"] for r in _get(search)["results"]) == ["cache/early", "cache/later"]
    finally:
        server.terminate()
        server.wait(timeout=10)
