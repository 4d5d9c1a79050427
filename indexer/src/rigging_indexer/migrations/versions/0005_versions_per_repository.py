"""A version is one manifest in one repository, and changes to namespaces refresh search.

- `versions` was unique by manifest digest across the whole index: the same manifest in a mirror,
  or pushed to two sources, was one row that each crawl moved to its own repository and package.
  It is now unique per (repository, digest).
- Making a namespace private (or claiming, releasing one) changes what search may show, so the
  API's result cache must not serve what it computed before: a trigger bumps the search
  generation in the same transaction, whichever code (or SQL) changed the row.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from rigging_indexer.models import Version

revision = "0005"
down_revision = "0004"

BUMP = "UPDATE search_state SET generation = generation + 1 WHERE id = 1"


def upgrade() -> None:
    bind = op.get_bind()
    pg = bind.dialect.name == "postgresql"
    uniques = {tuple(u["column_names"]) for u in sa.inspect(bind).get_unique_constraints("versions")}
    if ("repository_id", "manifest_digest") not in uniques:  # 0001 made new databases so already
        if pg:
            op.execute("ALTER TABLE versions DROP CONSTRAINT IF EXISTS versions_manifest_digest_key")
            op.create_unique_constraint(
                "uq_versions_repository_digest", "versions", ["repository_id", "manifest_digest"]
            )
            op.create_index("ix_versions_manifest_digest", "versions", ["manifest_digest"])
        else:  # SQLite cannot drop a column's UNIQUE: rebuilt from the model (env.py turns FKs off)
            with op.batch_alter_table("versions", copy_from=Version.__table__, recreate="always"):
                pass
    if pg:
        op.execute(
            "CREATE OR REPLACE FUNCTION rigging_namespaces_changed() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN {BUMP}; RETURN NULL; END $$"
        )
        op.execute("DROP TRIGGER IF EXISTS namespaces_search_generation ON namespaces")
        op.execute(
            "CREATE TRIGGER namespaces_search_generation AFTER INSERT OR UPDATE OR DELETE ON namespaces "
            "FOR EACH STATEMENT EXECUTE FUNCTION rigging_namespaces_changed()"
        )
    else:
        for event in ("INSERT", "UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER IF NOT EXISTS namespaces_search_generation_{event.lower()} AFTER {event} "
                f"ON namespaces BEGIN {BUMP}; END"
            )


def downgrade() -> None:
    raise NotImplementedError("the index is rebuilt from the registries; restore a backup to go back")
