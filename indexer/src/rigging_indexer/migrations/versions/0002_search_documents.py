"""Search reads one document per package (its latest visible version) instead of every version."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    bind = op.get_bind()
    op.create_table(
        "search_documents",
        sa.Column("package_id", sa.Integer, sa.ForeignKey("packages.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("version_id", sa.Integer, sa.ForeignKey("versions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("namespace", sa.String(128), nullable=False),
        sa.Column("version", sa.String(128), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("keywords", sa.JSON, nullable=False),
        sa.Column("targets", sa.JSON, nullable=False),
        sa.Column("signed", sa.Boolean, nullable=False),
        sa.Column("downloads", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_search_documents_namespace", "search_documents", ["namespace"])
    # Bumped after every commit that changed documents: the API's result cache is keyed by it.
    op.create_table(
        "search_state",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("generation", sa.BigInteger, nullable=False),
    )
    op.execute("INSERT INTO search_state (id, generation) VALUES (1, 0)")
    if bind.dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS versions_search")
        op.execute("ALTER TABLE versions DROP COLUMN IF EXISTS search")
        # weights: name A, keywords B, description C, README D
        op.execute("ALTER TABLE search_documents ADD COLUMN document tsvector NOT NULL")
        op.execute("CREATE INDEX search_documents_document ON search_documents USING GIN (document)")
    else:
        op.execute("DROP TABLE IF EXISTS version_search")
        op.execute(
            "CREATE VIRTUAL TABLE document_text USING fts5(name, keywords, description, readme, "
            "tokenize = 'unicode61 remove_diacritics 2')"
        )
    # The documents are derived data, rebuilt from the versions already indexed by 0003: the
    # rebuild writes columns 0003 adds, so it cannot run before them.


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        op.execute("DROP TABLE IF EXISTS document_text")
    op.drop_table("search_state")
    op.drop_table("search_documents")
