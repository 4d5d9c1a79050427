"""What every page shares: templates, who is asking, the database session, HTML error pages."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from rigging_indexer.access import ANONYMOUS, Viewer
from sqlalchemy.orm import Session

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"


@cache
def templates() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,  # every value a package supplies is escaped unless a renderer sanitised it
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.globals["static"] = static_url
    from rigging_portal import formatting

    env.filters.update(formatting.FILTERS)
    return env


@cache
def static_url(name: str) -> str:
    """The URL of a static file with its content hash, so it can be cached for a year."""
    data = generated_css().encode() if name == "highlight.css" else (STATIC / name).read_bytes()
    return f"/static/{name}?v={hashlib.sha256(data).hexdigest()[:12]}"


@cache
def generated_css() -> str:
    """The stylesheet made from code: Pygments' highlight classes and the dependency graph's."""
    from rigging_portal.render.graph import graph_css
    from rigging_portal.render.markdown import pygments_css

    return pygments_css() + "\n" + graph_css()


def viewer(request: Request) -> Viewer:
    """FastAPI dependency: who is asking (ANONYMOUS when sign-in is off or nobody is signed in)."""
    from rigging_indexer.auth import viewer_of

    if not getattr(request.app.state, "sign_in", False):
        return ANONYMOUS
    return viewer_of(request)


def db(request: Request) -> Iterator[Session]:
    with request.app.state.settings.sessions() as s:
        yield s


def csrf_token(request: Request) -> str | None:
    from rigging_indexer.auth import sessions

    return sessions.csrf_token(request.scope)


def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    who = context.pop("who", None)
    if who is None:
        who = viewer(request)
    body = (
        templates()
        .get_template(template)
        .render(
            request=request,
            viewer=who,
            csrf=csrf_token(request) if not who.anonymous else None,
            sign_in=getattr(request.app.state, "providers", []),
            path=request.url.path,
            **context,
        )
    )
    return HTMLResponse(body, status_code=status)
