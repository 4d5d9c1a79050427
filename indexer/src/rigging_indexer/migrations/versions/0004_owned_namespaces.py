"""Owned namespaces (DESIGN §10): a package is keyed by its source as well as its name, sources
may mirror one another, and accounts, organisations, namespaces, tokens and trusted publishers.

Existing rows are kept (download counts come from registry events and cannot be re-crawled): a
package whose versions came from two sources is split into one package per source, and versions
whose config claimed another repository's name are dropped with their tags, so the next crawl
reads them again and records them as crawl problems.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from rigging_indexer.models import Base, Package

revision = "0004"
down_revision = "0003"

NEW_TABLES = ("users", "organisations", "memberships", "namespaces", "trusted_publishers", "access_tokens")


def upgrade() -> None:
    bind = op.get_bind()
    Base.metadata.create_all(bind, tables=[Base.metadata.tables[name] for name in NEW_TABLES])
    if "source_id" in {column["name"] for column in sa.inspect(bind).get_columns("packages")}:
        return  # a new database: 0001 created the tables from today's models
    with op.batch_alter_table("sources") as batch:
        batch.add_column(sa.Column("mirror_of", sa.Integer, nullable=True))
        batch.create_foreign_key("fk_sources_mirror_of", "sources", ["mirror_of"], ["id"], ondelete="SET NULL")
    op.add_column("packages", sa.Column("source_id", sa.Integer, nullable=True))
    _drop_impostors(bind)
    op.execute(  # each package first belongs to the first source holding a version of it
        "UPDATE packages SET source_id = (SELECT MIN(r.source_id) FROM versions v "
        "JOIN repositories r ON r.id = v.repository_id WHERE v.package_id = packages.id)"
    )
    op.execute("DELETE FROM packages WHERE source_id IS NULL")  # no version left anywhere
    if bind.dialect.name == "postgresql":
        op.execute("ALTER TABLE packages DROP CONSTRAINT IF EXISTS packages_name_key")
        op.alter_column("packages", "source_id", nullable=False)
        op.create_foreign_key("fk_packages_source_id", "packages", "sources", ["source_id"], ["id"], ondelete="CASCADE")
        op.create_unique_constraint("uq_packages_source_name", "packages", ["source_id", "name"])
        op.create_index("ix_packages_source_id", "packages", ["source_id"])
        op.create_index("ix_packages_name", "packages", ["name"])
    else:  # SQLite cannot drop a column's UNIQUE: the table is rebuilt from the model (env.py turns FKs off)
        with op.batch_alter_table("packages", copy_from=Package.__table__, recreate="always"):
            pass
    _split_by_source(bind)
    from rigging_indexer.store import refresh_latest_on

    refresh_latest_on(bind, None)


def _drop_impostors(bind: sa.Connection) -> None:
    """Versions whose package name is not their repository's last two path parts."""
    rows = bind.execute(
        sa.text(
            "SELECT v.id, v.manifest_digest, v.repository_id, r.path, p.name FROM versions v "
            "JOIN repositories r ON r.id = v.repository_id JOIN packages p ON p.id = v.package_id"
        )
    ).all()
    for version_id, digest, repository_id, path, name in rows:
        parts = [part for part in path.split("/") if part]
        if len(parts) >= 2 and "/".join(parts[-2:]) != name:
            bind.execute(sa.text("DELETE FROM dependencies WHERE version_id = :v"), {"v": version_id})
            bind.execute(sa.text("DELETE FROM search_documents WHERE version_id = :v"), {"v": version_id})
            bind.execute(sa.text("DELETE FROM versions WHERE id = :v"), {"v": version_id})
            bind.execute(
                sa.text("DELETE FROM tags WHERE repository_id = :r AND manifest_digest = :d"),
                {"r": repository_id, "d": digest},
            )


def _split_by_source(bind: sa.Connection) -> None:
    """Versions from a source other than their package's get a package of that source."""
    pairs = bind.execute(
        sa.text(
            "SELECT DISTINCT v.package_id, r.source_id FROM versions v JOIN repositories r ON r.id = v.repository_id "
            "JOIN packages p ON p.id = v.package_id WHERE r.source_id <> p.source_id ORDER BY v.package_id, r.source_id"
        )
    ).all()
    for package_id, source_id in pairs:
        name, namespace = bind.execute(
            sa.text("SELECT name, namespace FROM packages WHERE id = :p"), {"p": package_id}
        ).one()
        new_id = bind.execute(
            sa.text(
                "INSERT INTO packages (name, namespace, source_id, downloads) VALUES (:n, :ns, :s, 0) RETURNING id"
            ),
            {"n": name, "ns": namespace, "s": source_id},
        ).scalar_one()
        bind.execute(
            sa.text(
                "UPDATE versions SET package_id = :new WHERE package_id = :old AND repository_id IN "
                "(SELECT id FROM repositories WHERE source_id = :s)"
            ),
            {"new": new_id, "old": package_id, "s": source_id},
        )


def downgrade() -> None:
    raise NotImplementedError("the index is rebuilt from the registries; restore a backup to go back")
