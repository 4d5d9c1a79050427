"""Search facets and sorts for the portal: what each package's latest version holds (`kinds`:
skills, rules, workflows, docs) and when the index first saw it (`updated`), on the documents.

Whether a package comes from a verified publisher (a claimed namespace) is not stored: search
reads it from `namespaces` as it runs, so a claim shows at once without rebuilding documents.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    bind = op.get_bind()
    op.add_column("search_documents", sa.Column("kinds", sa.JSON, nullable=False, server_default="[]"))
    op.add_column("search_documents", sa.Column("updated", sa.DateTime(timezone=True), nullable=True))
    # The documents are derived data: rebuilt, now with both columns filled in.
    from rigging_indexer.store import refresh_latest_on

    refresh_latest_on(bind, None)
    # The downloads and updated sorts read these in order and stop at LIMIT (models.py says how
    # much that saves). PostgreSQL's DESC puts NULLs first; SQLite's puts them last already and
    # has no NULLS LAST in an index.
    newest = "updated DESC NULLS LAST" if bind.dialect.name == "postgresql" else "updated DESC"
    op.create_index(
        "ix_search_documents_downloads", "search_documents", [sa.text("downloads DESC"), "name", "package_id"]
    )
    op.create_index("ix_search_documents_updated", "search_documents", [sa.text(newest), "name", "package_id"])


def downgrade() -> None:
    op.drop_index("ix_search_documents_updated", "search_documents")
    op.drop_index("ix_search_documents_downloads", "search_documents")
    with op.batch_alter_table("search_documents") as batch:
        batch.drop_column("updated")
        batch.drop_column("kinds")
