"""Signing keys for the registry token service: a CA the registry trusts, and short-lived leaves.

The registry's `rootcertbundle` holds only the CA certificate (`ca.pem`). Tokens are signed with a
leaf key whose certificate the CA issued and which travels in each token's `x5c` header, so the
registry verifies the chain and never needs to know which leaf is current: `keys rotate` adds a
new leaf, the token service picks it up within a second, and the registry keeps accepting both
the new tokens and the old leaf's tokens (until they expire) without any change or restart.

    DIR/ca.pem             the CA certificate: give it to the registry as rootcertbundle
    DIR/ca-key.pem         the CA's private key (0600): only `keys rotate` reads it
    DIR/leaf-<time>.pem    a leaf's private key and certificate (0600); the newest one signs

Each file is written under a temporary name and renamed into place, so a server that looks in
the folder while `rotate` runs sees a leaf whole or not at all.
"""

from __future__ import annotations

import base64
import datetime
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

CA_CERT = "ca.pem"
CA_KEY = "ca-key.pem"
LEAF_PREFIX = "leaf-"
CA_DAYS = 3650
LEAF_DAYS = 30  # rotate well before: `keys rotate` from cron weekly leaves weeks of margin
# A leaf's certificate starts this long before it is made, for registries whose clock runs behind.
CLOCK_SKEW = datetime.timedelta(minutes=5)
RESCAN_SECONDS = 1.0  # how often a server looks for a newer leaf (the pick-up delay after rotate)


class KeyFolderError(RuntimeError):
    """The key folder is missing, incomplete or not what `keys init` made."""


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _key_usage(*, certificates: bool) -> x509.KeyUsage:
    """A CA's key signs certificates only; a leaf's signs tokens only."""
    flags = dict.fromkeys(
        (
            "content_commitment",
            "key_encipherment",
            "data_encipherment",
            "key_agreement",
            "encipher_only",
            "decipher_only",
        ),
        False,
    )
    return x509.KeyUsage(digital_signature=not certificates, key_cert_sign=certificates, crl_sign=certificates, **flags)


def _certificate(
    subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePrivateKey, days: int, *, ca: bool
) -> x509.CertificateBuilder:
    """A certificate for `key`, valid from a little before now (for registries whose clock runs
    behind) for `days`. The CA's path length is 0: it may sign leaves, never another CA."""
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
        .add_extension(_key_usage(certificates=ca), critical=True)
    )


