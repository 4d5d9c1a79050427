"""Downloads per package and day (UTC), for the portal's downloads over time: counted from the
registry's pull notifications from now on (the totals on packages and versions stay as they are)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    op.create_table(
        "download_days",
        sa.Column("package_id", sa.Integer, sa.ForeignKey("packages.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("count", sa.BigInteger, nullable=False, server_default="0"),
    )
    op.create_index("ix_download_days_day", "download_days", ["day"])


def downgrade() -> None:
    op.drop_index("ix_download_days_day", "download_days")
    op.drop_table("download_days")
