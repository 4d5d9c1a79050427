"""Where signatures live in a registry: the cosign `.sig` tag and bundle referrers."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from rigging import mediatypes as mt
from rigging.digests import sha256_digest
from rigging.referrers import list_referrers, push_referrer
from rigging.registry.client import RegistryClient
from rigging.registry.errors import RegistryError
from rigging.signing.formats import (
    BUNDLE,
    BUNDLE_CONTENT_ANNOTATION,
    BUNDLE_PREDICATE_ANNOTATION,
    EMPTY_JSON,
    EMPTY_MEDIA_TYPE,
    SIGNATURE_ANNOTATION,
    SIMPLESIGNING,
)

MAX_SIGNATURE_BLOB = 1024 * 1024


def sig_tag(digest: str) -> str:
    return digest.replace(":", "-") + ".sig"


@dataclass(frozen=True)
class LegacySignature:
    payload: bytes
    signature_b64: str
    layer_digest: str


def _blob(client: RegistryClient, repository: str, descriptor: dict[str, Any]) -> bytes:
    """A small blob, downloaded and digest-checked."""
    import tempfile
    from pathlib import Path

    size = int(descriptor.get("size", 0))
    if size > MAX_SIGNATURE_BLOB:
        raise RegistryError(f"signature blob {descriptor.get('digest')} is {size} bytes; refusing")
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "blob"
        client.download_blob(repository, descriptor["digest"], size, target)
        return target.read_bytes()


def _upload(client: RegistryClient, repository: str, data: bytes) -> str:
    digest = sha256_digest(data)
    client.upload_blob(repository, digest, data)
    return digest


def push_legacy(client: RegistryClient, repository: str, digest: str, payload: bytes, signature_b64: str) -> str:
    """Add a signature layer to the `.sig` manifest (creating it); returns that manifest's digest."""
    tag = sig_tag(digest)
    layers: list[dict[str, Any]] = []
    try:
        data, _, _ = client.get_manifest(repository, tag)
        layers = list(json.loads(data).get("layers") or [])
    except RegistryError as exc:
        if exc.code != "MANIFEST_UNKNOWN" and exc.status != 404:
            raise
    layer_digest = _upload(client, repository, payload)
    layer = {
        "mediaType": SIMPLESIGNING,
        "size": len(payload),
        "digest": layer_digest,
        "annotations": {SIGNATURE_ANNOTATION: signature_b64},
    }
    if not any(existing == layer for existing in layers):
        layers.append(layer)
    # the image config cosign writes for a signature image: one diff_id per layer
    config = json.dumps(
        {
            "architecture": "",
            "created": "0001-01-01T00:00:00Z",
            "history": [{"created": "0001-01-01T00:00:00Z"}],
            "os": "",
            "rootfs": {"type": "layers", "diff_ids": [entry["digest"] for entry in layers]},
            "config": {},
        },
        separators=(",", ":"),
    ).encode()
    config_digest = _upload(client, repository, config)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": mt.OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "size": len(config),
                "digest": config_digest,
            },
            "layers": layers,
        },
        separators=(",", ":"),
    ).encode()
    client.put_manifest(repository, tag, manifest, mt.OCI_MANIFEST)
    return sha256_digest(manifest)


def legacy_signatures(client: RegistryClient, repository: str, digest: str) -> list[LegacySignature]:
    try:
        data, _, _ = client.get_manifest(repository, sig_tag(digest))
    except RegistryError as exc:
        if exc.code == "MANIFEST_UNKNOWN" or exc.status == 404:
            return []
        raise
    found = []
    for layer in json.loads(data).get("layers") or []:
        signature = (layer.get("annotations") or {}).get(SIGNATURE_ANNOTATION)
        if layer.get("mediaType") != SIMPLESIGNING or not signature:
            continue
        found.append(LegacySignature(_blob(client, repository, layer), signature, layer["digest"]))
    return found


def push_bundle(
    client: RegistryClient, repository: str, subject: dict[str, Any], bundle: bytes, predicate_type: str
) -> str:
    """Store a bundle as a referrer of `subject`, as cosign v3 does; returns the referrer's digest."""
    empty_digest = _upload(client, repository, EMPTY_JSON)
    bundle_digest = _upload(client, repository, bundle)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": mt.OCI_MANIFEST,
            "artifactType": BUNDLE,
            "config": {"mediaType": EMPTY_MEDIA_TYPE, "digest": empty_digest, "size": len(EMPTY_JSON)},
            "layers": [{"mediaType": BUNDLE, "digest": bundle_digest, "size": len(bundle)}],
            "subject": subject,
            "annotations": {BUNDLE_CONTENT_ANNOTATION: "dsse-envelope", BUNDLE_PREDICATE_ANNOTATION: predicate_type},
        },
        separators=(",", ":"),
    ).encode()
    return push_referrer(client, repository, manifest)["digest"]


def bundles(client: RegistryClient, repository: str, digest: str) -> list[tuple[str, bytes]]:
    """(referrer digest, bundle bytes) for every bundle referrer; each manifest is opened, not trusted
    from the index, and must name `digest` as its subject."""
    found = []
    for descriptor in list_referrers(client, repository, digest):
        data, _, manifest_digest = client.get_manifest(repository, descriptor["digest"])
        manifest = json.loads(data)
        if manifest.get("artifactType") != BUNDLE or (manifest.get("subject") or {}).get("digest") != digest:
            continue
        for layer in manifest.get("layers") or []:
            if layer.get("mediaType") == BUNDLE:
                found.append((manifest_digest, _blob(client, repository, layer)))
    return found
