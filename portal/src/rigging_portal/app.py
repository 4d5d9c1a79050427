"""The portal's web app. Pages arrive with the portal issue."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from rigging import __version__ as core_version

_HOME = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Rigging</title></head>
<body><h1>Rigging</h1><p>Agent rules and workflows, stored in OCI registries.</p></body></html>
"""


def create_app() -> FastAPI:
    app = FastAPI(title="Rigging portal", version=core_version, docs_url=None, redoc_url=None)

    @app.get("/", response_class=HTMLResponse)
    def home() -> str:
        return _HOME

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok", "service": "rigging-portal", "version": core_version}

    return app
