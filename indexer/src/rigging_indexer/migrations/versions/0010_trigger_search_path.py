"""The namespaces trigger's function finds `search_state` whatever the caller's search_path.

pg_restore (and pg_dump's plain SQL) sets an empty search_path, so a data-only restore of
`namespaces`, the accounts a backup must keep (deploy/README.md), failed in the function 0005
made: its unqualified `search_state` resolved nowhere. The function now carries the search_path
its schema was created with. SQLite triggers have no search_path.
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER FUNCTION rigging_namespaces_changed() SET search_path FROM CURRENT")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER FUNCTION rigging_namespaces_changed() RESET search_path")
