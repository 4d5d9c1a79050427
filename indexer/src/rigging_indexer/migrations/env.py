"""Alembic environment: the URL comes from the caller (rigging-indexer migrate / serve / crawl)."""

from __future__ import annotations

from alembic import context
from rigging_indexer.models import Base
from sqlalchemy import create_engine

config = context.config
url = config.get_main_option("sqlalchemy.url")
engine = config.attributes.get("engine") or create_engine(url)
with engine.connect() as connection:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # A batch migration rebuilds a table by dropping it; with foreign keys on, that drop would
        # cascade into every row referring to it. The pragma only takes effect outside a transaction.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
    try:
        context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
    finally:
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.commit()
