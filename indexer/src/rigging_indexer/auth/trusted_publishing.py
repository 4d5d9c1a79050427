"""Trusted publishing, as PyPI has it: a CI workload trades its own OIDC token (GitHub Actions'
ambient token, say) for a short-lived publish token, so no long-lived secret sits in CI.

    POST   /api/v1/namespaces/{ns}/trusted-publishers       {issuer, claims}   (an owner of ns)
    GET    /api/v1/namespaces/{ns}/trusted-publishers                          (an owner of ns)
    DELETE /api/v1/namespaces/{ns}/trusted-publishers/{id}                     (an owner of ns)
    POST   /api/v1/trusted-publishing/exchange              {token, namespace?}

The exchange verifies the workload token's signature with its issuer's published keys (found by
discovery, cached), its audience (`auth.trusted_publishing.audience`, "rigging" by default), its
expiry and issue time; its issuer must be one the settings trust and some publisher names, and
every claim the publisher lists must match exactly. The answer is a token of the `read` and
`publish` scopes for the publisher's namespace, living at most 15 minutes, shown once. A workload
token buys one such token: its `jti` is kept in the name of the token it bought, and a second
exchange of it is refused.

Only issuers listed in the settings are ever fetched from: an owner naming a publisher cannot
make the service fetch a URL of their choosing. A refusal is one line and never repeats the token.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx2
import jwt
from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rigging_indexer.access import Viewer
from rigging_indexer.auth import audit
from rigging_indexer.auth.settings import AuthSettings
from rigging_indexer.auth.tokens import caller, csrf_checked, issue
from rigging_indexer.models import Namespace, TrustedPublisher

# asymmetric algorithms only: "none" and HMAC (whose key would be the public JWK) never verify
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
CHECKED_CLAIMS = frozenset({"iss", "aud", "exp", "iat", "nbf", "jti"})  # verified by us, not by a publisher's list
KEYS_SECONDS = 600  # how long an issuer's discovery document and keys are trusted before a refetch
MAX_CLAIMS = 20


class RefusedToken(Exception):
    """The workload token does not buy a publish token; `status` and the one-line message say why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class IssuerKeys:
    """Each trusted issuer's signing keys: discovery document -> jwks_uri -> keys, cached; a key
    id not yet seen refetches the set (at most every 30 s, PyJWKClient's cooldown), so an
    issuer's key rotation is picked up without a restart."""

    def __init__(self, timeout: float = 5.0) -> None:
        self.timeout = timeout
        self._clients: dict[str, tuple[float, jwt.PyJWKClient]] = {}
        self._lock = threading.Lock()

    def signing_key(self, issuer: str, token: str) -> jwt.PyJWK:
        try:
            return self._client(issuer).get_signing_key_from_jwt(token)
        except jwt.PyJWKClientConnectionError:
            raise RefusedToken(503, "the token's issuer cannot be reached to fetch its keys; try again") from None
        except (jwt.PyJWKClientError, jwt.InvalidTokenError):
            raise RefusedToken(401, "the token is not signed with a key its issuer publishes") from None

    def _client(self, issuer: str) -> jwt.PyJWKClient:
        with self._lock:
            cached = self._clients.get(issuer)
            if cached is not None and time.monotonic() - cached[0] < KEYS_SECONDS:
                return cached[1]
        try:
            response = httpx2.get(f"{issuer}/.well-known/openid-configuration", timeout=self.timeout)
            response.raise_for_status()
            document = response.json()
        except (httpx2.HTTPError, ValueError):
            raise RefusedToken(
                503, "the token's issuer cannot be reached for its discovery document; try again"
            ) from None
        if str(document.get("issuer", "")).rstrip("/") != issuer or not document.get("jwks_uri"):
            raise RefusedToken(503, "the token's issuer publishes a discovery document for another issuer")
        client = jwt.PyJWKClient(document["jwks_uri"], lifespan=KEYS_SECONDS, timeout=self.timeout)
        with self._lock:
            self._clients[issuer] = (time.monotonic(), client)
        return client


