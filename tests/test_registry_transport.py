"""publish and pull against the real Debian registry (CNCF distribution 2.8), anonymous."""

from __future__ import annotations

import hashlib
import json
import os

import pytest
from rigging.registry.client import RegistryClient

from rigging import mediatypes as mt
from tests.packages import make_package, tree
from tests.support.fault_proxy import FaultProxy


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RIGGING_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))


def _publish(cli, source, target, *extra):
    result = cli("publish", source, target, "--json", *extra)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_publish_then_pull_by_tag_and_digest_is_byte_for_byte(cli, tmp_path, registry):
    pkg = make_package(tmp_path / "pkg", "acme/roundtrip", "1.2.3", docs=True)
    published = _publish(cli, pkg, f"{registry.host}/acme/roundtrip")
    assert published["tags"] == ["1.2.3"] and set(published["blobs"].values()) == {"uploaded"}

    with RegistryClient(registry.host) as client:
        manifest, _, digest = client.get_manifest("acme/roundtrip", "1.2.3")
    assert digest == published["digest"] == "sha256:" + hashlib.sha256(manifest).hexdigest()
    packed = cli("pack", pkg, "-o", tmp_path / "layout", "--json")
    assert json.loads(packed.stdout)["digest"] == digest, "the registry holds exactly the bytes we packed"

    by_tag = cli("pull", f"{registry.host}/acme/roundtrip:1.2.3", "-o", tmp_path / "by-tag", "--json")
    assert by_tag.returncode == 0, by_tag.stderr
    assert json.loads(by_tag.stdout)["digest"] == digest
    assert tree(tmp_path / "by-tag") == tree(pkg)

    by_digest = cli("pull", f"{registry.host}/acme/roundtrip@{digest}", "-o", tmp_path / "by-digest")
    assert by_digest.returncode == 0, by_digest.stderr
    assert digest in by_digest.stdout
    assert tree(tmp_path / "by-digest") == tree(pkg)


def test_publish_is_idempotent_and_versions_are_immutable(cli, tmp_path, registry):
    pkg = make_package(tmp_path / "pkg", "acme/immutable", "1.0.0")
    first = _publish(cli, pkg, f"{registry.host}/acme/immutable")
    again = _publish(cli, pkg, f"{registry.host}/acme/immutable")
    assert again["digest"] == first["digest"] and set(again["blobs"].values()) == {"exists"}
    (pkg / "rules" / "python-conventions.md").write_text("---\ntrigger: manual\n---\nchanged\n")
    refused = cli("publish", pkg, f"{registry.host}/acme/immutable")
    assert refused.returncode == 1 and "immutable" in refused.stderr and "Traceback" not in refused.stderr
    forced = _publish(cli, pkg, f"{registry.host}/acme/immutable", "--force")
    assert forced["digest"] != first["digest"]


def test_extra_tags_and_newest_version_pull(cli, tmp_path, registry):
    for version in ("1.0.0", "1.1.0", "2.0.0-rc.1"):
        pkg = make_package(tmp_path / version, "acme/tagged", version)
        _publish(cli, pkg, f"{registry.host}/acme/tagged", *(["--tag", "latest"] if version == "1.1.0" else []))
    with RegistryClient(registry.host) as client:
        assert sorted(client.tags("acme/tagged")) == ["1.0.0", "1.1.0", "2.0.0-rc.1", "latest"]
        assert client.head_manifest("acme/tagged", "latest") == client.head_manifest("acme/tagged", "1.1.0")
    newest = cli("pull", f"{registry.host}/acme/tagged", "-o", tmp_path / "newest", "--json")
    assert newest.returncode == 0, newest.stderr
    assert json.loads(newest.stdout)["version"] == "1.1.0", "a bare name pulls the newest release"
    assert tree(tmp_path / "newest") == tree(tmp_path / "1.1.0")


