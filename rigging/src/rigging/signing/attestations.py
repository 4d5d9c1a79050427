"""Attestations the index makes about a version: a scan result and a reviewer's decision
(`approved`, `rejected`, or `revoked` when new rules block an approved version).

Each is an in-toto statement about the version's manifest digest, signed with the index's key
as a keyed Sigstore bundle (the shape `rigging sign` writes) and stored as an OCI referrer of the
version, so a consumer checks them against the index's public key without asking the index.
The predicates are specified in oci-media-types/SPEC.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from rigging.registry.client import RegistryClient
from rigging.signing.formats import INTOTO_PAYLOAD_TYPE, INTOTO_STATEMENT, bundle_statement, keyed_bundle, pae
from rigging.signing.keys import key_id

SCAN_PREDICATE = "https://rigging.dev/attestations/scan/v1"
APPROVAL_PREDICATE = "https://rigging.dev/attestations/approval/v1"
KINDS: dict[str, str] = {"scan": SCAN_PREDICATE, "approval": APPROVAL_PREDICATE}


def attestation_statement(name: str, digest: str, predicate_type: str, predicate: dict[str, Any]) -> bytes:
    algorithm, _, hex_digest = digest.partition(":")
    document = {
        "_type": INTOTO_STATEMENT,
        "subject": [{"name": name, "digest": {algorithm: hex_digest}}],
        "predicateType": predicate_type,
        "predicate": predicate,
    }
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


def attestation_bundle(
    key: ec.EllipticCurvePrivateKey, name: str, digest: str, predicate_type: str, predicate: dict[str, Any]
) -> bytes:
    body = attestation_statement(name, digest, predicate_type, predicate)
    signature = key.sign(pae(INTOTO_PAYLOAD_TYPE, body), ec.ECDSA(hashes.SHA256()))
    return json.dumps(keyed_bundle(body, signature, key_id(key.public_key())), separators=(",", ":")).encode()


def attest(
    client: RegistryClient,
    repository: str,
    subject: dict[str, Any],
    key: ec.EllipticCurvePrivateKey,
    name: str,
    kind: str,
    predicate: dict[str, Any],
) -> str:
    """Sign `predicate` about `subject` (a manifest descriptor) and push it as a referrer; returns its digest."""
    from rigging.signing.store import push_bundle

    predicate_type = KINDS[kind]
    bundle = attestation_bundle(key, name, subject["digest"], predicate_type, predicate)
    return push_bundle(client, repository, subject, bundle, predicate_type)


@dataclass(frozen=True)
class Attestation:
    kind: str  # scan | approval
    predicate: dict[str, Any]
    signer: str  # the key's label
    stored: str  # the referrer's digest

    def satisfied(self) -> bool:
        """A scan attestation counts when the version passed; an approval-predicate one only when
        its decision is `approved` (a `rejected` or `revoked` one, or an unknown word, never does)."""
        if self.kind == "scan":
            return self.predicate.get("verdict") in ("pass", "warn")
        return self.predicate.get("decision") == "approved"


def verified_attestations(
    client: RegistryClient, repository: str, digest: str, keys: list[Path]
) -> tuple[list[Attestation], list[str]]:
    """Every attestation referrer of `digest` that one of `keys` signed (its predicate type read
    from the signed statement, never from the referrer's annotations), and why others did not count."""
    from rigging.signing.keys import load_public_key
    from rigging.signing.store import bundles
    from rigging.signing.verifier import key_label, verify_keyed_bundle

    loaded = [(load_public_key(path), path) for path in keys]
    by_type = {value: kind for kind, value in KINDS.items()}
    found: list[Attestation] = []
    problems: list[str] = []
    for stored, raw in bundles(client, repository, digest):
        try:
            bundle = json.loads(raw)
        except ValueError:
            problems.append(f"referrer {stored} is not JSON")
            continue
        document = bundle_statement(bundle) if isinstance(bundle, dict) else None
        kind = by_type.get(str((document or {}).get("predicateType")))
        if kind is None:
            continue  # a signature or someone else's attestation: not ours to judge
        signer = next((key_label(k, p) for k, p in loaded if verify_keyed_bundle(bundle, k, digest)), None)
        if signer is None:
            problems.append(f"{kind} attestation {stored}: no given key verifies it for {digest}")
            continue
        predicate = (document or {}).get("predicate")
        found.append(Attestation(kind, predicate if isinstance(predicate, dict) else {}, signer, stored))
    return found, problems