def verify(auth: AuthSettings, keys: IssuerKeys, token: str) -> dict[str, Any]:
    """The claims of `token` once signature, issuer, audience and times all hold."""
    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        raise RefusedToken(401, "the token is not a JWT") from None
    issuer = unverified.get("iss")
    if not isinstance(issuer, str) or issuer.rstrip("/") not in auth.trusted_issuers:
        raise RefusedToken(401, "the token's issuer is not one this index trusts for publishing")
    algorithm = header.get("alg")
    if algorithm not in ALGORITHMS:
        raise RefusedToken(401, "the token's signature algorithm is not accepted")
    key = keys.signing_key(issuer.rstrip("/"), token)
    if key.algorithm_name != algorithm:
        # the key's own algorithm decides: a header naming another one is an algorithm-confusion attempt
        raise RefusedToken(401, "the token's signature algorithm is not the one of its issuer's key")
    try:
        return jwt.decode(
            token,
            key=key.key,
            algorithms=[algorithm],
            audience=auth.audience,
            issuer=issuer,
            leeway=auth.leeway_seconds,
            options={"require": ["iss", "aud", "exp", "iat"], "verify_iat": True},
        )
    except jwt.ExpiredSignatureError:
        raise RefusedToken(401, "the token has expired") from None
    except jwt.InvalidAudienceError:
        raise RefusedToken(401, f"the token's audience must be {auth.audience!r}") from None
    except jwt.ImmatureSignatureError:
        raise RefusedToken(401, "the token is not valid yet (issued in the future)") from None
    except jwt.InvalidSignatureError:
        raise RefusedToken(401, "the token's signature does not verify") from None
    except jwt.MissingRequiredClaimError as exc:
        raise RefusedToken(401, f"the token has no {exc.claim!r} claim") from None
    except (jwt.PyJWTError, TypeError, ValueError):  # whatever else a crafted token may raise
        raise RefusedToken(401, "the token is invalid") from None


def matches(publisher: TrustedPublisher, claims: dict[str, Any]) -> bool:
    wanted = publisher.claims or {}
    return bool(wanted) and all(isinstance(claims.get(k), str) and claims[k] == v for k, v in wanted.items())


class NewPublisher(BaseModel):
    issuer: str = Field(min_length=1, max_length=500)
    claims: dict[str, str] = Field(
        description='claims the workload token must carry, e.g. {"repository": "acme/skills"}'
    )


class Exchange(BaseModel):
    token: str = Field(min_length=1, max_length=16_384)
    namespace: str | None = Field(None, description="needed only when the token matches publishers of several")


def describe(publisher: TrustedPublisher, namespace: str) -> dict[str, Any]:
    return {
        "id": publisher.id,
        "namespace": namespace,
        "issuer": publisher.issuer,
        "claims": publisher.claims,
        "created": publisher.created,
    }


