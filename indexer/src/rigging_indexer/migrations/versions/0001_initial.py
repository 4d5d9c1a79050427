"""The initial index schema, and each dialect's full-text search."""

from __future__ import annotations

from alembic import op
from rigging_indexer.models import Base

revision = "0001"
down_revision = None

TABLES = ("sources", "repositories", "packages", "versions", "tags", "dependencies", "crawl_jobs")


def upgrade() -> None:
    bind = op.get_bind()
    Base.metadata.create_all(bind, tables=[Base.metadata.tables[name] for name in TABLES])
    if bind.dialect.name == "postgresql":
        # weights: name A, keywords B, description C, README D
        op.execute("ALTER TABLE versions ADD COLUMN search tsvector")
        op.execute("CREATE INDEX versions_search ON versions USING GIN (search)")
    else:
        op.execute(
            "CREATE VIRTUAL TABLE version_search USING fts5(name, keywords, description, readme, "
            "tokenize = 'unicode61 remove_diacritics 2')"
        )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        op.execute("DROP TABLE IF EXISTS version_search")
    Base.metadata.drop_all(bind, tables=[Base.metadata.tables[name] for name in TABLES])
