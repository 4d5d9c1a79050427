"""The bytes cosign signs and stores.

- legacy ("simple signing"): the JSON payload naming the manifest digest, an ECDSA signature in
  the layer annotation `dev.cosignproject.cosign/signature`, all in the `sha256-<hex>.sig` manifest;
- bundle (cosign v3): a Sigstore bundle v0.3 whose DSSE envelope holds an in-toto statement with
  the manifest digest as subject, stored as an OCI referrer of the signed manifest.
"""

from __future__ import annotations

import base64
import json
from typing import Any

SIMPLESIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
BUNDLE = "application/vnd.dev.sigstore.bundle.v0.3+json"
BUNDLE_CONTENT_ANNOTATION = "dev.sigstore.bundle.content"
BUNDLE_PREDICATE_ANNOTATION = "dev.sigstore.bundle.predicateType"
INTOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
INTOTO_STATEMENT = "https://in-toto.io/Statement/v1"
COSIGN_SIGN_PREDICATE = "https://sigstore.dev/cosign/sign/v1"
EMPTY_JSON = b"{}"
EMPTY_MEDIA_TYPE = "application/vnd.oci.empty.v1+json"


def simple_signing_payload(docker_reference: str, digest: str) -> bytes:
    """The payload exactly as cosign writes it (Go's field order, no spaces)."""
    document = {
        "critical": {
            "identity": {"docker-reference": docker_reference},
            "image": {"docker-manifest-digest": digest},
            "type": "cosign container image signature",
        },
        "optional": None,
    }
    return json.dumps(document, separators=(",", ":")).encode()


def payload_digest(payload: bytes) -> str | None:
    try:
        return json.loads(payload)["critical"]["image"]["docker-manifest-digest"]
    except (ValueError, KeyError, TypeError):
        return None


def statement(name: str, digest: str, predicate_type: str = COSIGN_SIGN_PREDICATE) -> bytes:
    algorithm, _, hex_digest = digest.partition(":")
    document = {
        "_type": INTOTO_STATEMENT,
        "subject": [{"name": name, "digest": {algorithm: hex_digest}}],
        "predicateType": predicate_type,
        "predicate": {},
    }
    return json.dumps(document, separators=(",", ":")).encode()


def statement_subjects(payload: bytes) -> set[str]:
    """'sha256:<hex>' for every subject of an in-toto statement."""
    try:
        document = json.loads(payload)
        return {
            f"{algorithm}:{value}"
            for subject in document.get("subject", [])
            for algorithm, value in (subject.get("digest") or {}).items()
        }
    except (ValueError, AttributeError, TypeError):
        return set()


def bundle_statement(bundle: Any) -> dict[str, Any] | None:
    """The in-toto statement in a bundle's DSSE envelope, as the bundle claims it (nothing is
    verified here); None when `bundle` has no envelope or its payload is not a JSON object."""
    try:
        document = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
    except (KeyError, TypeError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE pre-authentication encoding: what a DSSE signature covers."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def keyed_bundle(payload: bytes, signature: bytes, key_hint: str) -> dict[str, Any]:
    return {
        "mediaType": BUNDLE,
        "verificationMaterial": {"publicKey": {"hint": key_hint}, "tlogEntries": []},
        "dsseEnvelope": {
            "payload": base64.b64encode(payload).decode(),
            "payloadType": INTOTO_PAYLOAD_TYPE,
            "signatures": [{"sig": base64.b64encode(signature).decode(), "keyid": ""}],
        },
    }
