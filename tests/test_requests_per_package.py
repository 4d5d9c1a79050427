"""What a pull or an install asks the registry, counted in the real registry's access log: the
manifest carries the config (its descriptor's `data`), so no package costs a config GET. A lock
install fetches each content blob by the digest the lock holds; by digest, the manifest and
content; by range (`install`, `add`), the tag list, manifest and content. Manifests without `data` (older packs,
other tools) are read with the config GET, and a `data` that does not match its digest is refused.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import sqlite3
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
from rigging.digests import sha256_digest
from rigging.registry.client import RegistryClient

from rigging import mediatypes as mt
from tests.packages import make_package, tree
from tests.support.indexer_server import INDEXER, start_indexer
from tests.support.registry import REGISTRY_BINARY, RegistryServer
from tests.support.services import free_port, unavailable, wait_http

# distribution's access log: "METHOD PATH PROTO" STATUS BYTES "REFERER" "AGENT"
ACCESS = re.compile(r'"([A-Z]+) (/v2/\S*) HTTP/[\d.]+" \d{3} \S+ "[^"]*" "rigging/')


@pytest.fixture(scope="module")
def logged_registry():
    if shutil.which(REGISTRY_BINARY) is None:
        unavailable("request counting needs its own registry: install docker-registry")
    server = RegistryServer({"log": {"accesslog": {"disabled": False}}})
    server.start()
    yield server
    server.stop()


def _requests(server: RegistryServer) -> list[tuple[str, str]]:
    """(method, path) of rigging's requests so far. A line is logged after its response is sent,
    so the log is read until it stops growing."""
    seen, settled = None, 0
    while settled < 3:
        now = ACCESS.findall(server.log())
        settled = settled + 1 if now == seen else 0
        seen = now
        time.sleep(0.05)
    return seen


def _kinds(requests: list[tuple[str, str]]) -> Counter[str]:
    kinds: Counter[str] = Counter()
    for method, path in requests:
        kind = "tags" if "/tags/list" in path else "manifest" if "/manifests/" in path else "blob"
        kinds[f"{method} {kind}"] += 1
    return kinds


def _requests_of(server: RegistryServer, action) -> list[tuple[str, str]]:
    before = len(_requests(server))
    action()
    return _requests(server)[before:]


def _counted(server: RegistryServer, action) -> Counter[str]:
    return _kinds(_requests_of(server, action))


def _published(cli, tmp_path: Path, host: str, name: str, env, **options) -> dict:
    source = make_package(tmp_path / name.replace("/", "-"), name, **options)
    done = cli("publish", source, f"{host}/{name}", "--json", env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_pull_and_install_cost_the_fewest_requests(cli, tmp_path, logged_registry, env):
    host = f"127.0.0.1:{logged_registry.port}"
    base = _published(cli, tmp_path, host, "rq/base", env, docs=True)
    app = _published(cli, tmp_path, host, "rq/app", env, dependencies={"rq/base": "^1.0.0"})

    def ok(*args: object, env=env) -> dict:
        done = cli(*args, "--json", env=env)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    # by tag or digest: the manifest, then each layer; never the config
    assert _counted(logged_registry, lambda: ok("pull", f"{host}/rq/app:1.0.0", "-o", tmp_path / "a")) == {
        "GET manifest": 1,
        "GET blob": 1,
    }
    pulled = {}
    assert _counted(
        logged_registry,
        lambda: pulled.update(ok("pull", f"{host}/rq/base@{base['digest']}", "-o", tmp_path / "b", env=env)),
    ) == {"GET manifest": 1, "GET blob": 2}, "the content layer and the docs layer"
    assert pulled["digest"] == base["digest"] and (tmp_path / "b/docs/guide.md").is_file()
    # by range: the tag list, then the manifest (its content is in the cache since the first pull)
    ranged = {}
    assert _counted(
        logged_registry, lambda: ranged.update(ok("pull", f"{host}/rq/app@^1", "-o", tmp_path / "c", env=env))
    ) == {"GET tags": 1, "GET manifest": 1}
    assert ranged["digest"] == app["digest"]

    # by range, cold: the tag list, the manifest and the content of each package
    project = tmp_path / "project"
    project.mkdir()
    (project / "rigging.json").write_text(json.dumps({"registry": host, "dependencies": {"rq/app": "^1"}}))
    cold = {**env, "RIGGING_CACHE_DIR": str(tmp_path / "cold-cache")}
    installed = {}
    counted = _counted(logged_registry, lambda: installed.update(ok("install", "-C", project, env=cold)))
    assert counted == {"GET tags": 2, "GET manifest": 2, "GET blob": 2}
    assert installed["requests"] == 6 and sorted(installed["packages"]) == ["rq/app", "rq/base"]
    lock = json.loads((project / "rigging.lock").read_text())["packages"]
    assert lock["rq/app"]["manifest"] == app["digest"]

    # `rigging add`, cold: it learns the newest version in the catalogue it then resolves with
    adding = tmp_path / "adding"
    adding.mkdir()
    (adding / "rigging.json").write_text(json.dumps({"registry": host}))
    added_cache = {**env, "RIGGING_CACHE_DIR": str(tmp_path / "add-cache")}
    counted = _counted(logged_registry, lambda: ok("add", "rq/base", "-C", adding, env=added_cache))
    assert counted == {"GET tags": 1, "GET manifest": 1, "GET blob": 1}
    assert json.loads((adding / "rigging.json").read_text())["dependencies"] == {"rq/base": "^1.0.0"}

    # from the lock into a fresh checkout with an empty cache: each content blob, nothing else
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    for kept in ("rigging.json", "rigging.lock"):
        shutil.copy2(project / kept, checkout / kept)
    fresh = {**env, "RIGGING_CACHE_DIR": str(tmp_path / "fresh-cache")}
    from_lock = {}
    counted = _counted(logged_registry, lambda: from_lock.update(ok("install", "-C", checkout, env=fresh)))
    assert counted == {"GET blob": 2}
    files = [path for path in installed["written"] if path != "rigging.lock"]
    assert files and sorted(from_lock["written"]) == sorted(files)
    assert {path: (checkout / path).read_bytes() for path in files} == {
        path: (project / path).read_bytes() for path in files
    }
    # and again with that cache warm, into another checkout: none
    again = tmp_path / "again"
    again.mkdir()
    for kept in ("rigging.json", "rigging.lock"):
        shutil.copy2(project / kept, again / kept)
    assert _counted(logged_registry, lambda: ok("install", "-C", again, env=fresh)) == {}


def _push_with_config(host: str, repository: str, manifest: dict, blobs: dict[str, bytes], tag: str) -> str:
    data = json.dumps(manifest, separators=(",", ":")).encode()
    with RegistryClient(host) as client:
        for digest, blob in blobs.items():
            client.upload_blob(repository, digest, blob)
        client.put_manifest(repository, tag, data, mt.OCI_MANIFEST)
    return sha256_digest(data)


def _layout_blobs(layout: Path) -> tuple[dict, dict[str, bytes]]:
    index = json.loads((layout / "index.json").read_text())
    digest = index["manifests"][0]["digest"]
    manifest = json.loads((layout / "blobs/sha256" / digest.split(":")[1]).read_bytes())
    blobs = {
        d["digest"]: (layout / "blobs/sha256" / d["digest"].split(":")[1]).read_bytes()
        for d in [manifest["config"], *manifest["layers"]]
    }
    return manifest, blobs


def test_manifests_without_data_are_read_and_a_false_data_is_refused(cli, tmp_path, logged_registry, env):
    host = f"127.0.0.1:{logged_registry.port}"
    source = make_package(tmp_path / "src", "rq/older")
    packed = cli("pack", source, "-o", tmp_path / "layout")
    assert packed.returncode == 0, packed.stderr
    manifest, blobs = _layout_blobs(tmp_path / "layout")
    config = blobs[manifest["config"]["digest"]]
    assert base64.b64decode(manifest["config"]["data"]) == config, "pack embeds the config"

    # as packed before (or by another tool): no data, so the config is fetched
    older = {**manifest, "config": {k: v for k, v in manifest["config"].items() if k != "data"}}
    _push_with_config(host, "rq/older", older, blobs, "1.0.0")
    out = tmp_path / "older"
    counted = _counted(logged_registry, lambda: cli("pull", f"{host}/rq/older:1.0.0", "-o", out, env=env))
    assert counted == {"GET manifest": 1, "GET blob": 2}, "the config and the content layer"
    assert tree(out) == tree(source)

    # data that is not the config's bytes: refused before anything is written
    forged = json.loads(config)
    forged["dependencies"] = {"evil/payload": "*"}
    lying = {
        **manifest,
        "config": {**manifest["config"], "data": base64.b64encode(json.dumps(forged).encode()).decode()},
    }
    digest = _push_with_config(host, "rq/older", lying, blobs, "1.0.1")
    refused = cli("pull", f"{host}/rq/older@{digest}", "-o", tmp_path / "forged", env=env)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "embedded data does not match its digest" in refused.stderr
    assert not (tmp_path / "forged").exists()


def test_through_the_index_resolution_reads_no_tag_list_and_only_the_chosen_manifests(
    cli, tmp_path, logged_registry, env
):
    """The index's version list carries each version's manifest digest and dependencies: one
    index request per package resolves, then the chosen manifests are read by those digests.
    base 2.0.0 is the newest, but app needs ^1: no manifest of 2.0.0 (nor 1.0.0) is read."""
    host = f"127.0.0.1:{logged_registry.port}"
    published = {
        version: _published(cli, tmp_path / version, host, "rqi/base", env, version=version)
        for version in ("1.0.0", "1.1.0", "2.0.0")
    }
    app = _published(cli, tmp_path, host, "rqi/app", env, dependencies={"rqi/base": "^1.0.0"})
    database = tmp_path / "index.db"
    crawled = subprocess.run(
        [str(INDEXER), "crawl", "--once", "--database", f"sqlite:///{database}", "--source", f"http://{host}/rqi"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert crawled.returncode == 0, crawled.stderr
    port = free_port()
    server = start_indexer(port, f"sqlite:///{database}")
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", timeout=30, ok_statuses=(200,))
        indexed = {**env, "RIGGING_INDEX_URL": f"http://127.0.0.1:{port}"}

        def install(name: str) -> subprocess.CompletedProcess:
            project = tmp_path / name
            project.mkdir()
            (project / "rigging.json").write_text(json.dumps({"registry": host, "dependencies": {"rqi/app": "^1"}}))
            return cli(
                "install",
                "-C",
                project,
                "--json",
                env={**indexed, "RIGGING_CACHE_DIR": str(tmp_path / f"{name}-cache")},
            )

        done: list[subprocess.CompletedProcess] = []
        requests = _requests_of(logged_registry, lambda: done.append(install("through-index")))
        assert done[0].returncode == 0, done[0].stderr
        assert json.loads(done[0].stdout)["packages"] == {"rqi/app": "1.0.0", "rqi/base": "1.1.0"}
        manifests = sorted(path.rsplit("/", 1)[1] for method, path in requests if "/manifests/" in path)
        assert manifests == sorted([app["digest"], published["1.1.0"]["digest"]]), "by digest, the chosen only"
        assert _kinds(requests) == {"GET manifest": 2, "GET blob": 2}, "no tag list"
        lock = json.loads((tmp_path / "through-index/rigging.lock").read_text())["packages"]
        assert lock["rqi/base"]["manifest"] == published["1.1.0"]["digest"]

        # an index that says otherwise than the manifest it names is caught, before anything is written
        with sqlite3.connect(database) as db:
            db.execute(
                "UPDATE versions SET config = json_set(config, '$.dependencies', json(?)) WHERE manifest_digest = ?",
                (json.dumps({"rqi/base": "^2.0.0"}), app["digest"]),
            )
        lied = install("lying-index")
        assert lied.returncode == 1 and "Traceback" not in lied.stderr
        assert f"lists rqi/app 1.0.0 as {app['digest']}" in lied.stderr and "the index is wrong" in lied.stderr
        assert sorted(p.name for p in (tmp_path / "lying-index").iterdir()) == ["rigging.json"]
    finally:
        server.terminate()
        server.wait(timeout=10)
