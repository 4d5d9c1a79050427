"""The crawler and the webhook against the real Debian registry and a real PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import random
import signal
import subprocess
import time
import urllib.request
from typing import Any

import pytest
from rigging.registry.client import RegistryClient
from rigging_indexer.crawler import Crawler
from rigging_indexer.models import Package, Tag, Version
from rigging_indexer.search import search
from sqlalchemy import select

from rigging import mediatypes as mt
from tests.catalog_publish import publish_catalogue
from tests.support.fault_proxy import FaultProxy
from tests.support.index_db import fresh_index
from tests.support.indexer_server import INDEXER, start_indexer
from tests.support.raw_package import push_raw_package, tar_gz
from tests.support.services import free_port, wait_http


@pytest.fixture
def pg_index(tmp_path):
    with fresh_index("postgresql", tmp_path) as (url, sessions):  # a missing server is `unavailable`
        yield url, sessions


def _push_plain_image(host: str) -> None:
    """An ordinary OCI image (not a Rigging package) in the same registry."""
    layer, config = b"not rigging", json.dumps({"architecture": "amd64", "os": "linux"}).encode()
    with RegistryClient(host) as client:
        for blob in (layer, config):
            client.upload_blob("library/app", "sha256:" + hashlib.sha256(blob).hexdigest(), blob)
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": mt.OCI_MANIFEST,
                "config": {
                    "mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": "sha256:" + hashlib.sha256(config).hexdigest(),
                    "size": len(config),
                },
                "layers": [
                    {
                        "mediaType": "application/vnd.oci.image.layer.v1.tar",
                        "digest": "sha256:" + hashlib.sha256(layer).hexdigest(),
                        "size": len(layer),
                    }
                ],
            }
        ).encode()
        client.put_manifest("library/app", "1.0", manifest, mt.OCI_MANIFEST)


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback test server
        return json.loads(response.read())


def _index_state(sessions) -> set[tuple[str, str, str]]:
    with sessions() as s:
        return {
            (p.name, v.version, v.manifest_digest)
            for v, p in s.execute(
                select(Version, Package)
                .join(Package, Package.id == Version.package_id)
                .where(Version.deleted.is_(False))
            )
        }


def _registry_state(host: str, repositories: list[str]) -> set[tuple[str, str, str]]:
    truth = set()
    with RegistryClient(host) as client:
        for repo in repositories:
            for tag in client.tags(repo):
                if not tag.startswith("sha256-"):
                    truth.add((repo, tag, client.head_manifest(repo, tag)))
    return truth


CATALOGUE = {
    "crawl/alpha": {"1.0.0": {}, "1.1.0": {}},
    "crawl/beta": {"2.0.0": {"crawl/alpha": "^1"}},
    "other/gamma": {"0.1.0": {}, "0.2.0-rc.1": {}},
}


def test_crawl_finds_everything_skips_others_reflects_deletions_and_recrawls_cheaply(pg_index, own_registry, tmp_path):
    _, sessions = pg_index
    registry = own_registry()
    publish_catalogue(tmp_path, registry.host, CATALOGUE)
    _push_plain_image(registry.host)
    counted = []
    proxy = FaultProxy(registry.host, lambda i, method, path: counted.append((method, path)) or None).start()
    try:
        source = f"http://{proxy.host}"
        crawler = Crawler(sessions)
        assert crawler.enqueue(source) == 4
        stats = crawler.run()
        assert stats.errors == [] and stats.skipped == 1, stats
        packages = sum(len(versions) for versions in CATALOGUE.values())
        blob_gets = [p for m, p in counted if m == "GET" and "/blobs/" in p]
        assert len(blob_gets) == packages, "the config is read from the content layer's rigging.json, not fetched"
        expected = {(name, version) for name, versions in CATALOGUE.items() for version in versions}
        assert {(n, v) for n, v, _ in _index_state(sessions)} == expected
        with sessions() as s:
            beta = s.scalar(select(Version).where(Version.version == "2.0.0"))
            assert beta.config["dependencies"] == {"crawl/alpha": "^1"} and "README.md" in beta.files
            assert beta.readme.startswith("# crawl/beta")
            assert s.scalar(select(Package).where(Package.name == "library/app")) is None
            assert [h.name for h in search(s, "gamma")] == ["other/gamma"]

        counted.clear()
        again = Crawler(sessions)
        again.enqueue(source)
        stats = again.run()
        manifest_gets = [p for m, p in counted if m == "GET" and "/manifests/" in p]
        blob_gets = [p for m, p in counted if m == "GET" and "/blobs/" in p]
        assert manifest_gets == [] and blob_gets == [] and stats.manifests_fetched == 0
        assert {m for m, _ in counted} <= {"GET", "HEAD"} and len(counted) <= 4 + 1 + 6 + 1  # catalog, tags, HEADs

        with RegistryClient(registry.host) as client:
            client.delete_manifest("crawl/alpha", client.head_manifest("crawl/alpha", "1.1.0"))
        third = Crawler(sessions)
        third.enqueue(source)
        third.run()
        assert ("crawl/alpha", "1.1.0") not in {(n, v) for n, v, _ in _index_state(sessions)}
        with sessions() as s:
            assert s.scalar(select(Tag).where(Tag.tag == "1.1.0")) is None
            alpha = s.scalar(select(Package).where(Package.name == "crawl/alpha"))
            assert s.get(Version, alpha.latest_version_id).version == "1.0.0"
    finally:
        proxy.stop()


def test_push_webhook_indexes_a_push_without_a_crawl_and_pulls_count(cli, own_registry, tmp_path):
    """The registry's push notification alone makes the package searchable: `serve` never crawls,
    so the crawl-job table stays empty. How fast is a figure for bench/, not an assertion here: under
    load a delivery is retried, and past the endpoint's failure threshold only after its 1 s backoff."""
    secret = "s3cret-hook"
    port = free_port()
    hook = f"http://127.0.0.1:{port}/api/v1/webhooks/registry"
    registry = own_registry(
        {
            "notifications": {
                "endpoints": [
                    {
                        "name": "indexer",
                        "url": hook,
                        "headers": {"Authorization": [f"Bearer {secret}"]},
                        "timeout": "2s",
                        "threshold": 3,
                        "backoff": "1s",
                    }
                ]
            }
        }
    )
    server = start_indexer(
        port,
        f"sqlite:///{tmp_path / 'index.db'}",
        source=f"http://{registry.host}",
        webhook_secret=secret,
        crawl_interval=0,
        output=subprocess.PIPE,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", timeout=30, ok_statuses=(200,))
        env = {"RIGGING_CACHE_DIR": str(tmp_path / "cache"), "DOCKER_CONFIG": str(tmp_path / "docker")}
        from tests.catalog_publish import write_package

        index = f"http://127.0.0.1:{port}"
        assert _get_json(f"{index}/api/v1/packages?q=fresh")["results"] == []
        package = write_package(tmp_path / "fresh", "hooked/fresh", "1.0.0")
        published = cli("publish", package, f"{registry.host}/hooked/fresh", "--json", env=env)
        assert published.returncode == 0, published.stderr
        digest = json.loads(published.stdout)["digest"]
        deadline = time.monotonic() + 30  # generous: delivery is retried after the endpoint's backoff
        hits: list[dict] = []
        while time.monotonic() < deadline and not hits:
            hits = _get_json(f"{index}/api/v1/packages?q=fresh")["results"]
            time.sleep(0.05)
        assert [(h["name"], h["version"]) for h in hits] == [("hooked/fresh", "1.0.0")]
        versions = _get_json(f"{index}/api/v1/packages/hooked/fresh/versions")["versions"]
        assert [(v["version"], v["manifest"]) for v in versions] == [("1.0.0", digest)]
        crawl = _get_json(f"{index}/api/v1/stats")["crawl"]
        assert crawl["jobs"] == {} and crawl["pending"] == 0, f"indexed by a crawl, not the webhook: {crawl}"

        for n in range(2):
            pulled = cli(
                "pull",
                f"{registry.host}/hooked/fresh:1.0.0",
                "-o",
                tmp_path / f"out{n}",
                env={**env, "RIGGING_CACHE_DIR": str(tmp_path / f"c{n}")},
            )
            assert pulled.returncode == 0, pulled.stderr
            assert (tmp_path / f"out{n}" / "rigging.json").read_bytes() == (package / "rigging.json").read_bytes()
        deadline = time.monotonic() + 30
        downloads = 0
        while time.monotonic() < deadline and downloads < 2:
            downloads = _get_json(f"{index}/api/v1/packages/hooked/fresh")["downloads"]
            time.sleep(0.1)
        assert downloads == 2

        refused = urllib.request.Request(hook, data=b"{}", method="POST", headers={"Authorization": "Bearer nope"})
        with pytest.raises(urllib.error.HTTPError) as denied:
            urllib.request.urlopen(refused, timeout=5)  # noqa: S310
        assert denied.value.code == 401
    finally:
        server.terminate()
        server.wait(timeout=10)


def _push_package_whose_layer_disagrees(host: str) -> None:
    """A package whose content layer's rigging.json is not its config: the config must win."""
    config = json.dumps({"name": "odd/pkg", "version": "1.0.0", "description": "from the config"}).encode()
    layer_file = json.dumps({"name": "odd/pkg", "version": "1.0.0", "description": "from the layer"}).encode()
    layer = tar_gz({"pkg/rigging.json": layer_file, "pkg/rules/a.md": b"# A\n"})
    with RegistryClient(host) as client:
        push_raw_package(client, "odd/pkg", "1.0.0", config, layer, "pkg")


def test_a_config_that_differs_from_the_layers_rigging_json_is_fetched_and_wins(pg_index, own_registry):
    _, sessions = pg_index
    registry = own_registry()
    _push_package_whose_layer_disagrees(registry.host)
    counted = []
    proxy = FaultProxy(registry.host, lambda i, method, path: counted.append((method, path)) or None).start()
    try:
        crawler = Crawler(sessions)
        crawler.enqueue(f"http://{proxy.host}")
        assert crawler.run().indexed == 1
    finally:
        proxy.stop()
    assert len([p for m, p in counted if m == "GET" and "/blobs/" in p]) == 2, "content, then the config"
    with sessions() as s:
        version = s.scalar(select(Version))
        assert version.description == "from the config" and version.files == ["rigging.json", "rules/a.md"]


def test_killed_crawl_workers_leave_an_index_equal_to_the_registry(pg_index, own_registry, tmp_path):
    url, sessions = pg_index
    registry = own_registry()
    catalogue = {f"kill/p{i:02}": {"1.0.0": {}, "1.1.0": {}} for i in range(16)}
    publish_catalogue(tmp_path, registry.host, catalogue)
    # Slow blob reads keep each crawl running for seconds, so every kill lands mid-crawl.
    proxy = FaultProxy(registry.host, lambda i, method, path: "slow" if "/blobs/" in path else None).start()
    command = [
        str(INDEXER),
        "crawl",
        "--once",
        "--database",
        url,
        "--source",
        f"http://{proxy.host}",
        "--lease-seconds",
        "2",
        "--concurrency",
        "2",
    ]
    rng = random.Random(7)
    killed = 0
    try:
        for _ in range(4):
            worker = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.8, 2.0))
            if worker.poll() is None:
                worker.send_signal(signal.SIGKILL)
                killed += 1
            worker.wait()
        assert killed >= 2, "the crawl must really be interrupted"
        # the last run shares the rest between two processes
        finished = subprocess.run([*command, "--processes", "2"], capture_output=True, text=True, timeout=120)
    finally:
        proxy.stop()
    assert finished.returncode == 0, finished.stderr
    assert _index_state(sessions) == _registry_state(registry.host, list(catalogue))
    with sessions() as s:
        versions = list(s.scalars(select(Version.manifest_digest)))
        assert len(versions) == len(set(versions)) == 32, "nothing lost, nothing duplicated"


def test_an_oci_layout_folder_is_a_source(cli, tmp_path):
    """The embedded store that needs no server: `rigging pack` output, crawled as `oci:PATH`."""
    from tests.packages import make_package

    layout = tmp_path / "layout"
    for version in ("1.0.0", "1.1.0"):
        pkg = make_package(tmp_path / version, "layout/pkg", version, extra_rule=version)
        assert cli("pack", pkg, "-o", layout).returncode == 0
    with fresh_index("sqlite", tmp_path) as (_, sessions):
        crawler = Crawler(sessions)
        assert crawler.enqueue(f"oci:{layout}") == 1
        assert crawler.run().indexed == 2
        assert {(n, v) for n, v, _ in _index_state(sessions)} == {("layout/pkg", "1.0.0"), ("layout/pkg", "1.1.0")}
        with sessions() as s:
            assert [h.version for h in search(s, "layout")] == ["1.1.0"]
        again = Crawler(sessions)
        again.enqueue(f"oci:{layout}")
        assert again.run().indexed == 0
