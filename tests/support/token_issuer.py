"""A test token service for distribution's `auth: token`: it signs ES256 JWTs with a key whose
self-signed certificate the registry trusts (`rootcertbundle`), carried in the `x5c` header.

Users and refresh tokens are fixed by the test; every request is counted by scope so tests can
assert that tokens are cached.
"""

from __future__ import annotations

import base64
import datetime
import json
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

SERVICE = "rigging-test-registry"
ISSUER = "rigging-test-issuer"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenIssuer:
    def __init__(
        self, workdir: Path, users: dict[str, str], refresh_tokens: dict[str, str] | None = None, lifetime: int = 300
    ) -> None:
        self.users = users
        self.refresh_tokens = refresh_tokens or {}
        self.lifetime = lifetime
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ISSUER)])
        now = datetime.datetime.now(datetime.UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.cert_path = workdir / "token-issuer.pem"
        self.cert_path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        self.requests: Counter[str] = Counter()
        self.calls = 0  # token requests, however many scopes each asked for
        self.denied = 0
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                query = parse_qs(urlsplit(self.path).query)
                user = issuer._basic_user(self.headers.get("Authorization"))
                issuer._answer(self, user, query.get("scope", []), "token")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode())
                user = None
                if form.get("grant_type") == ["refresh_token"]:
                    user = issuer.refresh_tokens.get(form.get("refresh_token", [""])[0])
                elif form.get("grant_type") == ["password"]:
                    name, password = form.get("username", [""])[0], form.get("password", [""])[0]
                    user = name if issuer.users.get(name) == password else None
                scopes = form.get("scope", [""])[0].split(" ") if form.get("scope") else []
                issuer._answer(self, user, scopes, "access_token", refused_anonymous=True)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/token"

    def registry_config(self) -> dict:
        return {
            "auth": {
                "token": {
                    "realm": self.realm,
                    "service": SERVICE,
                    "issuer": ISSUER,
                    "rootcertbundle": str(self.cert_path),
                }
            }
        }

    def start(self) -> TokenIssuer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _basic_user(self, header: str | None) -> str | None:
        if not header or not header.startswith("Basic "):
            return None
        name, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return name if self.users.get(name) == password else "!denied"

    def _answer(
        self,
        handler: BaseHTTPRequestHandler,
        user: str | None,
        scopes: list[str],
        field: str,
        refused_anonymous: bool = False,
    ) -> None:
        self.calls += 1
        for scope in scopes or ["(none)"]:
            self.requests[scope] += 1
        if user == "!denied" or (user is None and refused_anonymous):
            self.denied += 1
            handler.send_response(401)
            handler.end_headers()
            return
        access = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            if kind == "repository" and user is not None:  # signed-in users may do anything
                access.append({"type": "repository", "name": name, "actions": actions.split(",")})
        body = json.dumps({field: self.token(user or "", access), "expires_in": self.lifetime}).encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def token(self, subject: str, access: list[dict]) -> str:
        now = int(time.time())
        header = {
            "typ": "JWT",
            "alg": "ES256",
            "x5c": [base64.b64encode(self.cert.public_bytes(serialization.Encoding.DER)).decode()],
        }
        claims = {
            "iss": ISSUER,
            "sub": subject,
            "aud": SERVICE,
            "exp": now + self.lifetime,
            "nbf": now - 5,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        r, s = decode_dss_signature(self.key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
        return signing_input + "." + _b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
