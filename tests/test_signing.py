"""Signing and verification: cosign's key files, both storage formats against the Debian
registry (no referrers API), failure cases, and checks that do not use our verification code:
openssl for legacy signatures and DSSE envelopes, sigstore-js for keyed bundles."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from rigging.registry.client import RegistryClient
from rigging.signing.formats import INTOTO_PAYLOAD_TYPE, pae, payload_digest
from rigging.signing.keys import KeyError_, decrypt_private_key, encrypt_private_key, load_private_key, public_pem
from rigging.signing.store import bundles, legacy_signatures, push_bundle, push_legacy

from tests.conftest import FIXTURES, KEY_PASSWORD
from tests.packages import make_package
from tests.support.raw_package import http_push_blob
from tests.support.services import unavailable
from tests.support.sigstore_js import require_sigstore_js, sigstore_js_verify

COSIGN = FIXTURES / "cosign"


def _published(cli, tmp_path, registry, signing_env, name="acme/signed", version="1.0.0"):
    pkg = make_package(tmp_path / f"pkg-{version}", name, version, extra_rule=version)
    result = cli("publish", pkg, f"{registry.host}/{name}", "--json", "--force", env=signing_env)
    assert result.returncode == 0, result.stderr
    return f"{registry.host}/{name}:{version}", json.loads(result.stdout)["digest"]


# -- keys -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "password"),
    [
        ("sigstore-labeled-ecdsa", b"hello"),
        ("cosign-labeled-ecdsa", b"hello"),
        ("cosign-generated-empty-password", b""),
    ],
)
def test_cosign_made_keys_decrypt_and_match_their_public_keys(fixtures, name, password):
    key = load_private_key(COSIGN / f"{name}.key", password)
    assert public_pem(key.public_key()).strip() == (COSIGN / f"{name}.pub").read_bytes().strip()


def test_sec1_key_wrong_password_and_bad_parameters_are_refused(fixtures):
    with pytest.raises(KeyError_, match="not PKCS#8"):
        load_private_key(COSIGN / "cosign-labeled-sec1-refused.key", b"hello")
    with pytest.raises(KeyError_, match="wrong password"):
        load_private_key(COSIGN / "sigstore-labeled-ecdsa.key", b"nope")
    body = (COSIGN / "sigstore-labeled-ecdsa.key").read_text().splitlines()
    envelope = json.loads(base64.b64decode("".join(body[1:-1])))
    envelope["kdf"]["params"]["N"] = 2**24  # a file asking for a 16 GiB scrypt is refused, not run
    forged = "\n".join([body[0], base64.b64encode(json.dumps(envelope).encode()).decode(), body[-1]])
    with pytest.raises(KeyError_, match="unsupported scrypt parameters"):
        decrypt_private_key(forged.encode(), b"hello")


def test_generated_key_round_trips_and_uses_cosigns_format(keys):
    good, _ = keys
    pem = (good / "cosign.key").read_text()
    assert pem.startswith("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----")
    envelope = json.loads(base64.b64decode("".join(pem.strip().splitlines()[1:-1])))
    assert envelope["kdf"]["params"] == {"N": 65536, "r": 8, "p": 1} and envelope["cipher"]["name"] == "nacl/secretbox"
    key = load_private_key(good / "cosign.key", KEY_PASSWORD.encode())
    assert public_pem(key.public_key()) == (good / "cosign.pub").read_bytes()
    again = decrypt_private_key(encrypt_private_key(key, b"x"), b"x")
    assert again.private_numbers() == key.private_numbers()


def test_the_cosign_fixture_key_signs_a_package(cli, tmp_path, registry, signing_env, fixtures):
    ref, digest = _published(cli, tmp_path, registry, signing_env, "acme/fixture-signed")
    signed = cli(
        "sign", ref, "--key", COSIGN / "sigstore-labeled-ecdsa.key", env={**signing_env, "COSIGN_PASSWORD": "hello"}
    )
    assert signed.returncode == 0, signed.stderr
    verified = cli("verify", ref, "--key", COSIGN / "sigstore-labeled-ecdsa.pub", "--json", env=signing_env)
    report = json.loads(verified.stdout)
    assert report["verified"] is True and report["digest"] == digest


# -- both formats against the registry ------------------------------------------------------


def test_sign_and_verify_both_formats(cli, tmp_path, registry, signing_env, keys):
    good, other = keys
    ref, digest = _published(cli, tmp_path, registry, signing_env)
    for fmt in ("bundle", "legacy"):
        signed = cli("sign", ref, "--key", good / "cosign.key", "--format", fmt, "--json", env=signing_env)
        assert signed.returncode == 0, signed.stderr
        assert json.loads(signed.stdout)["signed"] == digest
    result = cli("verify", ref, "--key", good / "cosign.pub", "--json", env=signing_env)
    report = json.loads(result.stdout)
    assert result.returncode == 0 and report["digest"] == digest
    assert sorted(s["format"] for s in report["signatures"]) == ["bundle", "legacy"]
    human = cli("verify", ref, "--key", good / "cosign.pub", env=signing_env)
    assert "signed by key sha256:" in human.stdout
    with RegistryClient(registry.host) as client:
        tags = client.tags("acme/signed")
    assert f"{digest.replace(':', '-')}.sig" in tags and digest.replace(":", "-") in tags  # .sig and fallback index

    wrong = cli("verify", ref, "--key", other / "cosign.pub", env=signing_env)
    assert wrong.returncode == 1 and "no valid signature" in wrong.stderr and "Traceback" not in wrong.stderr


def test_a_signature_over_another_digest_does_not_count(cli, tmp_path, registry, signing_env, keys):
    good, _ = keys
    ref_a, digest_a = _published(cli, tmp_path, registry, signing_env, "acme/swap", "1.0.0")
    _, digest_b = _published(cli, tmp_path, registry, signing_env, "acme/swap", "2.0.0")
    key = load_private_key(good / "cosign.key", KEY_PASSWORD.encode())
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from rigging.signing.formats import keyed_bundle, simple_signing_payload, statement
    from rigging.signing.keys import key_id

    with RegistryClient(registry.host) as client:
        # a real signature of B's digest, filed under A
        payload = simple_signing_payload(f"{registry.host}/acme/swap", digest_b)
        sig = base64.b64encode(key.sign(payload, ec.ECDSA(hashes.SHA256()))).decode()
        push_legacy(client, "acme/swap", digest_a, payload, sig)
        body = statement(f"{registry.host}/acme/swap", digest_b)
        bundle = keyed_bundle(
            body, key.sign(pae(INTOTO_PAYLOAD_TYPE, body), ec.ECDSA(hashes.SHA256())), key_id(key.public_key())
        )
        data, media_type, _ = client.get_manifest("acme/swap", digest_a)
        push_bundle(
            client,
            "acme/swap",
            {"mediaType": media_type, "digest": digest_a, "size": len(data)},
            json.dumps(bundle).encode(),
            "https://sigstore.dev/cosign/sign/v1",
        )
    result = cli("verify", ref_a, "--key", good / "cosign.pub", "--json", env=signing_env)
    report = json.loads(result.stdout)
    assert result.returncode == 1 and report["verified"] is False
    assert any(f"names {digest_b}" in p for p in report["problems"])
    assert any("no given key verifies it" in p for p in report["problems"])


def test_a_tampered_payload_fails(cli, tmp_path, registry, signing_env, keys):
    good, _ = keys
    ref, digest = _published(cli, tmp_path, registry, signing_env, "acme/tamper")
    assert cli("sign", ref, "--key", good / "cosign.key", "--format", "legacy", env=signing_env).returncode == 0
    with RegistryClient(registry.host) as client:
        original = legacy_signatures(client, "acme/tamper", digest)[0]
        tampered = original.payload.replace(b"cosign container image signature", b"cosign container image s1gnature")
        # keep the signature, change the signed bytes; the .sig manifest now holds only the tampered layer
        client.delete_manifest("acme/tamper", client.head_manifest("acme/tamper", f"{digest.replace(':', '-')}.sig"))
        push_legacy(client, "acme/tamper", digest, tampered, original.signature_b64)
    result = cli("verify", ref, "--key", good / "cosign.pub", env=signing_env)
    assert result.returncode == 1 and "no given key verifies it" in result.stderr


def test_a_moved_tag_fails(cli, tmp_path, registry, signing_env, keys):
    good, _ = keys
    ref, digest = _published(cli, tmp_path, registry, signing_env, "acme/moved", "1.0.0")
    assert cli("sign", ref, "--key", good / "cosign.key", env=signing_env).returncode == 0
    assert cli("verify", ref, "--key", good / "cosign.pub", env=signing_env).returncode == 0
    # re-publish 1.0.0 with other content: the tag now names an unsigned manifest
    pkg = make_package(tmp_path / "moved-again", "acme/moved", "1.0.0", extra_rule="changed")
    assert cli("publish", pkg, f"{registry.host}/acme/moved", "--force", env=signing_env).returncode == 0
    moved = cli("verify", ref, "--key", good / "cosign.pub", env=signing_env)
    assert moved.returncode == 1 and "no signatures found" in moved.stderr and digest not in moved.stderr
    assert (
        cli("verify", f"{registry.host}/acme/moved@{digest}", "--key", good / "cosign.pub", env=signing_env).returncode
        == 0
    )


# -- checks that do not use our verification code -------------------------------------------


def _openssl_verify(tmp_path, public_key: Path, signature_der: bytes, data: bytes) -> subprocess.CompletedProcess:
    (tmp_path / "sig.der").write_bytes(signature_der)
    (tmp_path / "data.bin").write_bytes(data)
    return subprocess.run(
        [
            "openssl",
            "dgst",
            "-sha256",
            "-verify",
            str(public_key),
            "-signature",
            str(tmp_path / "sig.der"),
            str(tmp_path / "data.bin"),
        ],
        capture_output=True,
        text=True,
    )


def test_openssl_verifies_a_legacy_signature(cli, tmp_path, registry, signing_env, keys):
    if shutil.which("openssl") is None:
        unavailable("openssl is not installed")
    good, other = keys
    ref, digest = _published(cli, tmp_path, registry, signing_env, "acme/openssl")
    assert cli("sign", ref, "--key", good / "cosign.key", "--format", "legacy", env=signing_env).returncode == 0
    with RegistryClient(registry.host) as client:
        signature = legacy_signatures(client, "acme/openssl", digest)[0]
        manifest, _, _ = client.get_manifest("acme/openssl", "1.0.0")
    assert payload_digest(signature.payload) == "sha256:" + hashlib.sha256(manifest).hexdigest() == digest
    der = base64.b64decode(signature.signature_b64)
    ok = _openssl_verify(tmp_path, good / "cosign.pub", der, signature.payload)
    assert ok.returncode == 0 and "Verified OK" in ok.stdout
    assert _openssl_verify(tmp_path, other / "cosign.pub", der, signature.payload).returncode != 0


def test_sigstore_js_and_openssl_verify_a_keyed_bundle(cli, tmp_path, registry, signing_env, keys, fixtures):
    require_sigstore_js()
    good, other = keys
    ref, digest = _published(cli, tmp_path, registry, signing_env, "acme/sigstore-js")
    assert cli("sign", ref, "--key", good / "cosign.key", env=signing_env).returncode == 0
    with RegistryClient(registry.host) as client:
        ((_, raw),) = bundles(client, "acme/sigstore-js", digest)
    (tmp_path / "bundle.json").write_bytes(raw)
    assert sigstore_js_verify(tmp_path / "bundle.json", good / "cosign.pub") == {"verified": True}
    refused = sigstore_js_verify(tmp_path / "bundle.json", other / "cosign.pub")
    assert refused["verified"] is False and "SIGNATURE_ERROR" in refused["error"]
    # and openssl over the DSSE pre-authentication encoding, with the statement naming our digest
    bundle = json.loads(raw)
    envelope = bundle["dsseEnvelope"]
    payload = base64.b64decode(envelope["payload"])
    assert json.loads(payload)["subject"][0]["digest"]["sha256"] == digest.removeprefix("sha256:")
    ok = _openssl_verify(
        tmp_path,
        good / "cosign.pub",
        base64.b64decode(envelope["signatures"][0]["sig"]),
        pae(envelope["payloadType"], payload),
    )
    assert ok.returncode == 0 and "Verified OK" in ok.stdout


def test_keyless_signing_fails_clearly_without_a_usable_identity_or_sigstore(cli, tmp_path, registry, signing_env):
    """Keyless signing needs Fulcio and Rekor, which this machine cannot reach; what it must do here is
    refuse a malformed token before any network use, and report an unreachable Sigstore in one line."""
    ref, _ = _published(cli, tmp_path, registry, signing_env, "acme/keyless")
    malformed = cli("sign", ref, "--keyless", "--identity-token", "not-a-jwt", env=signing_env)
    assert malformed.returncode == 1 and "OIDC identity" in malformed.stderr and "Traceback" not in malformed.stderr

    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    import time

    now = int(time.time())
    claims = {
        "iss": "https://token.actions.githubusercontent.com",
        "sub": "repo:acme/x",
        "aud": "sigstore",
        "exp": now + 600,
        "iat": now,
        "nbf": now,
        "email": "ci@example.com",
        "email_verified": True,
    }
    token = f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2ln"
    offline = cli("sign", ref, "--keyless", "--identity-token", token, env=signing_env)
    assert offline.returncode == 1 and "rigging: error: keyless signing" in offline.stderr
    assert len(offline.stderr.strip().splitlines()) == 1


# -- a classic signature that cosign itself made -----------------------------------------------

CLASSIC = COSIGN / "classic"
CLASSIC_DIGEST = "sha256:634a8f35b5f16dcf4aaa0822adc0b1964bb786fca12f6831de8ddc45e5986a00"


def _place_manifest(storage: Path, repository: str, tag: str, manifest: bytes) -> str:
    """Put an image manifest where distribution's filesystem driver keeps a pushed one.

    The fixture keeps the signed image's manifest but not its config and layer blobs, and
    distribution refuses a manifest PUT whose blobs it lacks (MANIFEST_BLOB_UNKNOWN); serving the
    manifest needs only these files, as for an image whose layers were garbage-collected."""
    hex_digest = hashlib.sha256(manifest).hexdigest()
    root = storage / "docker" / "registry" / "v2"
    blob = root / "blobs" / "sha256" / hex_digest[:2] / hex_digest / "data"
    blob.parent.mkdir(parents=True, exist_ok=True)
    blob.write_bytes(manifest)
    manifests = root / "repositories" / repository / "_manifests"
    for link in (
        manifests / "revisions" / "sha256" / hex_digest / "link",
        manifests / "tags" / tag / "current" / "link",
        manifests / "tags" / tag / "index" / "sha256" / hex_digest / "link",
    ):
        link.parent.mkdir(parents=True, exist_ok=True)
        link.write_text(f"sha256:{hex_digest}")
    return f"sha256:{hex_digest}"


def _push_cosign_signature(host: str, repository: str, digest: str, payload: bytes, signature_b64: str) -> None:
    """The `sha256-<hex>.sig` image `cosign sign --key` writes, built here without rigging's code:
    the simple-signing payload as the one layer, the signature in its annotation."""
    import httpx

    with httpx.Client(base_url=f"http://{host}", timeout=30) as http:
        layer_digest = http_push_blob(http, repository, payload)
        config = json.dumps(
            {
                "architecture": "",
                "created": "0001-01-01T00:00:00Z",
                "history": [{"created": "0001-01-01T00:00:00Z"}],
                "os": "",
                "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
                "config": {},
            },
            separators=(",", ":"),
        ).encode()
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "size": len(config),
                "digest": http_push_blob(http, repository, config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
                    "size": len(payload),
                    "digest": layer_digest,
                    "annotations": {"dev.cosignproject.cosign/signature": signature_b64},
                }
            ],
        }
        put = http.put(
            f"/v2/{repository}/manifests/{digest.replace(':', '-')}.sig",
            content=json.dumps(manifest, separators=(",", ":")).encode(),
            headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
        )
        assert put.status_code == 201, put.text


@pytest.fixture
def cosign_signed(fixtures, own_registry):
    """The fixture's image and its cosign-made signature in a registry: (registry, repository)."""
    registry = own_registry()
    repository = "cosign/signed-single-sample"
    manifest = (CLASSIC / "manifest.json").read_bytes()
    assert _place_manifest(registry.storage, repository, "latest", manifest) == CLASSIC_DIGEST
    with RegistryClient(registry.host) as client:
        data, media_type, digest = client.get_manifest(repository, "latest")
    assert (data, media_type, digest) == (
        manifest,
        "application/vnd.docker.distribution.manifest.v2+json",
        CLASSIC_DIGEST,
    )
    return registry, repository


