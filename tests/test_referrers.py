"""Referrers on a registry without the referrers API (distribution 2.8): the `sha256-<hex>`
fallback index lists what was pushed, and concurrent pushes all end up in it."""

from __future__ import annotations

import hashlib
import json
import threading

import pytest
from rigging.referrers import fallback_tag, list_referrers, push_referrer
from rigging.registry.client import RegistryClient

from rigging import mediatypes as mt
from tests.packages import make_package

EMPTY = b"{}"
EMPTY_DIGEST = "sha256:" + hashlib.sha256(EMPTY).hexdigest()
SIG_TYPE = "application/vnd.example.signature.v1+json"


@pytest.fixture
def subject(cli, tmp_path, registry, monkeypatch):
    monkeypatch.setenv("RIGGING_CACHE_DIR", str(tmp_path / "cache"))
    name = f"acme/referred-{tmp_path.name[-8:].strip('_').lower().replace('_', '-')}"
    pkg = make_package(tmp_path / "pkg", name, "1.0.0")
    published = json.loads(cli("publish", pkg, f"{registry.host}/{name}", "--json").stdout)
    with RegistryClient(registry.host) as client:
        data, media_type, digest = client.get_manifest(name, published["digest"])
    return name, {"mediaType": media_type, "digest": digest, "size": len(data)}


def _referrer(
    client: RegistryClient, repository: str, subject: dict, payload: bytes, artifact_type: str = SIG_TYPE
) -> bytes:
    digest = "sha256:" + hashlib.sha256(payload).hexdigest()
    client.upload_blob(repository, EMPTY_DIGEST, EMPTY)
    client.upload_blob(repository, digest, payload)
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": mt.OCI_MANIFEST,
            "artifactType": artifact_type,
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": EMPTY_DIGEST, "size": 2},
            "layers": [{"mediaType": "application/octet-stream", "digest": digest, "size": len(payload)}],
            "subject": subject,
            "annotations": {"org.example.note": payload.decode()},
        },
        separators=(",", ":"),
    ).encode()


def test_pushed_referrer_is_listed_through_the_fallback_tag(registry, subject):
    repository, desc = subject
    with RegistryClient(registry.host) as client:
        assert client.referrers_api(repository, desc["digest"]) is None, "distribution 2.8 has no referrers API"
        manifest = _referrer(client, repository, desc, b"signature one")
        pushed = push_referrer(client, repository, manifest)
        assert pushed["digest"] == "sha256:" + hashlib.sha256(manifest).hexdigest()
        assert client.head_manifest(repository, fallback_tag(desc["digest"])) is not None
        listed = list_referrers(client, repository, desc["digest"])
        assert [d["digest"] for d in listed] == [pushed["digest"]]
        assert listed[0]["artifactType"] == SIG_TYPE
        assert listed[0]["annotations"] == {"org.example.note": "signature one"}
        assert list_referrers(client, repository, desc["digest"], artifact_type="application/other") == []
        push_referrer(client, repository, manifest)  # pushing again adds no duplicate
        assert len(list_referrers(client, repository, desc["digest"])) == 1
        # the listed manifest can be opened, and it really names the subject
        data, _, _ = client.get_manifest(repository, pushed["digest"])
        assert json.loads(data)["subject"]["digest"] == desc["digest"]


@pytest.mark.parametrize("round_", range(3))
def test_concurrent_pushes_all_end_up_in_the_index(registry, subject, round_):
    repository, desc = subject
    writers = 3
    barrier = threading.Barrier(writers)
    pushed: list[str] = []
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            with RegistryClient(registry.host) as client:
                manifest = _referrer(client, repository, desc, f"round {round_} writer {n}".encode())
                barrier.wait(timeout=30)
                pushed.append(push_referrer(client, repository, manifest)["digest"])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    with RegistryClient(registry.host) as client:
        listed = {d["digest"] for d in list_referrers(client, repository, desc["digest"])}
    assert set(pushed) == listed and len(listed) == writers