def router(settings: Any) -> APIRouter:
    auth: AuthSettings = settings.auth
    keys = IssuerKeys()
    routes = APIRouter(prefix="/api/v1", tags=["trusted publishing"])

    def session() -> Iterator[Session]:
        with settings.sessions() as s:
            yield s

    def owned(request: Request, s: Session, name: str, *, change: bool) -> tuple[Viewer, Namespace]:
        viewer = caller(request, change=change)
        namespace = s.scalar(select(Namespace).where(Namespace.name == name))
        if namespace is None or not viewer.may_read(name, namespace.private):
            raise HTTPException(404, f"namespace {name} does not exist")  # private ones too, to outsiders
        if viewer.roles.get(name) != "owner":
            raise HTTPException(403, f"only an owner of {name} manages its trusted publishers")
        return viewer, namespace

    @routes.post("/namespaces/{name}/trusted-publishers", status_code=201, dependencies=[Depends(csrf_checked)])
    def add(name: str, body: NewPublisher, request: Request, s: Session = Depends(session)) -> dict[str, Any]:
        """Let CI workloads whose OIDC tokens come from `issuer` and carry all of `claims` publish here."""
        viewer, namespace = owned(request, s, name, change=True)
        issuer = body.issuer.rstrip("/")
        if issuer not in auth.trusted_issuers:
            trusted = ", ".join(auth.trusted_issuers) or "none"
            raise HTTPException(422, f"this index trusts workload tokens from {trusted} only")
        claims = dict(body.claims)
        if not claims or len(claims) > MAX_CLAIMS:
            # no claims would let every workload of the issuer (all of GitHub Actions) publish here
            raise HTTPException(422, f"name 1 to {MAX_CLAIMS} claims the workload's token must carry")
        reserved = sorted(CHECKED_CLAIMS & set(claims))
        if reserved or any(len(k) > 100 or len(v) > 500 or not v for k, v in claims.items()):
            raise HTTPException(422, f"claims must be non-empty, short, and not {', '.join(sorted(CHECKED_CLAIMS))}")
        publisher = TrustedPublisher(namespace_id=namespace.id, issuer=issuer, claims=claims, created_by=viewer.user_id)
        s.add(publisher)
        s.commit()
        return describe(publisher, name)

    @routes.get("/namespaces/{name}/trusted-publishers")
    def list_publishers(name: str, request: Request, s: Session = Depends(session)) -> dict[str, Any]:
        _, namespace = owned(request, s, name, change=False)
        rows = s.scalars(select(TrustedPublisher).where(TrustedPublisher.namespace_id == namespace.id))
        return {"publishers": [describe(p, name) for p in rows]}

    @routes.delete(
        "/namespaces/{name}/trusted-publishers/{publisher_id}", status_code=204, dependencies=[Depends(csrf_checked)]
    )
    def remove(name: str, publisher_id: int, request: Request, s: Session = Depends(session)) -> Response:
        """Remove a publisher; the tokens it was given go with it (their rows cascade)."""
        _, namespace = owned(request, s, name, change=True)
        publisher = s.get(TrustedPublisher, publisher_id)
        if publisher is None or publisher.namespace_id != namespace.id:
            raise HTTPException(404, f"{name} has no trusted publisher {publisher_id}")
        s.delete(publisher)
        s.commit()
        return Response(status_code=204)

    @routes.post("/trusted-publishing/exchange", status_code=201)
    def exchange(body: Exchange, s: Session = Depends(session)) -> dict[str, Any]:
        """A CI workload's OIDC token for a publish token of at most 15 minutes, shown once."""
        try:
            claims = verify(auth, keys, body.token)
        except RefusedToken as exc:
            audit(f"trusted publishing refused: {exc}")
            raise HTTPException(exc.status, str(exc)) from None
        rows = s.execute(
            select(TrustedPublisher, Namespace.name)
            .join(Namespace, Namespace.id == TrustedPublisher.namespace_id)
            .where(TrustedPublisher.issuer == str(claims["iss"]).rstrip("/"))
        ).all()
        found = {name: publisher for publisher, name in rows if matches(publisher, claims)}
        if body.namespace is not None:
            found = {name: p for name, p in found.items() if name == body.namespace}
        if not found:
            audit("trusted publishing refused: no publisher matches the token's claims")
            raise HTTPException(403, "no trusted publisher matches this token's issuer and claims")
        if len(found) > 1:
            raise HTTPException(409, f"this token may publish to {', '.join(sorted(found))}; name one as 'namespace'")
        ((namespace, publisher),) = found.items()
        # the workload token's id names the token it bought, so the same workload token (a
        # leaked one, say) cannot buy a second: PyPI refuses reuse as well
        jti = claims.get("jti")
        once = jti if isinstance(jti, str) and jti else f"none {secrets.token_hex(8)}"  # no jti: nothing to match
        name = f"trusted publisher {publisher.id} jti {once}"[:100]
        try:  # the unique (publisher, name) index refuses a second exchange, even one at the same moment
            token, plaintext = issue(
                s,
                user_id=None,
                name=name,
                scopes=["read", "publish"],
                namespaces=[namespace],
                lifetime=timedelta(seconds=auth.ci_token_seconds),
                kind="ci",
                publisher_id=publisher.id,
            )
            s.commit()
        except IntegrityError:
            s.rollback()
            audit(f"trusted publishing refused: a workload token for publisher {publisher.id} came again")
            raise HTTPException(401, "this workload token has been exchanged already; request a new one") from None
        audit(f"trusted publishing: publisher {publisher.id} of {namespace} got token {token.id} ({token.hint}…)")
        return {
            "token": plaintext,
            "namespace": namespace,
            "scopes": ["read", "publish"],
            "expires": token.expires,
        }

    return routes