def _write_private(path: Path, data: bytes) -> None:
    """Write `data` to `path` readable only by us, atomically."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    pkcs8 = serialization.PrivateFormat.PKCS8
    return key.private_bytes(serialization.Encoding.PEM, pkcs8, serialization.NoEncryption())


def init(folder: Path, issuer: str = "rigging-indexer") -> Path:
    """Make the CA and the first leaf in `folder`; the CA certificate's path. Refuses to replace
    an existing CA: registries trust it, and a new one would lock every one of them out."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    if (folder / CA_CERT).exists():
        raise KeyFolderError(f"{folder / CA_CERT} exists already; `rigging-indexer keys rotate {folder}` adds a leaf")
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(f"{issuer} token CA")
    cert = (
        _certificate(name, name, key, CA_DAYS, ca=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_private(folder / CA_KEY, _key_pem(key))
    (folder / CA_CERT).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    rotate(folder)
    return folder / CA_CERT


def rotate(folder: Path, days: int = LEAF_DAYS) -> Path:
    """Add a new leaf signed by the CA (servers switch to it within a second) and delete leaves
    whose certificates have expired; the new leaf's path."""
    try:
        ca_key = serialization.load_pem_private_key((folder / CA_KEY).read_bytes(), password=None)
        ca_cert = x509.load_pem_x509_certificate((folder / CA_CERT).read_bytes())
    except FileNotFoundError:
        raise KeyFolderError(f"{folder} has no CA; run `rigging-indexer keys init {folder}` first") from None
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise KeyFolderError(f"{folder / CA_KEY} is not an EC key")
    if days < 1:
        raise KeyFolderError("a signing key must be valid for a day at least")
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        _certificate(_name(f"token signer {now:%Y-%m-%dT%H:%M:%SZ}"), ca_cert.subject, key, days, ca=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    # the name sorts by time (microseconds, so two rotations in one second stay ordered)
    path = folder / f"{LEAF_PREFIX}{now:%Y%m%dT%H%M%S%fZ}.pem"
    _write_private(path, _key_pem(key) + cert.public_bytes(serialization.Encoding.PEM))
    for old in _leaf_files(folder):
        if old != path and _expired(old, now):
            old.unlink(missing_ok=True)
    return path


def _leaf_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob(f"{LEAF_PREFIX}*.pem") if p.is_file())


def _expired(path: Path, now: datetime.datetime) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError):
        return False  # not ours to judge: leave it
    return cert.not_valid_after_utc <= now


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass(frozen=True)
class Leaf:
    name: str
    key: ec.EllipticCurvePrivateKey
    not_after: float  # epoch seconds
    x5c: str  # the certificate, base64 DER, as the `x5c` header carries it

    def sign(self, signing_input: bytes) -> str:
        """The JWS ES256 signature of `signing_input`: r and s, 32 bytes each (not DER)."""
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        r, s = decode_dss_signature(self.key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        return _b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def load_leaf(path: Path, ca: x509.Certificate) -> Leaf:
    """The leaf in `path`, checked to be issued by `ca`: a leaf from another folder would sign
    tokens every registry refuses, so it is an error here rather than a 401 there."""
    data = path.read_bytes()
    key = serialization.load_pem_private_key(data, password=None)
    cert = x509.load_pem_x509_certificate(data[data.index(b"-----BEGIN CERTIFICATE-----") :])
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise KeyFolderError(f"{path.name} does not hold a P-256 key")
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature) as exc:
        raise KeyFolderError(f"{path.name} was not issued by {CA_CERT} in its folder") from exc
    return Leaf(
        name=path.name,
        key=key,
        not_after=cert.not_valid_after_utc.timestamp(),
        x5c=base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode(),
    )


class SigningKeys:
    """The newest leaf in a key folder, looked for again at most once a second (so `keys rotate`
    needs no restart), and read from disk only when a newer one appears."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()
        self._leaf: Leaf | None = None
        self._checked = -RESCAN_SECONDS
        self._ca: x509.Certificate | None = None

    def current(self) -> Leaf:
        leaf = self._leaf
        if leaf is not None and time.monotonic() - self._checked < RESCAN_SECONDS:
            return leaf
        with self._lock:
            if self._leaf is None or time.monotonic() - self._checked >= RESCAN_SECONDS:
                self._rescan()
            assert self._leaf is not None
            return self._leaf

    def _rescan(self) -> None:
        if self._ca is None:
            try:
                self._ca = x509.load_pem_x509_certificate((self.folder / CA_CERT).read_bytes())
            except FileNotFoundError:
                raise KeyFolderError(f"no {CA_CERT} in {self.folder}; run `rigging-indexer keys init`") from None
        names = [p.name for p in _leaf_files(self.folder)]
        if not names:
            raise KeyFolderError(f"no signing key in {self.folder}; run `rigging-indexer keys rotate {self.folder}`")
        if self._leaf is None or names[-1] != self._leaf.name:
            self._leaf = load_leaf(self.folder / names[-1], self._ca)
        self._checked = time.monotonic()


def main(action: str, folder: str, days: int = LEAF_DAYS) -> int:
    """`rigging-indexer keys init|rotate DIR`."""
    import sys

    path = Path(folder)
    try:
        if action == "init":
            ca = init(path)
            print(f"made a token CA and a signing key in {path}; give the registry `rootcertbundle: {ca.resolve()}`")
        else:
            leaf = rotate(path, days)
            print(f"added signing key {leaf.name}; token services switch to it within a second")
    except (KeyFolderError, OSError) as exc:
        print(f"rigging-indexer: error: {exc}", file=sys.stderr)
        return 1
    return 0
