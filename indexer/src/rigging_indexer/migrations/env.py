"""Alembic environment: the URL comes from the caller (rigging-indexer migrate / serve / crawl)."""

from __future__ import annotations

from alembic import context
from rigging_indexer.models import Base
from sqlalchemy import create_engine

config = context.config
url = config.get_main_option("sqlalchemy.url")
engine = config.attributes.get("engine") or create_engine(url)
with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
