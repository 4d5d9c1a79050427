"""Access tokens and `whoami` (/api/v1): personal tokens are made, listed and revoked here.

A token is `rig_` and 43 base62 characters (256 random bits), shown once in the answer that made
it and kept only as its SHA-256 and its first characters (a hint for lists). It carries scopes
(`read`, `publish`), optionally a list of namespaces it is narrowed to, and an expiry (90 days
unless asked otherwise, 365 at most). Every request that presents one looks it up afresh: a
revoked token stops working on the next request, there is no cache to wait out.

Who may act: a signed-in session (its state-changing requests carry the CSRF token), or a Bearer
token of the same user. A token can never give more than it has: one made with a token has at
most that token's scopes, namespaces and expiry, and needs the `publish` scope (read-only tokens
only read). CI tokens from trusted publishing belong to no user and manage nothing.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import timedelta
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from rigging_indexer.access import TOKEN_PREFIX, Viewer, hash_token, now
from rigging_indexer.access import _aware as aware
from rigging_indexer.auth import viewer_of
from rigging_indexer.models import AccessToken

DEFAULT_DAYS = 90
MAX_DAYS = 365
HINT_CHARS = 8  # "rig_" and 4 of 43 random characters: enough to tell tokens apart, nothing to guess with
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
NOT_SIGNED_IN = "sign in, or send an access token as 'Authorization: Bearer rig_…'"


def new_plaintext() -> str:
    """`rig_` + 256 random bits in base62 (43 characters, no punctuation a double-click splits)."""
    number = int.from_bytes(secrets.token_bytes(32), "big")
    chars = []
    for _ in range(43):
        number, digit = divmod(number, 62)
        chars.append(_BASE62[digit])
    return TOKEN_PREFIX + "".join(chars)


def issue(
    s: Session,
    *,
    user_id: int | None,
    name: str,
    scopes: list[str],
    namespaces: list[str] | None,
    lifetime: timedelta,
    kind: str = "personal",
    publisher_id: int | None = None,
) -> tuple[AccessToken, str]:
    """Store a new token (its hash and hint only) and return it with its plaintext, which exists
    nowhere else: the caller shows it once. Checks are the caller's; the session is flushed."""
    plaintext = new_plaintext()
    token = AccessToken(
        user_id=user_id,
        publisher_id=publisher_id,
        name=name,
        kind=kind,
        hash=hash_token(plaintext),
        hint=plaintext[:HINT_CHARS],
        scopes=sorted(set(scopes)),
        namespaces=None if namespaces is None else sorted(set(namespaces)),
        expires=now() + lifetime,
    )
    s.add(token)
    s.flush()
    return token, plaintext


def describe(token: AccessToken) -> dict[str, Any]:
    """A token as lists show it: everything but the secret, which is not kept."""
    return {
        "id": token.id,
        "name": token.name,
        "kind": token.kind,
        "hint": token.hint + "…",
        "scopes": list(token.scopes or []),
        "namespaces": token.namespaces,
        "created": token.created,
        "expires": token.expires,
        "last_used": token.last_used,
        "revoked": token.revoked,
    }


def personal_tokens(s: Session, user_id: int) -> list[AccessToken]:
    """A user's personal tokens, newest first (the API's list and the portal's token page)."""
    return list(
        s.scalars(
            select(AccessToken)
            .where(AccessToken.user_id == user_id)
            .order_by(AccessToken.created.desc(), AccessToken.id.desc())
        )
    )


def revoke(s: Session, user_id: int, token_id: int) -> bool:
    """Revoke the user's token `token_id` (already revoked: left as it was); False when the user
    has no such token. The caller commits."""
    token = s.get(AccessToken, token_id)
    if token is None or token.user_id != user_id:
        return False
    if token.revoked is None:
        token.revoked = now()
    return True


def caller(request: Request, *, change: bool = False) -> Viewer:
    """The signed-in user or token behind `request`: 401 for nobody; for a change, a token needs
    the publish scope (the CSRF check for sessions is the `require_csrf` dependency's)."""
    viewer = viewer_of(request)
    if viewer.anonymous:
        raise HTTPException(401, NOT_SIGNED_IN, headers={"WWW-Authenticate": "Bearer"})
    if change:
        may_change(viewer)
    return viewer


def may_change(viewer: Viewer) -> None:
    if viewer.token_id is not None and "publish" not in viewer.scopes:
        raise HTTPException(403, "this token has the read scope only; changes need a token with publish")


