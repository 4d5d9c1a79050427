"""Listings against the real Debian registry (CNCF distribution 2.8): thousands of tags, and a
`_catalog` that the registry cuts into `Link` pages.

Distribution 2.8 answers a tag list whole, whatever `n` asks (it paginates tags only from v3; the
fault proxy's test covers tag pages); it does page `_catalog`, at most `catalog.maxentries` at a
time, and refuses an `n` above that with PAGINATION_NUMBER_INVALID.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urljoin

import httpx
import pytest
from rigging.reference import RegistryRef
from rigging.registry.client import RegistryClient

from tests.packages import make_package, tree
from tests.support.raw_package import http_push_blob

TAGS = 2500
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def _small_manifest(http: httpx.Client, repository: str) -> bytes:
    config = b"{}"
    digest = http_push_blob(http, repository, config)
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": digest, "size": len(config)},
            "layers": [],
        },
        separators=(",", ":"),
    ).encode()


def _put_all(http: httpx.Client, puts: list[tuple[str, bytes]]) -> None:
    """PUT many manifests (one request each) a few at a time."""

    def put(item: tuple[str, bytes]) -> int:
        path, body = item
        return http.put(path, content=body, headers={"Content-Type": OCI_MANIFEST}).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(put, puts))
    assert statuses == [201] * len(puts)


def _pages_the_registry_serves(http: httpx.Client, first: str, key: str) -> tuple[int, list[str]]:
    """Walk the registry's own Link pages with plain httpx: (pages, entries)."""
    pages, entries, url = 0, [], first
    while url:
        response = http.get(url)
        assert response.status_code == 200, response.text
        pages += 1
        entries += response.json()[key] or []
        url = urljoin(str(response.url), response.links["next"]["url"]) if "next" in response.links else None
    return pages, entries


def test_thousands_of_tags_are_all_listed(cli, tmp_path, own_registry):
    registry = own_registry()
    env = {"RIGGING_CACHE_DIR": str(tmp_path / "cache"), "DOCKER_CONFIG": str(tmp_path / "docker")}
    repository = "acme/many"
    newest = make_package(tmp_path / "newest", repository, "3.0.0")
    assert cli("publish", newest, f"{registry.host}/{repository}", env=env).returncode == 0
    with httpx.Client(base_url=registry.url, timeout=60, limits=httpx.Limits(max_connections=8)) as http:
        manifest = _small_manifest(http, repository)
        tags = [f"1.{n // 100}.{n % 100}" for n in range(TAGS)]
        _put_all(http, [(f"/v2/{repository}/manifests/{tag}", manifest) for tag in tags])
        pages, served = _pages_the_registry_serves(http, f"/v2/{repository}/tags/list?n=100", "tags")
    assert sorted(served) == sorted([*tags, "3.0.0"]), "the registry holds every tag"

    with RegistryClient(registry.host) as client:
        listed = client.tags(repository)
        assert client.requests == pages, "one request per page the registry serves"
    assert len(listed) == len(set(listed)) == TAGS + 1
    assert set(listed) == {*tags, "3.0.0"}

    from rigging.catalog_registry import RegistryCatalog
    from rigging.versions import Version

    with RegistryCatalog(lambda name: RegistryRef(registry.host, name), fetch_content=False) as catalog:
        versions = catalog.versions(repository)
    assert len(versions) == TAGS + 1 and versions[-1] == Version.parse("3.0.0")
    assert versions[:3] == [Version.parse(v) for v in ("1.0.0", "1.0.1", "1.0.2")]

    # the command line's "newest version" is the newest of all of them
    pulled = cli("pull", f"{registry.host}/{repository}", "-o", tmp_path / "out", "--json", env=env)
    assert pulled.returncode == 0, pulled.stderr
    assert json.loads(pulled.stdout)["version"] == "3.0.0" and tree(tmp_path / "out") == tree(newest)


@pytest.mark.parametrize("maxentries", [50, 1000])
def test_the_catalog_is_read_across_the_registrys_pages(own_registry, maxentries):
    """With `catalog.maxentries: 50` the registry refuses rigging's `n=1000` and serves pages of 50
    with a `Link` to the next; with its default of 1000 the 120 repositories fit one page."""
    registry = own_registry({"catalog": {"maxentries": maxentries}})
    names = [f"cat/r{n:03d}" for n in range(120)]
    with httpx.Client(base_url=registry.url, timeout=60, limits=httpx.Limits(max_connections=8)) as http:
        manifest = _small_manifest(http, names[0])
        config_digest = json.loads(manifest)["config"]["digest"]
        for name in names[1:]:
            mounted = http.post(f"/v2/{name}/blobs/uploads/?mount={config_digest}&from={names[0]}")
            assert mounted.status_code == 201, mounted.text
        _put_all(http, [(f"/v2/{name}/manifests/1.0.0", manifest) for name in names])
        pages, served = _pages_the_registry_serves(http, "/v2/_catalog", "repositories")
    assert served == names and pages == (3 if maxentries == 50 else 2), "the registry pages by itself (100 a page)"

    with RegistryClient(registry.host) as client:
        listed = client.catalog()
        requests = client.requests
    assert listed == names
    # n=1000 is above a maxentries of 50: refused once, then the registry's own pages of 50
    assert requests == (1 + 3 if maxentries == 50 else 1)
