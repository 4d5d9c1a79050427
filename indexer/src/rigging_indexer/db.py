"""Engines and migrations. PostgreSQL (psycopg 3) in production; a SQLite file is the embedded default."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

DEFAULT_URL = "sqlite:///rigging-index.db"
T = TypeVar("T")
SEARCH_CHANGED = "rigging.search_changed"  # Session.info flag: this transaction rewrote search documents


def normalise_url(url: str) -> str:
    """postgresql:// means psycopg 3 here (SQLAlchemy's default would be psycopg2)."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(connection, _record) -> None:  # noqa: ANN001 - DBAPI objects
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the crawler
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()
            connection.create_function("ln", 1, math.log, deterministic=True)  # search's download boost

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def reading_engine(engine: Engine, *, statement_timeout_ms: int = 2000) -> Engine:
    """An engine for indexed reads run on the event loop (who is asking, a package page): on
    PostgreSQL autocommit, so a read is its queries alone (no BEGIN, no ROLLBACK when the
    connection goes back); no ping before each checkout (`retrying` tries a dropped connection's
    work once more instead); short connect and statement timeouts, so a stuck database cannot hold
    the loop for long. SQLite's engine serves as it is."""
    if engine.dialect.name != "postgresql":
        return engine
    return create_engine(
        engine.url,
        pool_size=2,  # reads on the loop run one at a time per process
        max_overflow=2,
        isolation_level="AUTOCOMMIT",
        connect_args={"connect_timeout": 2, "options": f"-c statement_timeout={statement_timeout_ms}"},
    )


def retrying(work: Callable[[], T]) -> T:
    """`work` (on a reading_engine), once more if the database had dropped its connection."""
    from sqlalchemy.exc import DBAPIError

    try:
        return work()
    except DBAPIError as exc:
        if not exc.connection_invalidated:  # a real error, not a connection the database dropped
            raise
        return work()


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to `revision` (the newest by default; tests stop earlier to make an
    index as an older release left it)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    config.attributes["engine"] = engine
    command.upgrade(config, revision)


def behind(engine: Engine) -> str | None:
    """Why this database is not an index at the newest schema (None when it is): for readers, such
    as the portal, that leave migrating to the indexer."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    head = ScriptDirectory(str(Path(__file__).parent / "migrations")).get_current_head()
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
    except Exception as exc:  # unreachable, refused, a file that is not a database: said in one line
        return f"cannot open it ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})"
    if current == head:
        return None
    state = "holds no index" if current is None else f"is at schema {current}, not {head}"
    return f"{state}; run rigging-indexer (crawl or serve) on it first, which migrates it"


def sessions(engine: Engine) -> sessionmaker[Session]:
    factory = sessionmaker(engine, expire_on_commit=False)

    @event.listens_for(factory, "before_commit")
    def _bump_search_generation(session: Session) -> None:
        # In the same transaction as the documents, and last, so readers see both at once and
        # concurrent writers wait on the row only for the moment of their commit.
        if session.info.pop(SEARCH_CHANGED, False):
            session.execute(text("UPDATE search_state SET generation = generation + 1 WHERE id = 1"))

    return factory


def generation_reader(engine: Engine) -> Callable[[], int]:
    """Reads the search generation on a connection of its own: taking one from the pool, which
    busy searches can hold entirely, would stall the reader just when the cache matters most."""
    held: list[Connection] = []
    lock = threading.Lock()  # the watcher thread and a webhook's thread may both read

    def read() -> int:
        with lock:
            if not held:
                held.append(engine.connect().execution_options(isolation_level="AUTOCOMMIT"))
            try:
                return held[0].execute(text("SELECT generation FROM search_state WHERE id = 1")).scalar_one()
            except Exception:
                held.pop().close()  # reconnect next time
                raise

    return read
