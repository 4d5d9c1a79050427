"""What every page shares: templates, who is asking, the database session, HTML error pages."""

from __future__ import annotations

import functools
import hashlib
import inspect
from collections.abc import Awaitable, Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import anyio.to_thread
from fastapi import Request
from fastapi.responses import HTMLResponse
from rigging_indexer.access import ANONYMOUS, Viewer

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
R = TypeVar("R")
INDEX_THREADS = 4


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
    from rigging_indexer.markdown_html import pygments_css

    from rigging_portal.render.graph import graph_css

    return pygments_css() + "\n" + graph_css()


def who_is(request: Request) -> Viewer:
    """Who is asking (ANONYMOUS when sign-in is off or nobody is signed in)."""
    from rigging_indexer.auth import viewer_of

    if not getattr(request.app.state, "sign_in", False):
        return ANONYMOUS
    return viewer_of(request)


async def viewer(request: Request) -> Viewer:
    """FastAPI dependency: who is asking. Asynchronous, so it runs on the event loop: a
    synchronous dependency is a hop to the thread pool for every request (as the indexer's
    request_viewer explains)."""
    return who_is(request)


def keyword_signature(
    route: Callable[..., Any], drop: set[str], extra: Sequence[inspect.Parameter] = ()
) -> inspect.Signature:
    """The signature FastAPI should see for a wrapped route: the route's parameters but `drop`,
    plus `extra`; annotations evaluated (FastAPI would look their names up in the wrapper's
    module) and every parameter keyword-only (FastAPI passes keywords; and then parameters with
    defaults may come first)."""
    signature = inspect.signature(route, eval_str=True)
    kept = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for n, p in signature.parameters.items() if n not in drop]
    return signature.replace(parameters=[*kept, *extra])


def with_session(route: Callable[..., R]) -> Callable[..., R]:
    """Gives a synchronous route `s`, a database session opened and closed in the one thread that
    runs the route. A session from a dependency keeps its connection across hops to the thread
    pool, and under load every pool thread can be waiting for a connection while every connection's
    request waits for a thread, until the connection pool's 30 s timeout (seen in bench/portal.py
    with a smaller thread pool; with the default one it showed as long queues)."""

    @functools.wraps(route)
    def run(**values: Any) -> R:
        with values["request"].app.state.settings.sessions() as s:
            return route(s=s, **values)

    run.__signature__ = keyword_signature(route, drop={"s"})  # type: ignore[attr-defined]
    return run


def reading_index(route: Callable[..., R]) -> Callable[..., Awaitable[R]]:
    """As with_session, for a page that reads only the index (home, search, stats), run in a pool
    of INDEX_THREADS threads of its own rather than FastAPI's forty, which pages reading registries
    may hold for seconds. A few keep the database busy; each more is one more thread contending for
    the GIL with the event loop that answers cached pages (bench/portal.py's search P95 in its
    median run was 38 ms with four and 37 ms with forty: within its noise, so the bound is free)."""
    work = with_session(route)

    @functools.wraps(route)
    async def run(**values: Any) -> R:
        limiter = values["request"].app.state.index_threads
        return await anyio.to_thread.run_sync(functools.partial(work, **values), limiter=limiter)

    run.__signature__ = inspect.signature(work)  # type: ignore[attr-defined]
    return run


def csrf_token(request: Request) -> str | None:
    from rigging_indexer.auth import sessions

    return sessions.csrf_token(request.scope)


def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    who = context.pop("who", None)
    if who is None:
        who = who_is(request)
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
