"""Sign-in and trusted-publishing settings: the `auth` object of the indexer's JSON config file.

    {"auth": {
        "public_url": "https://index.example.org",        # where browsers reach us; callbacks hang off it
        "session_secret": "env:RIGGING_SESSION_SECRET",   # signs session cookies
        "previous_session_secrets": ["file:/run/secrets/old-session"],  # still accepted (rotation)
        "session_hours": 8,
        "providers": [
            {"id": "google", "issuer": "https://accounts.google.com",
             "client_id": "…", "client_secret": "file:/run/secrets/google"},
            {"id": "github", "type": "github", "client_id": "…", "client_secret": "env:GITHUB_SECRET"}
        ],
        "admins": ["alice", {"issuer": "https://accounts.google.com", "subject": "1234"}],
        "trusted_publishing": {"audience": "rigging",
                               "issuers": ["https://token.actions.githubusercontent.com"]}
    }}

Secrets are never written in the file itself, only referred to (`env:VAR` or `file:PATH`), so the
file, the process's arguments and the settings handed to worker processes hold no secret.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

GITHUB = "https://github.com"  # the issuer GitHub accounts are recorded under: (issuer, id) is who they are
MAX_CI_TOKEN_SECONDS = 15 * 60
PROVIDER_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


class AuthConfigError(ValueError):
    """The auth settings are wrong; the message says which one and never holds a secret."""


def resolve_secret(reference: str, what: str) -> str:
    """The secret `reference` names: `env:VAR` or `file:PATH` (trailing newline dropped)."""
    scheme, _, target = reference.partition(":")
    if scheme == "env" and target:
        value = os.environ.get(target)
        if not value:
            raise AuthConfigError(f"{what}: the environment variable {target} is not set")
        return value
    if scheme == "file" and target:
        try:
            return Path(target).read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise AuthConfigError(f"{what}: cannot read {target}: {exc.strerror}") from None
    # the value itself is not echoed: a secret written inline would land in the log
    raise AuthConfigError(f"{what} must be a reference, env:VARIABLE or file:PATH, never the secret itself")


def is_loopback_http(url: str) -> bool:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return parts.scheme == "http" and (host in ("localhost", "::1") or host.startswith("127."))


@dataclass(frozen=True)
class ProviderSettings:
    """One identity provider. `oidc`: discovery from `issuer`. `github`: GitHub's OAuth apps, whose
    endpoints default to github.com and may point elsewhere (GitHub Enterprise, tests)."""

    id: str
    type: str
    client_id: str
    client_secret: str = field(repr=False)
    issuer: str
    name: str
    scope: str
    authorize_url: str | None = None
    token_url: str | None = None
    user_url: str | None = None

    @classmethod
    def from_config(cls, raw: Mapping[str, Any]) -> ProviderSettings:
        ident = str(raw.get("id", ""))
        if not PROVIDER_ID.match(ident):
            raise AuthConfigError(f"provider id {ident!r} must be lowercase letters, digits, '-' or '_' (≤ 32)")
        kind = raw.get("type", "oidc")
        if kind not in ("oidc", "github"):
            raise AuthConfigError(f"provider {ident}: type must be 'oidc' or 'github', not {kind!r}")
        if not raw.get("client_id") or not raw.get("client_secret"):
            raise AuthConfigError(f"provider {ident}: client_id and client_secret are required")
        secret = resolve_secret(str(raw["client_secret"]), f"provider {ident}: client_secret")
        if kind == "github":
            return cls(
                id=ident,
                type=kind,
                client_id=str(raw["client_id"]),
                client_secret=secret,
                issuer=str(raw.get("issuer", GITHUB)),
                name=str(raw.get("name", "GitHub")),
                scope=str(raw.get("scope", "read:user user:email")),
                authorize_url=str(raw.get("authorize_url", "https://github.com/login/oauth/authorize")),
                token_url=str(raw.get("token_url", "https://github.com/login/oauth/access_token")),
                user_url=str(raw.get("user_url", "https://api.github.com/user")),
            )
        if not raw.get("issuer"):
            raise AuthConfigError(f"provider {ident}: issuer is required (its discovery document names the rest)")
        return cls(
            id=ident,
            type=kind,
            client_id=str(raw["client_id"]),
            client_secret=secret,
            issuer=str(raw["issuer"]).rstrip("/"),
            name=str(raw.get("name", ident)),
            scope=str(raw.get("scope", "openid email profile")),
        )


@dataclass(frozen=True)
class AuthSettings:
    public_url: str = ""  # required with providers: a default would send callbacks to the wrong place
    session_secret: str | None = field(default=None, repr=False)
    # secrets that signed sessions before the current one: still accepted, never used to sign,
    # so rotating the secret signs nobody out (drop them once session_hours have passed)
    previous_session_secrets: tuple[str, ...] = field(default=(), repr=False)
    session_seconds: int = 8 * 3600  # a session ends this long after sign-in, however busy
    providers: tuple[ProviderSettings, ...] = ()
    admin_usernames: frozenset[str] = frozenset()
    admin_identities: frozenset[tuple[str, str]] = frozenset()  # (issuer, subject)
    after_sign_in: str = "/"
    # trusted publishing: which workload issuers may be named by publishers (their discovery
    # documents are fetched, so an owner cannot make the service fetch any URL they like)
    audience: str = "rigging"
    trusted_issuers: tuple[str, ...] = ("https://token.actions.githubusercontent.com",)
    ci_token_seconds: int = MAX_CI_TOKEN_SECONDS
    leeway_seconds: int = 30  # clock skew allowed on a workload token's exp and iat
    # the registry token service's own settings (rigging_indexer.auth.registry_token reads them)
    registry_token: Mapping[str, Any] = field(default_factory=dict)

    @property
    def sign_in(self) -> bool:
        return bool(self.providers)

    @property
    def secure_cookies(self) -> bool:
        """Secure everywhere but plain http on this machine, where a browser would drop them."""
        return not is_loopback_http(self.public_url)

    def provider(self, ident: str) -> ProviderSettings | None:
        return next((p for p in self.providers if p.id == ident), None)

    def callback_url(self, provider: ProviderSettings) -> str:
        return f"{self.public_url}/auth/callback/{provider.id}"

    def is_admin(self, issuer: str, subject: str, username: str) -> bool:
        return (issuer, subject) in self.admin_identities or username in self.admin_usernames

    @classmethod
    def load(cls, raw: AuthSettings | Mapping[str, Any] | None) -> AuthSettings:
        """From the config file's `auth` object (None: no sign-in, tokens only)."""
        if isinstance(raw, AuthSettings):
            return raw
        raw = raw or {}
        providers = tuple(ProviderSettings.from_config(p) for p in raw.get("providers") or [])
        if len({p.id for p in providers}) != len(providers):
            raise AuthConfigError("two providers share an id")
        secret = raw.get("session_secret")
        if providers and not secret:
            raise AuthConfigError("session_secret is required when sign-in providers are configured")
        public_url = str(raw.get("public_url") or "").rstrip("/")
        if providers and urlsplit(public_url).scheme not in ("http", "https"):
            raise AuthConfigError("public_url (where browsers reach this service, https://…) is required for sign-in")
        usernames: set[str] = set()
        identities: set[tuple[str, str]] = set()
        for entry in raw.get("admins") or []:
            if isinstance(entry, str):
                usernames.add(entry)
            elif isinstance(entry, Mapping) and entry.get("issuer") and entry.get("subject"):
                identities.add((str(entry["issuer"]).rstrip("/"), str(entry["subject"])))
            else:
                raise AuthConfigError("an admin is a username or {issuer, subject}")
        publishing = raw.get("trusted_publishing") or {}
        ci_seconds = int(publishing.get("token_seconds", MAX_CI_TOKEN_SECONDS))
        if not 0 < ci_seconds <= MAX_CI_TOKEN_SECONDS:
            raise AuthConfigError(f"trusted_publishing.token_seconds must be 1…{MAX_CI_TOKEN_SECONDS}")
        after = str(raw.get("after_sign_in", "/"))
        if not after.startswith("/") or after.startswith("//"):
            raise AuthConfigError("after_sign_in must be a path on this site")
        defaults = cls()
        return cls(
            public_url=public_url,
            session_secret=resolve_secret(str(secret), "session_secret") if secret else None,
            previous_session_secrets=tuple(
                resolve_secret(str(old), "previous_session_secrets")
                for old in raw.get("previous_session_secrets") or []
            ),
            session_seconds=int(float(raw.get("session_hours", 8)) * 3600),
            providers=providers,
            admin_usernames=frozenset(usernames),
            admin_identities=frozenset(identities),
            after_sign_in=after,
            audience=str(publishing.get("audience", defaults.audience)),
            trusted_issuers=tuple(str(i).rstrip("/") for i in publishing.get("issuers", defaults.trusted_issuers)),
            ci_token_seconds=ci_seconds,
            leeway_seconds=int(publishing.get("leeway_seconds", defaults.leeway_seconds)),
            registry_token=dict(raw.get("registry_token") or {}),
        )
