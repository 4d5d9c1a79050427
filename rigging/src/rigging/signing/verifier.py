"""`rigging verify`: find a manifest's signatures (bundle referrers and the legacy `.sig` tag),
open each one, and check signature, subject digest and signer."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from rigging.errors import RiggingError
from rigging.reference import RegistryRef
from rigging.registry.client import RegistryClient
from rigging.signing.formats import BUNDLE, bundle_statement, pae, payload_digest, statement_subjects
from rigging.signing.keys import key_id, load_public_key
from rigging.signing.store import bundles, legacy_signatures

OIDC_ISSUER_OIDS = ("1.3.6.1.4.1.57264.1.8", "1.3.6.1.4.1.57264.1.1")  # v2, then the older v1


@dataclass
class Identity:
    issuer: str
    identity: str | None = None
    identity_regexp: str | None = None

    def describe(self) -> str:
        who = self.identity or f"/{self.identity_regexp}/"
        return f"{who} ({self.issuer})"


@dataclass
class Requirements:
    keys: list[Path] = field(default_factory=list)
    identities: list[Identity] = field(default_factory=list)
    staging: bool = False
    offline: bool = False
    trusted_root: Path | None = None

    def empty(self) -> bool:
        return not self.keys and not self.identities


@dataclass
class Verified:
    format: str  # bundle | legacy
    signer: str  # "key <hint>" or "identity (issuer)"
    stored: str  # where the signature is: the referrer's digest or the .sig layer


def _verify_ecdsa(key: ec.EllipticCurvePublicKey, signature: bytes, data: bytes) -> bool:
    try:
        key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def key_label(key: ec.EllipticCurvePublicKey, path: Path | None = None) -> str:
    return f"key sha256:{base64.b64decode(key_id(key)).hex()[:16]}" + (f" ({path.name})" if path else "")


def verify_keyed_bundle(bundle: dict[str, Any], key: ec.EllipticCurvePublicKey, digest: str) -> bool:
    """A keyed (no certificate) DSSE bundle: signature over PAE, and the statement names `digest`."""
    try:
        envelope = bundle["dsseEnvelope"]
        payload = base64.b64decode(envelope["payload"])
        payload_type = envelope["payloadType"]
        signatures = [base64.b64decode(s["sig"]) for s in envelope["signatures"]]
    except (KeyError, TypeError, ValueError):
        return False
    if bundle.get("mediaType") != BUNDLE or digest not in statement_subjects(payload):
        return False
    return any(_verify_ecdsa(key, sig, pae(payload_type, payload)) for sig in signatures)


def _is_attestation(bundle: Any) -> bool:
    """A bundle whose statement is one of the index's attestations (rigging.signing.attestations):
    a scan that blocked the version must not pass for the index's signature of it."""
    from rigging.signing.attestations import KINDS

    document = bundle_statement(bundle)
    return document is not None and document.get("predicateType") in KINDS.values()


class _SanPolicy:
    """OIDC issuer exact, subject alternative name exact or by regular expression (cosign's flags)."""

    def __init__(self, identity: Identity) -> None:
        self.identity = identity

    def verify(self, cert: Any) -> None:
        from cryptography import x509
        from sigstore.errors import VerificationError

        issuer = None
        for oid in OIDC_ISSUER_OIDS:
            try:
                value = cert.extensions.get_extension_for_oid(x509.ObjectIdentifier(oid)).value.value
            except x509.ExtensionNotFound:
                continue
            issuer = value.decode() if oid.endswith(".1") else _der_utf8(value)
            break
        if issuer != self.identity.issuer:
            raise VerificationError(f"certificate issuer {issuer!r} is not {self.identity.issuer!r}")
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [str(n.value) for n in sans]
        if self.identity.identity is not None:
            ok = self.identity.identity in names
        else:
            ok = any(re.fullmatch(self.identity.identity_regexp or "", name) for name in names)
        if not ok:
            raise VerificationError(f"certificate identities {names} do not match {self.identity.describe()}")


def _der_utf8(value: bytes) -> str:
    # the v2 issuer extension is a DER UTF8String: tag 0x0c, length, bytes
    if len(value) > 2 and value[0] == 0x0C:
        length = value[1]
        start = 2
        if length & 0x80:
            count = length & 0x7F
            length = int.from_bytes(value[2 : 2 + count], "big")
            start = 2 + count
        return value[start : start + length].decode()
    return value.decode(errors="replace")


