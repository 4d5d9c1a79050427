"""The portal's web app: server-rendered pages over the indexer's store (DESIGN §8).

Pages read without JavaScript; the few scripts (copy buttons, the theme switch, drag-and-drop,
live preview) are files of our own, so the Content-Security-Policy allows no inline script or
style and no other origin. Sign-in, sessions and CSRF are the indexer's (same config, same signed
cookie), so the portal keeps no state and any number of replicas can serve behind a balancer.
"""

from __future__ import annotations

import os

import anyio
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rigging import __version__ as core_version
from rigging_portal.settings import PortalSettings

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


class SecurityHeaders:
    """Adds the policy headers to every response: pages, errors and static files alike."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + HEADERS
            await send(message)

        await self.app(scope, receive, with_headers)


def create_app(settings: PortalSettings) -> FastAPI:
    app = FastAPI(title="Rigging portal", version=core_version, docs_url=None, redoc_url=None, openapi_url=None)
    if settings.reader is None:
        from rigging_indexer.db import reading_engine

        settings.reader = sessionmaker(reading_engine(settings.sessions.kw["bind"]))
    app.state.settings = settings
    from rigging_portal.web import INDEX_THREADS

    app.state.index_threads = anyio.CapacityLimiter(INDEX_THREADS)
    app.state.sign_in = False
    app.state.providers = []
    if settings.auth:
        _install_sign_in(app, settings)
    from rigging_portal.content import ContentStore

    app.state.contents = ContentStore(settings.ca_file, entries=settings.content_entries)
    from rigging_portal.pages import browse, console, package, review

    app.include_router(browse.router())
    app.include_router(package.router())
    app.include_router(console.router())
    app.state.csrf_multipart_paths = console.MULTIPART_PATHS  # uploads check their form's token themselves
    app.include_router(review.router())
    _static(app)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok", "service": "rigging-portal", "version": core_version}

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if request.url.path.startswith(("/api/", "/auth/")):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        from rigging_portal.web import page

        return page(request, "error.html", status=exc.status_code, status_code=exc.status_code, detail=exc.detail)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        from rigging_portal.web import page

        where = ", ".join(".".join(str(p) for p in e.get("loc", ())) for e in exc.errors()[:3])
        return page(request, "error.html", status=400, status_code=400, detail=f"bad request: check {where}")

    @app.exception_handler(500)
    async def server_error(request: Request, exc: Exception) -> Response:
        import sys
        import traceback

        traceback.print_exception(exc, file=sys.stderr)  # the operator's log has it; the page does not
        from rigging_portal.web import page

        return page(request, "error.html", status=500, status_code=500, detail="the portal failed; try again")

    if settings.page_cache_entries > 0:
        from rigging_indexer.db import generation_reader
        from rigging_indexer.result_cache import ResultCache

        from rigging_portal.page_cache import PageCache

        engine = settings.sessions.kw["bind"]
        pages = ResultCache(generation_reader(engine), entries=settings.page_cache_entries, ttl_seconds=300.0)
        app.add_middleware(PageCache, cache=pages)
    app.add_middleware(SecurityHeaders)  # outermost: cached answers carry the policy too
    return app


def _install_sign_in(app: FastAPI, settings: PortalSettings) -> None:
    """The indexer's sign-in, sessions and CSRF, configured by the same `auth` object: a cookie the
    one signs the other reads, when both are served under one origin."""
    from rigging_indexer import auth

    auth.install(app, settings)
    app.state.sign_in = bool(app.state.auth.sign_in)
    app.state.providers = [{"id": p.id, "name": p.name} for p in app.state.auth.providers]

    @app.post("/signout", include_in_schema=False)
    def sign_out(request: Request) -> Response:
        from fastapi.responses import RedirectResponse
        from rigging_indexer.auth import sessions

        # a signed-in session's form passed the CSRF middleware to get here
        sessions.end(request.session)
        return RedirectResponse("/", status_code=303)


def _static(app: FastAPI) -> None:
    from starlette.staticfiles import StaticFiles

    from rigging_portal.web import STATIC

    year = "public, max-age=31536000, immutable"

    @app.get("/static/highlight.css", include_in_schema=False)
    def highlight_css() -> Response:
        from rigging_portal.web import generated_css

        return Response(generated_css(), media_type="text/css", headers={"cache-control": year})

    class Cached(StaticFiles):
        async def get_response(self, path: str, scope: Scope) -> Response:
            response = await super().get_response(path, scope)
            if response.status_code == 200:
                response.headers["cache-control"] = year  # URLs carry the content's hash (web.static_url)
            return response

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:  # browsers ask for it whatever the page links
        return Response((STATIC / "favicon.svg").read_bytes(), media_type="image/svg+xml")

    app.mount("/static", Cached(directory=STATIC), name="static")


def from_environment() -> FastAPI:
    """The app each `serve --workers N` process runs, from the settings the parent handed down."""
    import json

    from rigging_portal.main import SERVE_SETTINGS
    from rigging_portal.settings import from_values

    return create_app(from_values(json.loads(os.environ[SERVE_SETTINGS])))
