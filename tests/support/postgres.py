"""A real PostgreSQL for tests: a throw-away database per run on the configured server."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


class PostgresMissing(RuntimeError):
    """No PostgreSQL server accepts a connection at the configured URL (the one case a test may skip)."""


def server_url() -> str:
    return os.environ.get("RIGGING_TEST_DATABASE_URL", DEFAULT_URL)


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def _admin_connection(url: str) -> Any:
    """An autocommit connection to the server; PostgresMissing only when connecting fails."""
    import psycopg

    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        raise PostgresMissing(f"no PostgreSQL at {url}: {str(exc).strip()}") from exc


@contextlib.contextmanager
def throwaway_database() -> Iterator[str]:
    """Create `rigging_test_<random>`, yield its URL, drop it afterwards (even if tests fail).

    Raises PostgresMissing when the server does not answer; any other failure (creating the
    database, what the caller does with it) propagates as the error it is."""
    admin_url = server_url()
    name = f"rigging_test_{uuid.uuid4().hex[:12]}"
    with _admin_connection(admin_url) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(admin_url, name)
    finally:
        with _admin_connection(admin_url) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def required_database() -> Iterator[str]:
    """throwaway_database() for a test: a missing server goes through `unavailable` (a skip
    locally, a failure under CI); every other error is raised."""
    from tests.support.services import unavailable

    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(throwaway_database())
        except PostgresMissing as exc:
            unavailable(str(exc))
        yield url
