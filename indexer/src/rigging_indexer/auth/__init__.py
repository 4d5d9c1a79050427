"""Sign-in, sessions, access tokens, trusted publishing and the registry token service.

`install(app, settings)` adds their routes to the indexer's app and sets `app.state.viewer`, the
one function that turns a request's credentials into a `Viewer` (rigging_indexer.access): a
Bearer access token if the request has one, else the signed session cookie, else nobody.
`settings.auth` arrives as the config file's `auth` object (or None) and is replaced by the
`AuthSettings` it describes, which the routers read.
"""

from __future__ import annotations

import sys
from typing import Any

from fastapi import FastAPI, HTTPException, Request

from rigging_indexer.access import ANONYMOUS, Viewer, viewer_for_token, viewer_for_user
from rigging_indexer.auth.settings import AuthSettings
from rigging_indexer.models import User

VIEWER = "rigging.viewer"  # the request's viewer, computed once per request, in its ASGI scope


def install(app: FastAPI, settings: Any) -> None:
    from rigging_indexer.auth import csrf, oidc, registry_token, sessions, tokens, trusted_publishing

    auth = settings.auth = AuthSettings.load(settings.auth)
    app.state.auth = auth
    from sqlalchemy.orm import sessionmaker

    from rigging_indexer.db import reading_engine

    # Lookups of who is asking use the token service's engine: autocommit and no ping before each
    # checkout, so a lookup is its queries and nothing else (with the main engine's ping, BEGIN and
    # ROLLBACK it cost 0.9 ms, and a member's uncached search half the throughput of an anonymous one).
    factory = sessionmaker(reading_engine(settings.sessions.kw["bind"]))
    if auth.sign_in:
        # added innermost first: the session middleware decodes the cookie, then CSRF reads it
        app.add_middleware(csrf.CSRFMiddleware, lifetime=auth.session_seconds)
        sessions.install(app, auth)
        app.include_router(oidc.router(settings))
    app.include_router(tokens.router(settings))
    app.include_router(trusted_publishing.router(settings))
    app.include_router(registry_token.router(settings))

    def viewer(request: Request) -> Viewer:
        found = request.scope.get(VIEWER)
        if found is None:
            found = request.scope[VIEWER] = _viewer(request)
        return found

    def _viewer(request: Request) -> Viewer:
        header = request.headers.get("authorization", "")
        scheme, _, credential = header.partition(" ")
        if scheme.lower() == "bearer" and credential.strip():
            with factory() as s:
                found = viewer_for_token(s, credential.strip())
            if found is None:
                raise HTTPException(401, "the token is unknown, expired or revoked; create a new one")
            return found
        user_id = sessions.user_id(request.scope, auth.session_seconds)
        if user_id is None:
            return ANONYMOUS
        with factory() as s:
            user = s.get(User, user_id)
            # a disabled (or deleted) user's cookie is worth nothing from the next request on
            return ANONYMOUS if user is None or user.disabled else viewer_for_user(s, user)

    def presents_credentials(request: Request) -> bool:
        """Whether finding the viewer needs the database: a Bearer token or a signed-in session."""
        scheme, _, credential = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and credential.strip():
            return True
        return sessions.user_id(request.scope, auth.session_seconds) is not None

    app.state.viewer = viewer
    app.state.presents_credentials = presents_credentials


def audit(event: str) -> None:
    """One line on the server's output for a sign-in, a refusal or a token given: who and how,
    never a credential (tests grep the output for them)."""
    print(f"rigging-indexer: {event}", file=sys.stderr, flush=True)


def viewer_of(request: Request) -> Viewer:
    """Who is asking: computed once per request, without the database for an anonymous one."""
    found = request.scope.get(VIEWER)
    if found is not None:
        return found
    state = request.app.state
    if not state.presents_credentials(request):
        request.scope[VIEWER] = ANONYMOUS
        return ANONYMOUS
    return state.viewer(request)


async def request_viewer(request: Request) -> Viewer:
    """FastAPI dependency: who is asking. Asynchronous, so that it runs on the event loop: a
    synchronous dependency costs every request a hop to the thread pool, which took a third of
    the cached search's throughput (4,573 against 6,995 req/s). A lookup in the database stays on
    the loop too, as the registry token service's does: two indexed reads under a statement
    timeout cost less than the hop to a thread and back."""
    return viewer_of(request)
