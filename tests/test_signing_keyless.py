"""Keyless verification through our path (sigstore-python underneath) with real Sigstore bundles
from shared/fixtures/sigstore, pinned to their trusted roots (offline)."""

from __future__ import annotations

import hashlib
import json

import pytest
from rigging.errors import RiggingError
from rigging.registry.client import RegistryClient
from rigging.signing.store import push_bundle
from rigging.signing.verifier import (
    Identity,
    Requirements,
    sigstore_verifier,
    verify_keyless_artifact,
    verify_keyless_dsse,
)

from tests.conftest import FIXTURES

S = FIXTURES / "sigstore"
BEACON = (
    "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/"
    ".github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
)
ACTIONS = "https://token.actions.githubusercontent.com"
GITHUB = "https://github.com/login/oauth"


def verifier(instance: str):
    return sigstore_verifier(Requirements(trusted_root=S / f"trusted_root.{instance}.json"))


GOOD_ARTIFACTS = [
    ("bundle_v3.txt", "bundle_v3.txt.sigstore", "staging", Identity(GITHUB, "william@yossarian.net")),
    ("staging-rekor-v2.txt", "staging-rekor-v2.txt.sigstore.json", "staging", Identity(GITHUB, "jku@goto.fi")),
    ("conformance-a.txt", "conformance-a.txt.sigstore.json", "production", Identity(ACTIONS, BEACON)),
]


@pytest.mark.parametrize(("artifact", "bundle", "instance", "identity"), GOOD_ARTIFACTS)
def test_message_signature_bundles_verify(fixtures, artifact, bundle, instance, identity):
    signer = verify_keyless_artifact(
        (S / artifact).read_bytes(), (S / bundle).read_bytes(), identity, verifier(instance)
    )
    assert signer == identity.describe()


@pytest.mark.parametrize(
    ("bundle", "instance", "identity", "subject"),
    [
        ("a.dsse.staging-rekor-v2.txt.sigstore.json", "staging", Identity(ACTIONS, BEACON), "conformance-a.txt"),
        ("conformance-a.txt.intoto.sigstore.json", "production", Identity(ACTIONS, BEACON), "conformance-a.txt"),
        (
            "cosign-oci-attestation.sigstore.json",
            "production",
            Identity(GITHUB, "cody@soyland.com"),
            "cosign-oci-attestation.subject.manifest.json",
        ),
    ],
)
def test_dsse_bundles_verify_and_name_their_subject(fixtures, bundle, instance, identity, subject):
    digest = "sha256:" + hashlib.sha256((S / subject).read_bytes()).hexdigest()
    assert verify_keyless_dsse((S / bundle).read_bytes(), identity, verifier(instance), digest) == identity.describe()
    with pytest.raises(RiggingError, match="covers"):
        verify_keyless_dsse((S / bundle).read_bytes(), identity, verifier(instance), "sha256:" + "0" * 64)


def test_identity_regexp_matches_like_cosign(fixtures):
    pattern = Identity(ACTIONS, identity_regexp=r"https://github\.com/sigstore-conformance/.*")
    signer = verify_keyless_artifact(
        (S / "conformance-a.txt").read_bytes(),
        (S / "conformance-a.txt.sigstore.json").read_bytes(),
        pattern,
        verifier("production"),
    )
    assert signer == pattern.describe()
    with pytest.raises(RiggingError, match="do not match"):
        verify_keyless_artifact(
            (S / "conformance-a.txt").read_bytes(),
            (S / "conformance-a.txt.sigstore.json").read_bytes(),
            Identity(ACTIONS, identity_regexp=r"https://github\.com/acme/.*"),
            verifier("production"),
        )


NEGATIVE = [
    (
        "bundle_v3.tampered.txt",
        "bundle_v3.txt.sigstore",
        "staging",
        Identity(GITHUB, "william@yossarian.net"),
        "digest mismatch",
    ),
    ("bundle_v3.txt", "bundle_v3.txt.sigstore", "staging", Identity(GITHUB, "someone@example.com"), "do not match"),
    (
        "bundle_v3.txt",
        "bundle_v3.txt.sigstore",
        "staging",
        Identity("https://accounts.google.com", "william@yossarian.net"),
        "issuer",
    ),
    # a staging bundle against the production root: its chain does not lead to a pinned authority
    (
        "bundle_v3.txt",
        "bundle_v3.txt.sigstore",
        "production",
        Identity(GITHUB, "william@yossarian.net"),
        "certificate chain",
    ),
    (
        "conformance-b.txt",
        "conformance-a.txt.sigstore.json",
        "production",
        Identity(ACTIONS, BEACON),
        "digest mismatch",
    ),
    (
        "conformance-a.txt",
        "conformance-signature-mismatch.sigstore.json",
        "production",
        Identity(ACTIONS, BEACON),
        "Signature is invalid",
    ),
    (
        "bundle_cve_2022_36056.txt",
        "bundle_cve_2022_36056.txt.sigstore",
        "staging",
        Identity(GITHUB, "william@yossarian.net"),
        "inconsistent",
    ),
]


@pytest.mark.parametrize(("artifact", "bundle", "instance", "identity", "reason"), NEGATIVE)
def test_negative_fixtures_fail(fixtures, artifact, bundle, instance, identity, reason):
    with pytest.raises(RiggingError, match="does not verify") as failure:
        verify_keyless_artifact((S / artifact).read_bytes(), (S / bundle).read_bytes(), identity, verifier(instance))
    assert reason in str(failure.value)


def test_bad_dsse_signature_fails(fixtures):
    with pytest.raises(RiggingError, match="invalid signature"):
        verify_keyless_dsse(
            (S / "conformance-dsse-invalid-sig.sigstore.json").read_bytes(),
            Identity(ACTIONS, BEACON),
            verifier("production"),
        )


def test_cosigns_oci_attestation_verifies_through_the_registry(cli, tmp_path, registry, fixtures):
    """The bundle cosign wrote, attached as a referrer on the Debian registry: `rigging verify` finds
    it through the fallback tag and checks it keylessly, offline, against the pinned root."""
    manifest = (S / "cosign-oci-attestation.subject.manifest.json").read_bytes()
    config = (S / "cosign-oci-attestation.subject.config.json").read_bytes()
    media_type = json.loads(manifest)["mediaType"]
    with RegistryClient(registry.host) as client:
        client.upload_blob("cosign/empty", "sha256:" + hashlib.sha256(config).hexdigest(), config)
        client.put_manifest("cosign/empty", "latest", manifest, media_type)
        digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
        push_bundle(
            client,
            "cosign/empty",
            {"mediaType": media_type, "digest": digest, "size": len(manifest)},
            (S / "cosign-oci-attestation.sigstore.json").read_bytes(),
            "https://cosign.sigstore.dev/attestation/v1",
        )
    args = [
        "verify",
        f"{registry.host}/cosign/empty@{digest}",
        "--trusted-root",
        S / "trusted_root.production.json",
        "--certificate-oidc-issuer",
        GITHUB,
        "--json",
    ]
    good = cli(*args, "--certificate-identity", "cody@soyland.com")
    report = json.loads(good.stdout)
    assert good.returncode == 0 and report["signatures"][0]["signer"] == f"cody@soyland.com ({GITHUB})"
    bad = cli(*args, "--certificate-identity", "someone@example.com")
    assert bad.returncode == 1 and "do not match" in json.loads(bad.stdout)["problems"][0]
