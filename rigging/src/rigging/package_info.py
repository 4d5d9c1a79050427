"""`rigging info`: what one published version is, which signatures and attestations it carries,
and what its content can do (computed here from the digest-verified content layer, not taken
from any index)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rigging.cache import BlobCache
from rigging.reference import LayoutRef, Ref


def _location(ref: Ref) -> tuple[str, str]:
    """(host, repository) a registry client opens: an `oci:DIR/NS/NAME` layout is repository NAME
    of the store `oci:DIR/NS`, where `rigging sign` puts its signatures."""
    if isinstance(ref, LayoutRef):
        folder = Path(ref.path)
        return f"oci:{folder.parent}", folder.name
    return ref.host, ref.repository


def _statement(raw: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    """(bundle, its in-toto statement), both {} when either is unreadable."""
    from rigging.signing.formats import bundle_statement

    try:
        bundle = json.loads(raw)
    except ValueError:
        return {}, {}
    statement = bundle_statement(bundle) if isinstance(bundle, dict) else None
    return (bundle, statement) if statement is not None else ({}, {})


def _who(bundle: dict[str, Any]) -> str:
    material = bundle.get("verificationMaterial") or {}
    if "publicKey" in material:
        return f"key hint {(material.get('publicKey') or {}).get('hint') or '?'}"
    return "certificate" if material else "unknown signer"


def vouchers(client: Any, repository: str, digest: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(signatures, attestations) stored for `digest`, as they claim to be: none is verified here."""
    from rigging.signing.attestations import KINDS
    from rigging.signing.store import bundles, legacy_signatures

    by_type = {value: kind for kind, value in KINDS.items()}
    signatures: list[dict[str, Any]] = []
    attestations: list[dict[str, Any]] = []
    for stored, raw in bundles(client, repository, digest):
        bundle, statement = _statement(raw)
        predicate_type = str(statement.get("predicateType") or "")
        kind = by_type.get(predicate_type)
        if kind is None:
            signatures.append({"format": "bundle", "stored": stored, "signer": _who(bundle), "type": predicate_type})
            continue
        predicate = statement.get("predicate") if isinstance(statement.get("predicate"), dict) else {}
        entry: dict[str, Any] = {"kind": kind, "stored": stored, "signer": _who(bundle)}
        fields = ("verdict", "scannedAt", "counts") if kind == "scan" else ("decision", "reviewer", "decidedAt")
        entry.update({field: predicate[field] for field in fields if field in predicate})
        attestations.append(entry)
    for legacy in legacy_signatures(client, repository, digest):
        signatures.append({"format": "legacy", "stored": legacy.layer_digest, "signer": "key (cosign .sig)"})
    return signatures, attestations


def package_info(
    ref: Ref, *, plain_http: bool = False, ca_file: str | None = None, cache: BlobCache | None = None
) -> dict[str, Any]:
    from rigging.install_policy import classes, content_capabilities
    from rigging.layout_registry import client_for
    from rigging.stores import RegistryStore
    from rigging.transfer import cache_embedded, fetch_blobs, fetch_package

    cache = cache or BlobCache()
    host, repository = _location(ref)
    with client_for(host, plain_http=plain_http, ca_file=ca_file) as client:
        store = RegistryStore(client, repository)  # type: ignore[arg-type]
        where = store.describe()
        package, reference = fetch_package(store, ref.reference, where)
        cache_embedded(package, cache)
        blobs = fetch_blobs(store, [package.config, package.content_layer], cache)
        signatures, attestations = vouchers(client, repository, package.digest)
    try:
        config = json.loads(blobs[package.config.digest].read_bytes())
    except ValueError:
        config = {}
    config = config if isinstance(config, dict) else {}
    name, version = str(config.get("name") or ""), str(config.get("version") or "")
    capabilities, texts = content_capabilities(blobs[package.content_layer.digest], f"{where}@{package.digest}")
    targets = config.get("targets")
    return {
        "name": name,
        "version": version,
        "source": f"{where}@{reference}" if reference.startswith("sha256:") else f"{where}:{reference}",
        "digest": package.digest,
        "description": str(config.get("description") or ""),
        "targets": [str(t) for t in targets] if isinstance(targets, list) else None,
        "files": len(texts),
        "skills": [s.get("name") for s in config.get("skills") or [] if isinstance(s, dict)],
        "signatures": signatures,
        "attestations": attestations,
        "capabilities": {"classes": classes(capabilities), **capabilities.as_dict()},
    }
