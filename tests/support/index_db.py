"""A fresh index database per test, on PostgreSQL or SQLite."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker


@contextlib.contextmanager
def fresh_index(dialect: str, tmp_path: Path) -> Iterator[tuple[str, sessionmaker[Session]]]:
    from rigging_indexer.db import make_engine, migrate, sessions

    if dialect == "sqlite":
        url = f"sqlite:///{tmp_path / 'index.db'}"
        engine = make_engine(url)
        migrate(engine)
        yield url, sessions(engine)
        engine.dispose()
        return
    from tests.support.postgres import throwaway_database

    with throwaway_database() as url:
        engine = make_engine(url)
        migrate(engine)
        try:
            yield url, sessions(engine)
        finally:
            engine.dispose()
