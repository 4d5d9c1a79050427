"""The indexer's HTTP API. Crawling, storage and search arrive with the indexer issue."""

from __future__ import annotations

from fastapi import FastAPI

from rigging import __version__ as core_version


def create_app() -> FastAPI:
    app = FastAPI(title="Rigging indexer", version=core_version, openapi_url="/api/v1/openapi.json")

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok", "service": "rigging-indexer", "version": core_version}

    return app