def account_holder(request: Request, *, change: bool = False) -> Viewer:
    """caller(), for what only a user may do (tokens, organisations, claims): CI tokens may not."""
    viewer = caller(request, change=change)
    if viewer.user_id is None:
        raise HTTPException(403, "a CI token publishes; it cannot manage tokens, namespaces or organisations")
    return viewer


def csrf_checked(request: Request) -> None:
    """Dependency for every state-changing route: a session's request must carry its CSRF token."""
    from rigging_indexer.auth.csrf import require_csrf

    require_csrf(request)


def presenting_token(s: Session, viewer: Viewer) -> AccessToken | None:
    """The token this request came with (None for a session)."""
    return s.get(AccessToken, viewer.token_id) if viewer.token_id is not None else None


class NewToken(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    scopes: list[Literal["read", "publish"]] = Field(min_length=1)
    namespaces: list[str] | None = Field(None, description="only these of your namespaces (default: all of them)")
    expires_in_days: int = Field(DEFAULT_DAYS, ge=1, le=MAX_DAYS)


def router(settings: Any) -> APIRouter:
    from rigging_indexer.auth import namespaces

    routes = APIRouter(prefix="/api/v1", tags=["accounts"])

    def session() -> Iterator[Session]:
        with settings.sessions() as s:
            yield s

    @routes.get("/whoami", responses={401: {"description": "no credentials, or a token that does not hold"}})
    def whoami(request: Request) -> dict[str, Any]:
        """Who the request's credentials stand for: a user (session or token) or a CI token."""
        viewer = caller(request)
        if viewer.user_id is None:
            namespaces_roles = {ns: "publisher" for ns in viewer.publishable}
        else:
            namespaces_roles = dict(viewer.roles)
        return {
            "username": viewer.username,
            "kind": "user" if viewer.user_id is not None else "ci",
            "admin": viewer.admin,
            "scopes": sorted(viewer.scopes),
            "namespaces": [{"name": ns, "role": role} for ns, role in sorted(namespaces_roles.items())],
            "via": "token" if viewer.token_id is not None else "session",
        }

    @routes.post("/tokens", status_code=201, dependencies=[Depends(csrf_checked)])
    def create_token(body: NewToken, request: Request, s: Session = Depends(session)) -> dict[str, Any]:
        """A new personal token; its `token` is shown in this answer only."""
        viewer = account_holder(request, change=True)
        scopes = set(body.scopes)
        lifetime = timedelta(days=body.expires_in_days)
        wanted = None if body.namespaces is None else set(body.namespaces)
        parent = presenting_token(s, viewer)
        if parent is not None:  # made with a token: never more than that token
            if not scopes <= viewer.scopes:
                raise HTTPException(403, "a token cannot make a token with scopes it does not have itself")
            if wanted is None and parent.namespaces is not None:
                wanted = set(parent.namespaces)
            lifetime = min(lifetime, aware(parent.expires) - now())
        if wanted is not None:
            outside = sorted(wanted - set(viewer.roles))
            if outside:  # the same words for a namespace that is someone else's, private or unclaimed
                raise HTTPException(403, f"not among your namespaces: {', '.join(outside)}")
        token, plaintext = issue(
            s,
            user_id=viewer.user_id,
            name=body.name,
            scopes=sorted(scopes),
            namespaces=None if wanted is None else sorted(wanted),
            lifetime=lifetime,
        )
        s.commit()
        return {**describe(token), "token": plaintext}

    @routes.get("/tokens")
    def list_tokens(request: Request, s: Session = Depends(session)) -> dict[str, Any]:
        """The caller's personal tokens, newest first; never their secrets."""
        viewer = account_holder(request)
        assert viewer.user_id is not None  # account_holder refuses CI tokens
        return {"tokens": [describe(t) for t in personal_tokens(s, viewer.user_id)]}

    @routes.delete("/tokens/{token_id}", status_code=204, dependencies=[Depends(csrf_checked)])
    def revoke_token(token_id: int, request: Request, s: Session = Depends(session)) -> Response:
        """Revoke one of the caller's tokens; it stops working on the next request anywhere. A
        token may always revoke itself; revoking another takes the publish scope."""
        viewer = account_holder(request)
        if token_id != viewer.token_id:
            may_change(viewer)
        assert viewer.user_id is not None  # account_holder refuses CI tokens
        if not revoke(s, viewer.user_id, token_id):
            raise HTTPException(404, f"you have no token {token_id}")
        s.commit()
        return Response(status_code=204)

    routes.include_router(namespaces.router(settings, session))
    return routes
