"""Browser sessions: a signed cookie (Starlette's SessionMiddleware over itsdangerous) that holds
the signed-in user's id, when they signed in and their CSRF token (and, while a sign-in is under
way, authlib's state, nonce and PKCE verifier for it); nothing is kept on the server.

The cookie is `HttpOnly` (scripts cannot read it), `SameSite=Lax` (other sites' forms and scripts
do not send it), `Secure` unless the service is plain http on loopback, and it ends
`session_seconds` after sign-in however busy the session is: the time of sign-in is signed with it.
Being stateless, a cookie cannot be revoked before then: signing out clears it in the browser, and
disabling the user makes every copy of it worthless at the next request.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import itsdangerous
from fastapi import FastAPI
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Scope

from rigging_indexer.auth.settings import AuthSettings

COOKIE = "rigging_session"
USER_ID = "uid"
SINCE = "since"
CSRF = "csrf"


class RotatingSessionMiddleware(SessionMiddleware):
    """Starlette's session middleware, verifying with any of `keys` (the first signs), so a
    new secret can take over while sessions signed with the previous ones run out."""

    def __init__(self, app: ASGIApp, keys: list[str], **options: Any) -> None:
        super().__init__(app, secret_key=keys[0], **options)
        self.signer = itsdangerous.TimestampSigner(list(reversed(keys)))  # itsdangerous signs with the last


def install(app: FastAPI, auth: AuthSettings) -> None:
    assert auth.session_secret is not None  # AuthSettings.load requires it with providers
    app.add_middleware(
        RotatingSessionMiddleware,
        keys=[auth.session_secret, *auth.previous_session_secrets],
        session_cookie=COOKIE,
        max_age=auth.session_seconds,
        same_site="lax",
        https_only=auth.secure_cookies,
    )


def begin(session: dict[str, Any], user_id: int) -> None:
    """Sign `user_id` in. Whatever the session held before (a sign-in's state, another user) goes,
    so a session planted before sign-in is not the one that ends up signed in."""
    session.clear()
    session.update({USER_ID: user_id, SINCE: int(time.time()), CSRF: secrets.token_urlsafe(32)})


def end(session: dict[str, Any]) -> None:
    session.clear()


def user_id(scope: Scope, lifetime: int) -> int | None:
    """The signed-in user's id, or None: no session middleware, nobody signed in, or a session
    older than `lifetime` seconds."""
    session = scope.get("session")
    if not session:
        return None
    uid, since = session.get(USER_ID), session.get(SINCE)
    if not isinstance(uid, int) or not isinstance(since, int) or time.time() - since > lifetime:
        return None
    return uid


def csrf_token(scope: Scope) -> str | None:
    session = scope.get("session") or {}
    token = session.get(CSRF)
    return token if isinstance(token, str) else None
