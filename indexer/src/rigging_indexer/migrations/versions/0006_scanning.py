"""Scanning and moderation (DESIGN §7, §10): scan jobs and results, the audit log, a version's
review state and a namespace's moderation override.

0001 builds new databases from today's models, so columns it already made are left alone.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from rigging_indexer.models import Base

revision = "0006"
down_revision = "0005"

NEW_TABLES = ("scan_jobs", "scan_results", "audit_log")


def upgrade() -> None:
    bind = op.get_bind()
    Base.metadata.create_all(bind, tables=[Base.metadata.tables[name] for name in NEW_TABLES])
    inspector = sa.inspect(bind)
    versions = {column["name"] for column in inspector.get_columns("versions")}
    if "review" not in versions:
        op.add_column("versions", sa.Column("review", sa.String(16), nullable=False, server_default="none"))
    if "review_rules" not in versions:
        op.add_column("versions", sa.Column("review_rules", sa.String(40), nullable=True))
    if "moderation" not in {column["name"] for column in inspector.get_columns("namespaces")}:
        op.add_column("namespaces", sa.Column("moderation", sa.String(16), nullable=True))


def downgrade() -> None:
    raise NotImplementedError("the index is rebuilt from the registries; restore a backup to go back")