def test_a_signature_cosign_made_verifies_with_its_key(cli, signing_env, cosign_signed):
    registry, repository = cosign_signed
    payload = (CLASSIC / "payload.json").read_bytes()
    _push_cosign_signature(registry.host, repository, CLASSIC_DIGEST, payload, (CLASSIC / "signature.b64").read_text())
    # The payload names the image as 192.168.64.2:5000/cosign-signed-single-sample, not where it is
    # now: cosign verify checks only the digest claim (SimpleClaimVerifier), and so does rigging.
    assert json.loads(payload)["critical"]["identity"]["docker-reference"] != f"{registry.host}/{repository}"
    for ref in (f"{registry.host}/{repository}:latest", f"{registry.host}/{repository}@{CLASSIC_DIGEST}"):
        result = cli("verify", ref, "--key", CLASSIC / "cosign.pub", "--json", env=signing_env)
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        assert report["verified"] is True and report["digest"] == CLASSIC_DIGEST and report["problems"] == []
        ((signature,),) = [report["signatures"]]
        assert signature["format"] == "legacy" and signature["signer"].endswith("(cosign.pub)")
        assert signature["stored"] == "sha256:" + hashlib.sha256(payload).hexdigest()
    human = cli("verify", f"{registry.host}/{repository}:latest", "--key", CLASSIC / "cosign.pub", env=signing_env)
    assert human.returncode == 0 and f"verified {CLASSIC_DIGEST}: signed by key sha256:" in human.stdout