def sigstore_verifier(requirements: Requirements):  # noqa: ANN201 - sigstore Verifier
    from sigstore.models import TrustedRoot
    from sigstore.verify import Verifier

    if requirements.trusted_root is not None:
        return Verifier(trusted_root=TrustedRoot.from_file(str(requirements.trusted_root)))
    if requirements.staging:
        return Verifier.staging(offline=requirements.offline)
    return Verifier.production(offline=requirements.offline)


def verify_keyless_dsse(bundle_bytes: bytes, identity: Identity, verifier: Any, digest: str | None = None) -> str:
    """Verify a certificate-bearing DSSE bundle (Fulcio + Rekor/TSA); returns the signer.

    Raises RiggingError saying why when it does not verify."""
    from sigstore.errors import Error as SigstoreError
    from sigstore.models import Bundle

    try:
        bundle = Bundle.from_json(bundle_bytes)
        _, payload = verifier.verify_dsse(bundle, _SanPolicy(identity))
    except SigstoreError as exc:
        raise RiggingError(f"keyless signature does not verify: {exc}") from None
    except ValueError as exc:
        raise RiggingError(f"not a Sigstore bundle: {exc}") from None
    if digest is not None and digest not in statement_subjects(payload):
        raise RiggingError(f"keyless signature covers {sorted(statement_subjects(payload))}, not {digest}")
    return identity.describe()


def verify_keyless_artifact(artifact: bytes, bundle_bytes: bytes, identity: Identity, verifier: Any) -> str:
    """A message-signature bundle over plain bytes (the shape `sigstore sign FILE` writes)."""
    from sigstore.errors import Error as SigstoreError
    from sigstore.models import Bundle

    try:
        verifier.verify_artifact(artifact, Bundle.from_json(bundle_bytes), _SanPolicy(identity))
    except SigstoreError as exc:
        raise RiggingError(f"keyless signature does not verify: {exc}") from None
    return identity.describe()


def verify_reference(
    client: RegistryClient, ref: RegistryRef, requirements: Requirements
) -> tuple[str, list[Verified], list[str]]:
    """(digest, signatures that satisfy a requirement, reasons the others did not)."""
    if requirements.empty():
        raise RiggingError(
            "name what to trust: --key cosign.pub, or --certificate-identity and --certificate-oidc-issuer"
        )
    data, _, digest = client.get_manifest(ref.repository, ref.reference or "")
    del data
    keys = [(load_public_key(path), path) for path in requirements.keys]
    verified: list[Verified] = []
    problems: list[str] = []
    verifier = None
    for stored, raw in bundles(client, ref.repository, digest):
        try:
            bundle = json.loads(raw)
        except ValueError:
            bundle = None
        if not isinstance(bundle, dict):
            problems.append(f"bundle {stored} is not a JSON object")
            continue
        if _is_attestation(bundle):
            continue  # the index's scan or approval says something else than "signed by"
        material = bundle.get("verificationMaterial") or {}
        if "publicKey" in material:
            matched = [
                label
                for key, path in keys
                if verify_keyed_bundle(bundle, key, digest)
                for label in [key_label(key, path)]
            ]
            if matched:
                verified.append(Verified("bundle", matched[0], stored))
            else:
                problems.append(f"bundle {stored}: no given key verifies it for {digest}")
            continue
        for identity in requirements.identities:
            verifier = verifier or sigstore_verifier(requirements)
            try:
                verified.append(Verified("bundle", verify_keyless_dsse(raw, identity, verifier, digest), stored))
                break
            except RiggingError as exc:
                problems.append(f"bundle {stored}: {exc}")
    for legacy in legacy_signatures(client, ref.repository, digest):
        try:
            signature = base64.b64decode(legacy.signature_b64)
        except ValueError:
            problems.append(f"legacy signature {legacy.layer_digest}: not base64")
            continue
        if payload_digest(legacy.payload) != digest:
            problems.append(
                f"legacy signature {legacy.layer_digest}: payload names {payload_digest(legacy.payload)}, not {digest}"
            )
            continue
        matched = [key_label(key, path) for key, path in keys if _verify_ecdsa(key, signature, legacy.payload)]
        if matched:
            verified.append(Verified("legacy", matched[0], legacy.layer_digest))
        else:
            problems.append(f"legacy signature {legacy.layer_digest}: no given key verifies it")
    return digest, verified, problems
