"""Search results say where each package lives (`ref`) and find packages by their newest signed
version (`signed_version`), not only those whose latest version happens to be signed."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.add_column("search_documents", sa.Column("signed_version", sa.String(128), nullable=True))
    op.add_column("search_documents", sa.Column("ref", sa.String(900), nullable=False, server_default=""))
    # The documents are derived data: rebuilt, now with both columns filled in. Today's rebuild
    # reads packages.source_id: an index from before it gets its documents from 0004, which adds it.
    bind = op.get_bind()
    if "source_id" in {column["name"] for column in sa.inspect(bind).get_columns("packages")}:
        from rigging_indexer.store import refresh_latest_on

        refresh_latest_on(bind, None)


def downgrade() -> None:
    with op.batch_alter_table("search_documents") as batch:
        batch.drop_column("ref")
        batch.drop_column("signed_version")