def test_missing_tag_names_the_nearest_versions(cli, tmp_path, registry):
    for version in ("0.9.0", "1.0.0", "1.2.0", "3.0.0"):
        _publish(cli, make_package(tmp_path / version, "acme/near", version), f"{registry.host}/acme/near")
    result = cli("pull", f"{registry.host}/acme/near:1.1.0", "-o", tmp_path / "out")
    assert result.returncode == 1
    assert "1.1.0 not found" in result.stderr and "1.0.0, 1.2.0" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
    unknown = cli("pull", f"{registry.host}/acme/never-published:1.0.0", "-o", tmp_path / "out")
    assert unknown.returncode == 1 and "Traceback" not in unknown.stderr
    never = f"{registry.host}/acme/never-published:1.0.0"
    assert unknown.stderr == f"rigging: error: {never} not found; it has no versions\n"
    assert not (tmp_path / "out").exists()


def test_layouts_are_sources_and_targets(cli, tmp_path, registry):
    pkg = make_package(tmp_path / "pkg", "acme/layouts", "0.3.0")
    to_layout = _publish(cli, pkg, f"oci:{tmp_path / 'layout'}")
    from_layout = _publish(cli, f"oci:{tmp_path / 'layout'}:0.3.0", f"{registry.host}/acme/layouts")
    assert to_layout["digest"] == from_layout["digest"]
    pulled = cli("pull", f"oci:{tmp_path / 'layout'}:0.3.0", "-o", tmp_path / "from-layout")
    assert pulled.returncode == 0, pulled.stderr
    assert tree(tmp_path / "from-layout") == tree(pkg)


def test_cross_repository_mount_reuses_blobs(cli, tmp_path, registry):
    pkg = make_package(tmp_path / "pkg", "acme/mounted", "1.0.0")
    _publish(cli, pkg, f"{registry.host}/acme/mounted")
    mirrored = _publish(cli, pkg, f"{registry.host}/mirror/acme/mounted")
    assert set(mirrored["blobs"].values()) == {"mounted"}


def test_chunked_upload_and_paginated_tags_through_the_library(registry):
    data = os.urandom(300_000)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    with RegistryClient(registry.host, chunk_threshold=64 * 1024, chunk_size=100_000) as client:
        before = client.requests
        assert client.upload_blob("acme/chunked", digest, data) == "uploaded"
        # POST + HEAD + 3 PATCH + final PUT: the blob really went up in chunks
        assert client.requests - before == 6
        assert client.has_blob("acme/chunked", digest)
    with RegistryClient(registry.host) as client:
        empty = b"{}"
        empty_digest = "sha256:" + hashlib.sha256(empty).hexdigest()
        client.upload_blob("acme/paged", empty_digest, empty)
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "artifactType": "application/vnd.example.test",
                "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty_digest, "size": 2},
                "layers": [{"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty_digest, "size": 2}],
            }
        ).encode()
        names = [f"t{i:02}" for i in range(7)]
        for name in names:
            client.put_manifest("acme/paged", name, manifest, "application/vnd.oci.image.manifest.v1+json")
    proxy = FaultProxy(registry.host, paginate=True).start()
    try:
        with RegistryClient(proxy.host) as client:
            assert client.tags("acme/paged", page_size=3) == names
            assert client.requests == 3, "7 tags in pages of 3 take 3 requests, following Link"
    finally:
        proxy.stop()


IMAGE_CONFIG = "application/vnd.oci.image.config.v1+json"


def _push_plain_image(client: RegistryClient, repository: str) -> str:
    """An ordinary OCI image and an image index over it, neither of them a Rigging package."""
    layer, config = b"not a package", json.dumps({"architecture": "amd64", "os": "linux"}).encode()
    descriptors = {}
    for blob, media_type in ((config, IMAGE_CONFIG), (layer, "application/vnd.oci.image.layer.v1.tar")):
        digest = "sha256:" + hashlib.sha256(blob).hexdigest()
        client.upload_blob(repository, digest, blob)
        descriptors[media_type] = {"mediaType": media_type, "digest": digest, "size": len(blob)}
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": mt.OCI_MANIFEST,
            "config": descriptors[IMAGE_CONFIG],
            "layers": [descriptors["application/vnd.oci.image.layer.v1.tar"]],
        }
    ).encode()
    client.put_manifest(repository, "image", manifest, mt.OCI_MANIFEST)
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": mt.OCI_INDEX,
            "manifests": [
                {
                    "mediaType": mt.OCI_MANIFEST,
                    "digest": "sha256:" + hashlib.sha256(manifest).hexdigest(),
                    "size": len(manifest),
                    "platform": {"architecture": "amd64", "os": "linux"},
                }
            ],
        }
    ).encode()
    client.put_manifest(repository, "index", index, mt.OCI_INDEX)
    return IMAGE_CONFIG


