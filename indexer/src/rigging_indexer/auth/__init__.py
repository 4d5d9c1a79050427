"""Sign-in, sessions, access tokens, trusted publishing and the registry token service.

`install(app, settings)` adds their routes to the indexer's app and sets `app.state.viewer`, the
one function that turns a request's credentials into a `Viewer` (rigging_indexer.access).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request

from rigging_indexer.access import ANONYMOUS, Viewer, viewer_for_token


def install(app: FastAPI, settings: Any) -> None:
    sessions = settings.sessions

    def viewer(request: Request) -> Viewer:
        header = request.headers.get("authorization", "")
        scheme, _, credential = header.partition(" ")
        if scheme.lower() == "bearer" and credential:
            with sessions() as s:
                found = viewer_for_token(s, credential.strip())
            if found is None:
                from fastapi import HTTPException

                raise HTTPException(401, "the token is unknown, expired or revoked; create a new one")
            return found
        return ANONYMOUS

    app.state.viewer = viewer


def request_viewer(request: Request) -> Viewer:
    """FastAPI dependency: who is asking."""
    return request.app.state.viewer(request)
