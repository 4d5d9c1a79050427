"""`rigging sign`: sign a package manifest's digest, keyed (ours, on `cryptography`) or keyless
(Sigstore, through sigstore-python)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from rigging.errors import RiggingError, UsageError
from rigging.reference import RegistryRef, parse_ref
from rigging.registry.client import RegistryClient
from rigging.signing.formats import COSIGN_SIGN_PREDICATE, INTOTO_PAYLOAD_TYPE, keyed_bundle, pae, statement
from rigging.signing.keys import key_id
from rigging.signing.store import push_bundle, push_legacy


def registry_ref(text: str) -> RegistryRef:
    """The manifest to sign or verify. A layout `oci:DIR/NS/NAME:TAG` becomes repository NAME of
    the store `oci:DIR/NS` (open it with `rigging.layout_registry.client_for`), so signatures go
    into the layout itself, as into a registry repository."""
    from rigging.reference import LayoutRef

    ref = parse_ref(text)
    if ref.reference is None:
        raise UsageError(f"{text}: name the version, e.g. {text}:1.0.0 or {text}@sha256:…")
    if isinstance(ref, LayoutRef):
        folder = Path(ref.path)
        if not folder.name or folder.name in (".", ".."):
            raise UsageError(f"{text}: give the package's layout folder, e.g. oci:./packages/acme/x:1.0.0")
        return RegistryRef(f"oci:{folder.parent}", folder.name, ref.tag, ref.digest)
    return ref


def subject_of(client: RegistryClient, ref: RegistryRef) -> dict[str, Any]:
    """The descriptor of the manifest `ref` names, read from the registry (digest-checked)."""
    data, media_type, digest = client.get_manifest(ref.repository, ref.reference or "")
    return {"mediaType": media_type or json.loads(data).get("mediaType"), "digest": digest, "size": len(data)}


def sign_keyed(
    client: RegistryClient, ref: RegistryRef, key: ec.EllipticCurvePrivateKey, fmt: str = "bundle"
) -> dict[str, Any]:
    subject = subject_of(client, ref)
    name = f"{ref.host}/{ref.repository}"
    if fmt == "legacy":
        from rigging.signing.formats import simple_signing_payload

        payload = simple_signing_payload(name, subject["digest"])
        signature = key.sign(payload, ec.ECDSA(hashes.SHA256()))
        stored = push_legacy(client, ref.repository, subject["digest"], payload, base64.b64encode(signature).decode())
    elif fmt == "bundle":
        body = statement(name, subject["digest"])
        signature = key.sign(pae(INTOTO_PAYLOAD_TYPE, body), ec.ECDSA(hashes.SHA256()))
        bundle = json.dumps(keyed_bundle(body, signature, key_id(key.public_key())), separators=(",", ":")).encode()
        stored = push_bundle(client, ref.repository, subject, bundle, COSIGN_SIGN_PREDICATE)
    else:
        raise UsageError(f"--format {fmt!r}: use bundle or legacy")
    return {"signed": subject["digest"], "format": fmt, "stored": stored, "reference": str(ref)}


def _trust_config(staging: bool, trust_config: Path | None):  # noqa: ANN202 - sigstore ClientTrustConfig
    from sigstore.models import ClientTrustConfig

    if trust_config is not None:
        try:
            return ClientTrustConfig.from_json(trust_config.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RiggingError(f"{trust_config}: not a Sigstore client trust config ({exc})") from None
    return ClientTrustConfig.staging() if staging else ClientTrustConfig.production()


def _identity_token(token: str | None, trust: object):  # noqa: ANN202 - a sigstore IdentityToken
    from sigstore.oidc import IdentityError, IdentityToken, Issuer, detect_credential

    try:
        if token:
            return IdentityToken(token)
        ambient = detect_credential()  # GitHub Actions, GitLab, Buildkite, Google Cloud, …
        if ambient:
            return IdentityToken(ambient)
        return Issuer(trust.signing_config.get_oidc_url()).identity_token()  # type: ignore[attr-defined]
    except IdentityError as exc:
        raise RiggingError(f"no usable OIDC identity for keyless signing: {exc}") from None


def sign_keyless(
    client: RegistryClient,
    ref: RegistryRef,
    *,
    identity_token: str | None = None,
    staging: bool = False,
    trust_config: Path | None = None,
) -> dict[str, Any]:
    """Fulcio certificate for the OIDC identity, DSSE signature, Rekor entry: a bundle as cosign v3 makes."""
    from sigstore import dsse
    from sigstore.errors import Error as SigstoreError
    from sigstore.sign import SigningContext

    subject = subject_of(client, ref)
    given = _identity_token(identity_token, None) if identity_token else None  # a bad token fails before the network
    try:
        trust = _trust_config(staging, trust_config)
        context = SigningContext.from_trust_config(trust)
    except SigstoreError as exc:
        raise RiggingError(
            f"keyless signing needs Sigstore's trust root, which could not be fetched ({type(exc).__name__}: {exc}); "
            "check the network, or pass --trust-config for a private Sigstore"
        ) from None
    algorithm, _, hex_digest = subject["digest"].partition(":")
    built = (
        dsse.StatementBuilder()
        .subjects([dsse.Subject(name=f"{ref.host}/{ref.repository}", digest={algorithm: hex_digest})])
        .predicate_type(COSIGN_SIGN_PREDICATE)
        .predicate({})
        .build()
    )
    try:
        with context.signer(given or _identity_token(None, trust), cache=True) as signer:
            bundle = signer.sign_dsse(built)
    except SigstoreError as exc:
        raise RiggingError(f"keyless signing failed at Sigstore ({type(exc).__name__}: {exc})") from None
    stored = push_bundle(client, ref.repository, subject, bundle.to_json().encode(), COSIGN_SIGN_PREDICATE)
    return {"signed": subject["digest"], "format": "bundle", "stored": stored, "reference": str(ref), "keyless": True}