def test_requests_go_through_the_proxy_the_environment_names(cli, tmp_path, registry, monkeypatch):
    """HTTP_PROXY is honoured (the client's own transport means httpx would not read it), and
    NO_PROXY exempts a host. FaultProxy forwards absolute-form requests as a forward proxy would."""
    pkg = make_package(tmp_path / "pkg", "acme/proxied", "1.0.0")
    published = _publish(cli, pkg, f"{registry.host}/acme/proxied")
    seen: list[str] = []
    proxy = FaultProxy(registry.host, lambda index, method, path: seen.append(path) or None).start()
    try:
        for name in ("HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", f"http://{proxy.host}")
        with RegistryClient(registry.host) as client:
            assert client.get_manifest("acme/proxied", "1.0.0")[2] == published["digest"]
        assert seen and all(path.startswith(f"http://{registry.host}/v2/") for path in seen), seen
        pulled = cli("pull", f"{registry.host}/acme/proxied:1.0.0", "-o", tmp_path / "through", "--json")
        assert pulled.returncode == 0, pulled.stderr
        assert any("/blobs/" in path for path in seen), "the CLI's blobs came through the proxy too"

        seen.clear()
        monkeypatch.setenv("NO_PROXY", registry.host.split(":")[0])
        with RegistryClient(registry.host) as client:
            assert client.get_manifest("acme/proxied", "1.0.0")[2] == published["digest"]
        assert seen == []
    finally:
        proxy.stop()


def test_pull_refuses_an_occupied_folder_and_a_non_package(cli, tmp_path, registry):
    pkg = make_package(tmp_path / "pkg", "acme/occupied", "1.0.0")
    _publish(cli, pkg, f"{registry.host}/acme/occupied")
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    refused = cli("pull", f"{registry.host}/acme/occupied:1.0.0", "-o", out)
    assert refused.returncode == 1 and "not empty" in refused.stderr
    assert tree(out) == {"mine.txt": b"keep"}
    replaced = cli("pull", f"{registry.host}/acme/occupied:1.0.0", "-o", out, "--force")
    assert replaced.returncode == 0 and tree(out) == tree(pkg)

    with RegistryClient(registry.host) as client:
        config_type = _push_plain_image(client, "acme/plain-image")
    for tag, reason in (
        ("image", f"is not a Rigging package (artifactType {config_type!r})"),
        ("index", "is an image index, not a Rigging package"),
    ):
        for target, force in ((tmp_path / f"new-{tag}", []), (out, ["--force"])):
            result = cli("pull", f"{registry.host}/acme/plain-image:{tag}", "-o", target, *force)
            assert result.returncode == 1, (tag, result.stdout)
            assert result.stderr == f"rigging: error: {registry.host}/acme/plain-image@{tag}: {reason}\n"
        assert not (tmp_path / f"new-{tag}").exists(), "nothing is written for a non-package"
        assert tree(out) == tree(pkg), "even with --force, a non-package replaces nothing"
    assert [p.name for p in tmp_path.iterdir() if ".pull-" in p.name] == []


def test_bad_references_are_usage_errors(cli, tmp_path):
    for ref, reason in (
        ("acme/x", "does not name a registry"),
        ("https://reg.example/acme/x", "starts with https://, which a package reference does not; write reg.example"),
        ("reg.example/Acme/x", "repository part 'Acme', which is not lowercase"),
        ("reg.example/acme/x@sha256:12", "'sha256:12' after '@', which is not a sha256 digest"),
    ):
        result = cli("pull", ref, "-o", tmp_path / "o")
        assert result.returncode == 2, ref
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
        assert result.stderr.startswith("rigging: error: ") and reason in result.stderr, (ref, result.stderr)
    assert not (tmp_path / "o").exists()
