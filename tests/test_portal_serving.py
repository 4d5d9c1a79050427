"""How the portal serves its pages, beyond what they show: READMEs rendered when indexed (and again
when the renderer changed), and sessions that never hold a connection across hops to the thread
pool, against a real registry, the indexer's crawl and a real PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.support.portal_catalogue import Catalogue, indexer, served_catalogue

pytestmark = [pytest.mark.registry, pytest.mark.postgres]

NO_PAGE_CACHE = {"Cookie": "seen=1"}  # a request with a cookie is always rendered, never the cached page


@pytest.fixture(scope="module")
def stack(registry, tmp_path_factory) -> Iterator[tuple[Catalogue, str]]:
    with served_catalogue(registry.host, tmp_path_factory.mktemp("cat")) as served:
        yield served


def _readme_columns(database: str, name: str) -> tuple[str | None, str | None]:
    engine = create_engine(database.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as connection:
            row = connection.execute(
                text(
                    "SELECT v.readme_html, v.readme_renderer FROM versions v "
                    "JOIN packages p ON p.latest_version_id = v.id WHERE p.name = :name"
                ),
                {"name": name},
            ).one()
            return row[0], row[1]
    finally:
        engine.dispose()


def _set_readme_columns(database: str, name: str, html: str, renderer: str) -> None:
    engine = create_engine(database.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "UPDATE versions SET readme_html = :html, readme_renderer = :renderer WHERE id = "
                    "(SELECT latest_version_id FROM packages WHERE name = :name)"
                ),
                {"html": html, "renderer": renderer, "name": name},
            )
    finally:
        engine.dispose()


def test_a_readme_is_rendered_when_indexed_and_again_when_the_renderer_changed(stack):
    from rigging_indexer.markdown_html import RENDERER

    cat, url = stack
    html, renderer = _readme_columns(cat.database, cat.main)
    assert renderer == RENDERER
    assert html is not None and '<pre class="highlight"><code><span class="k">def</span>' in html
    page = httpx.get(f"{url}/packages/{cat.main}", headers=NO_PAGE_CACHE, timeout=30).text
    assert html in page  # the page shows what the index kept

    # As a release with another renderer finds an index: the stored HTML is not used, the page
    # renders the README itself (in the thread pool), and `render-readmes` brings the index up to date.
    _set_readme_columns(cat.database, cat.main, "<p>written by another renderer</p>", "0; an older release")
    page = httpx.get(f"{url}/packages/{cat.main}", headers=NO_PAGE_CACHE, timeout=30).text
    assert "written by another renderer" not in page
    assert html in page
    out = indexer("render-readmes", "--database", cat.database)
    assert out.startswith("rendered ") and int(out.split()[1]) >= 1
    assert _readme_columns(cat.database, cat.main) == (html, RENDERER)
    assert indexer("render-readmes", "--database", cat.database).strip() == "rendered 0 READMEs"


def test_pages_never_hold_a_connection_while_waiting_for_a_thread(stack):
    """One database connection and one thread for the whole portal: with a session that outlives
    its thread (a dependency's), request A holds the connection while it waits for the thread,
    which request B holds while it waits for the connection, until the pool times out. Each
    page's session lives in the one thread that renders it, so every request is answered."""
    import anyio.to_thread
    from rigging_indexer.db import sessions
    from rigging_portal.app import create_app
    from rigging_portal.settings import PortalSettings

    cat, _ = stack
    engine = create_engine(
        cat.database.replace("postgresql://", "postgresql+psycopg://", 1), pool_size=1, max_overflow=0, pool_timeout=5
    )
    settings = PortalSettings(sessions(engine), sources=[cat.source], page_cache_entries=0)
    app = create_app(settings)
    paths = [f"/packages/{cat.main}/security", f"/packages/{cat.main}/dependencies", f"/packages/{cat.main}", "/"]

    async def main() -> list[int]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = 1
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://portal.test", timeout=30) as client:
            answers = await asyncio.gather(*(client.get(path) for path in paths * 3))
        return [answer.status_code for answer in answers]

    started = time.monotonic()
    try:
        statuses = asyncio.run(main())
    finally:
        engine.dispose()
    assert statuses == [200] * len(paths) * 3
    assert time.monotonic() - started < 5  # never a wait for the pool's timeout
