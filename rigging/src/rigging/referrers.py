"""Referrers (OCI 1.1): manifests whose `subject` names another manifest — signatures, attestations.

Where the registry has `GET /v2/<name>/referrers/<digest>` we use it; where it does not (CNCF
distribution 2.8), the referrers tag schema: an image index tagged `sha256-<hex>` that lists them.
"""

from __future__ import annotations

import json
import random
import time
from typing import Any

from rigging import mediatypes as mt
from rigging.digests import sha256_digest
from rigging.errors import IntegrityError, RiggingError
from rigging.registry.client import RegistryClient
from rigging.registry.errors import RegistryError

_UPDATE_ATTEMPTS = 8


def fallback_tag(digest: str) -> str:
    algorithm, _, hex_part = digest.partition(":")
    return f"{algorithm}-{hex_part}"


def _descriptor(manifest_bytes: bytes) -> dict[str, Any]:
    manifest = json.loads(manifest_bytes)
    descriptor: dict[str, Any] = {
        "mediaType": manifest.get("mediaType", mt.OCI_MANIFEST),
        "digest": sha256_digest(manifest_bytes),
        "size": len(manifest_bytes),
    }
    artifact_type = manifest.get("artifactType") or (manifest.get("config") or {}).get("mediaType")
    if artifact_type:
        descriptor["artifactType"] = artifact_type
    if manifest.get("annotations"):
        descriptor["annotations"] = manifest["annotations"]
    return descriptor


def _fallback_index(client: RegistryClient, repository: str, digest: str) -> tuple[dict[str, Any], str | None]:
    """The current fallback index and its ETag (None when the registry gives none)."""
    tag = fallback_tag(digest)
    try:
        data, _, index_digest = client.get_manifest(repository, tag)
    except RegistryError as exc:
        if exc.code == "MANIFEST_UNKNOWN" or exc.status == 404:
            return {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": []}, None
        raise
    try:
        index = json.loads(data)
    except ValueError:
        raise IntegrityError(f"{repository}:{tag} is not JSON") from None
    if not isinstance(index, dict) or not isinstance(index.get("manifests"), list):
        raise IntegrityError(f"{repository}:{tag} is not an image index")
    return index, f'"{index_digest}"'


def list_referrers(
    client: RegistryClient, repository: str, digest: str, artifact_type: str | None = None
) -> list[dict[str, Any]]:
    found = client.referrers_api(repository, digest)
    if found is None:
        found = _fallback_index(client, repository, digest)[0]["manifests"]
    return [d for d in found if artifact_type is None or d.get("artifactType") == artifact_type]


def push_referrer(client: RegistryClient, repository: str, manifest_bytes: bytes) -> dict[str, Any]:
    """Push a manifest that has a `subject`, and make sure it is listed as a referrer of it."""
    manifest = json.loads(manifest_bytes)
    subject = (manifest.get("subject") or {}).get("digest")
    if not subject:
        raise RiggingError("a referrer manifest needs a subject")
    descriptor = _descriptor(manifest_bytes)
    response = client.put_manifest(
        repository, descriptor["digest"], manifest_bytes, manifest.get("mediaType", mt.OCI_MANIFEST)
    )
    # OCI-Subject alone is not trusted: the API must really list it.
    if response.headers.get("OCI-Subject") and client.referrers_api(repository, subject) is not None:
        return descriptor
    _add_to_fallback(client, repository, subject, descriptor)
    return descriptor


def _add_to_fallback(client: RegistryClient, repository: str, subject: str, descriptor: dict[str, Any]) -> None:
    """Read-modify-write the fallback index until it lists `descriptor`.

    If-Match makes the write conditional where the registry honours it. Distribution 2.8 ignores
    it, so after each write we wait a random moment and read back: a concurrent writer that
    overwrote our entry is detected and the entry merged in again.
    """
    tag = fallback_tag(subject)
    confirmed = 0
    for _ in range(_UPDATE_ATTEMPTS * 2):
        index, etag = _fallback_index(client, repository, subject)
        listed = {m.get("digest") for m in index["manifests"]}
        if descriptor["digest"] not in listed:
            confirmed = 0
            index["manifests"].append(descriptor)
            data = json.dumps(index, separators=(",", ":")).encode()
            try:
                client.put_manifest(repository, tag, data, mt.OCI_INDEX, if_match=etag)
            except RegistryError as exc:
                if exc.status == 412:  # someone else wrote first: read again
                    continue
                raise
        time.sleep(random.uniform(0.05, 0.25))  # noqa: S311 - let a racing writer land before we check
        current = _fallback_index(client, repository, subject)[0]["manifests"]
        confirmed = confirmed + 1 if descriptor["digest"] in {m.get("digest") for m in current} else 0
        if confirmed >= 2:  # seen twice, a moment apart: no stale write of a racing client undid it
            return
    raise RiggingError(f"{client.host}/{repository}: could not add {descriptor['digest']} to {tag} after retries")