def test_a_signature_cosign_made_is_refused_with_another_key(cli, signing_env, cosign_signed):
    registry, repository = cosign_signed
    payload = (CLASSIC / "payload.json").read_bytes()
    _push_cosign_signature(registry.host, repository, CLASSIC_DIGEST, payload, (CLASSIC / "signature.b64").read_text())
    result = cli("verify", f"{registry.host}/{repository}:latest", "--key", CLASSIC / "cosign2.pub", env=signing_env)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("rigging: error: ") and CLASSIC_DIGEST in line
    assert "no valid signature" in line and "no given key verifies it" in line


@pytest.mark.parametrize(
    ("old", "new", "why"),
    [
        # a byte of the docker-reference: the digest claim still matches, the signature does not
        (b"192.168.64.2:5000", b"192.168.64.3:5000", "no given key verifies it"),
        # a byte of the signed digest: the claim no longer names this image
        (b"sha256:634a8f35", b"sha256:634a8f36", "payload names sha256:634a8f36"),
    ],
)
def test_a_signature_cosign_made_over_a_changed_payload_is_refused(cli, signing_env, cosign_signed, old, new, why):
    registry, repository = cosign_signed
    payload = (CLASSIC / "payload.json").read_bytes()
    assert payload.count(old) == 1
    changed = payload.replace(old, new)
    assert len(changed) == len(payload) and sum(a != b for a, b in zip(changed, payload, strict=True)) == 1
    _push_cosign_signature(registry.host, repository, CLASSIC_DIGEST, changed, (CLASSIC / "signature.b64").read_text())
    result = cli("verify", f"{registry.host}/{repository}:latest", "--key", CLASSIC / "cosign.pub", env=signing_env)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert "no valid signature" in line and why in line, line
