"""CSRF protection for requests a browser's session cookie authenticates.

Every state-changing request (not GET, HEAD or OPTIONS) that a signed-in session cookie would
authenticate must carry the session's CSRF token, in the `X-CSRF-Token` header (scripts) or a
`csrf_token` field of a urlencoded form (pages without JavaScript); otherwise it is refused with
403 before any route runs; only a multipart upload to a path the app lists in
`app.state.csrf_multipart_paths` goes on to its route, which must `check_form_token` the form's
field (require_csrf refuses it until then). A request with a Bearer token is authenticated by that token, which
another site cannot make a browser send, so it needs none. `SameSite=Lax` already keeps the
cookie off other sites' POSTs; the token also covers older browsers and same-site subdomains.
"""

from __future__ import annotations

import hmac
import json
from urllib.parse import parse_qs

from fastapi import HTTPException, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rigging_indexer.auth import sessions

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
HEADER = b"x-csrf-token"
FIELD = "csrf_token"
CHECKED = "rigging.csrf_checked"  # set in the ASGI scope once a request's token matched
MAX_FORM_BYTES = 1 << 20  # a form larger than this must send the header
REFUSED = "this request needs the session's CSRF token (header X-CSRF-Token or form field csrf_token)"


def _header(scope: Scope, name: bytes) -> bytes | None:
    return next((value for key, value in scope.get("headers", ()) if key == name), None)


def has_bearer(scope: Scope) -> bool:
    scheme, _, credential = (_header(scope, b"authorization") or b"").partition(b" ")
    return scheme.lower() == b"bearer" and bool(credential.strip())


def needs_token(scope: Scope, lifetime: int) -> bool:
    return (
        scope.get("method", "GET") not in SAFE_METHODS
        and not has_bearer(scope)
        and sessions.user_id(scope, lifetime) is not None
    )


class CSRFMiddleware:
    """Sits inside the session middleware (it reads the session that one decoded)."""

    def __init__(self, app: ASGIApp, lifetime: int) -> None:
        self.app = app
        self.lifetime = lifetime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not needs_token(scope, self.lifetime):
            await self.app(scope, receive, send)
            return
        presented = _header(scope, HEADER)
        content_type = (_header(scope, b"content-type") or b"").split(b";")[0].strip().lower()
        if presented is None and content_type == b"application/x-www-form-urlencoded":
            body = await _read_body(receive, MAX_FORM_BYTES)
            if body is not None:
                field = parse_qs(body.decode("latin-1")).get(FIELD, [""])[0]
                presented = field.encode("latin-1")
                receive = _replay(body, receive)  # the route reads the same body
        if presented is None and content_type == b"multipart/form-data" and _checks_own_form(scope):
            # a file upload: the body is too big to read here, so the route compares the form's
            # field itself (check_form_token); until it does, require_csrf refuses the request
            await self.app(scope, receive, send)
            return
        expected = sessions.csrf_token(scope)
        if not presented or expected is None or not hmac.compare_digest(presented, expected.encode()):
            await _refuse(send)
            return
        scope[CHECKED] = True
        await self.app(scope, receive, send)


def _checks_own_form(scope: Scope) -> bool:
    """Whether the path is one the app lists in `app.state.csrf_multipart_paths`: routes that read
    a multipart form's `csrf_token` and call `check_form_token` before doing anything."""
    state = getattr(scope.get("app"), "state", None)
    return scope.get("path") in (getattr(state, "csrf_multipart_paths", None) or ())


def check_form_token(request: Request, presented: str | None) -> None:
    """For a route listed in `csrf_multipart_paths`: the multipart form's `csrf_token` field must
    be the session's token (403 otherwise); then `require_csrf` passes as for any checked form."""
    if not needs_token(request.scope, request.app.state.auth.session_seconds):
        return
    expected = sessions.csrf_token(request.scope)
    if not presented or expected is None or not hmac.compare_digest(presented.encode(), expected.encode()):
        raise HTTPException(403, REFUSED)
    request.scope[CHECKED] = True


def require_csrf(request: Request) -> None:
    """For state-changing routes (call it, or use it as a dependency): passes for anonymous and
    Bearer-token requests and for session requests whose token the middleware checked."""
    if needs_token(request.scope, request.app.state.auth.session_seconds) and not request.scope.get(CHECKED):
        raise HTTPException(403, REFUSED)


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None when it is larger than `limit` (then no form field is read)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _refuse(send: Send) -> None:
    body = json.dumps({"detail": REFUSED}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 403,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
