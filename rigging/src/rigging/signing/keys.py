"""cosign's key files: `cosign.key` (PEM `ENCRYPTED SIGSTORE PRIVATE KEY`, or the older
`ENCRYPTED COSIGN PRIVATE KEY` label) holding JSON with scrypt parameters, a nacl/secretbox nonce
and the ciphertext of a PKCS#8 ECDSA P-256 key; `cosign.pub` is PKIX PEM.

As cosign (go-securesystemslib `encrypted.Decrypt`), only three scrypt parameter sets are
accepted, so that a crafted file cannot make us run an enormous scrypt.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from rigging.errors import RiggingError

LABELS = ("ENCRYPTED SIGSTORE PRIVATE KEY", "ENCRYPTED COSIGN PRIVATE KEY")
WRITE_LABEL = LABELS[0]
ALLOWED_SCRYPT = {(32768, 8, 1), (65536, 8, 1), (131072, 8, 1)}
WRITE_SCRYPT = (65536, 8, 1)


class KeyError_(RiggingError):
    pass


def _pem_body(text: str, where: str) -> tuple[str, bytes]:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if len(lines) < 3 or not lines[0].startswith("-----BEGIN ") or not lines[-1].startswith("-----END "):
        raise KeyError_(f"{where}: not a PEM file")
    label = lines[0][len("-----BEGIN ") : -len("-----")]
    try:
        return label, base64.b64decode("".join(lines[1:-1]), validate=True)
    except ValueError:
        raise KeyError_(f"{where}: PEM body is not base64") from None


def _scrypt(password: bytes, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password, salt=salt, n=n, r=r, p=p, dklen=32, maxmem=256 * 1024 * 1024)


def _is_pkcs8(der: bytes) -> bool:
    """PKCS#8 is SEQUENCE { INTEGER 0, AlgorithmIdentifier SEQUENCE, ... }; SEC1 starts INTEGER 1."""
    if len(der) < 8 or der[0] != 0x30:
        return False
    offset = 2 if der[1] < 0x80 else 2 + (der[1] & 0x7F)
    return der[offset : offset + 3] == b"\x02\x01\x00" and der[offset + 3 : offset + 4] == b"\x30"


def decrypt_private_key(pem: bytes, password: bytes, where: str = "key") -> ec.EllipticCurvePrivateKey:
    import nacl.exceptions
    import nacl.secret

    label, body = _pem_body(pem.decode("utf-8", "replace"), where)
    if label not in LABELS:
        raise KeyError_(f"{where}: PEM label {label!r} is not a cosign private key ({LABELS[0]})")
    try:
        envelope = json.loads(body)
        kdf, cipher = envelope["kdf"], envelope["cipher"]
        params = kdf["params"]
        triple = (int(params["N"]), int(params["r"]), int(params["p"]))
        if kdf["name"] != "scrypt" or cipher["name"] != "nacl/secretbox":
            raise KeyError_(f"{where}: unsupported kdf/cipher {kdf['name']}/{cipher['name']}")
        salt = base64.b64decode(kdf["salt"])
        nonce = base64.b64decode(cipher["nonce"])
        ciphertext = base64.b64decode(envelope["ciphertext"])
    except (ValueError, KeyError, TypeError):
        raise KeyError_(f"{where}: not a cosign encrypted key (malformed JSON envelope)") from None
    if triple not in ALLOWED_SCRYPT:
        raise KeyError_(f"{where}: unsupported scrypt parameters N={triple[0]} r={triple[1]} p={triple[2]}")
    try:
        der = nacl.secret.SecretBox(_scrypt(password, salt, *triple)).decrypt(ciphertext, nonce)
    except nacl.exceptions.CryptoError:
        raise KeyError_(f"{where}: wrong password (set COSIGN_PASSWORD)") from None
    if not _is_pkcs8(der):
        raise KeyError_(f"{where}: the decrypted key is not PKCS#8 (a SEC1 key? cosign refuses those too)")
    try:
        key = serialization.load_der_private_key(der, password=None)
    except ValueError:
        raise KeyError_(f"{where}: the decrypted key cannot be parsed") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise KeyError_(f"{where}: only ECDSA P-256 keys are supported")
    return key


def encrypt_private_key(key: ec.EllipticCurvePrivateKey, password: bytes) -> bytes:
    import nacl.secret
    import nacl.utils

    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    salt = os.urandom(32)
    nonce = nacl.utils.random(nacl.secret.SecretBox.NONCE_SIZE)
    n, r, p = WRITE_SCRYPT
    box = nacl.secret.SecretBox(_scrypt(password, salt, n, r, p))
    ciphertext = box.encrypt(der, nonce).ciphertext
    envelope = {
        "kdf": {"name": "scrypt", "params": {"N": n, "r": r, "p": p}, "salt": base64.b64encode(salt).decode()},
        "cipher": {"name": "nacl/secretbox", "nonce": base64.b64encode(nonce).decode()},
        "ciphertext": base64.b64encode(ciphertext).decode(),
    }
    body = base64.encodebytes(json.dumps(envelope, separators=(",", ":")).encode()).decode()
    return f"-----BEGIN {WRITE_LABEL}-----\n{body}-----END {WRITE_LABEL}-----\n".encode()


def public_pem(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_private_key(path: Path, password: bytes) -> ec.EllipticCurvePrivateKey:
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise KeyError_(f"{path}: cannot read the key ({exc.strerror})") from None
    return decrypt_private_key(pem, password, str(path))


def load_public_key(path: Path) -> ec.EllipticCurvePublicKey:
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except OSError as exc:
        raise KeyError_(f"{path}: cannot read the public key ({exc.strerror})") from None
    except ValueError:
        raise KeyError_(f"{path}: not a PEM public key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise KeyError_(f"{path}: only ECDSA public keys are supported")
    return key


def key_id(key: ec.EllipticCurvePublicKey) -> str:
    """sha256 of the DER public key, as the bundle's `publicKey.hint`."""
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def generate_key_pair(folder: Path, password: bytes, force: bool = False) -> tuple[Path, Path]:
    private, public = folder / "cosign.key", folder / "cosign.pub"
    for path in (private, public):
        if path.exists() and not force:
            raise KeyError_(f"{path}: exists; refusing to overwrite a key (move it aside first)")
    key = ec.generate_private_key(ec.SECP256R1())
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(encrypt_private_key(key, password))
    public.write_bytes(public_pem(key.public_key()))
    return private, public
