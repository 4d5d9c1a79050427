"""A fresh index database per test, on PostgreSQL or SQLite.

Only a PostgreSQL server that does not answer skips (through `unavailable`, so CI fails); a
migration that breaks is an error in the test, never a skip.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker


@contextlib.contextmanager
def fresh_index(dialect: str, tmp_path: Path) -> Iterator[tuple[str, sessionmaker[Session]]]:
    from rigging_indexer.db import make_engine, migrate, sessions

    with contextlib.ExitStack() as stack:
        if dialect == "sqlite":
            url = f"sqlite:///{tmp_path / 'index.db'}"
        else:
            from tests.support.postgres import required_database

            url = stack.enter_context(required_database())
        engine = make_engine(url)
        stack.callback(engine.dispose)
        migrate(engine)
        yield url, sessions(engine)
