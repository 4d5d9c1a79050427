"""Writing to the index: idempotent upserts keyed by manifest digest, tags, deletions, the
latest version of each package, and the search documents of both dialects."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rigging.versions import Version as SemVer
from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from rigging_indexer.models import Dependency, Package, Repository, Source, Tag, Version


@dataclass
class IndexedVersion:
    name: str
    version: str
    manifest_digest: str
    content_digest: str
    content_size: int
    config: dict[str, Any]
    readme: str = ""
    files: list[str] = field(default_factory=list)
    size: int = 0
    signed_by: list[str] = field(default_factory=list)
    created: str | None = None


def _insert_ignore(session: Session, model: type, **values: Any) -> None:
    """INSERT … ON CONFLICT DO NOTHING: concurrent workers may create the same row at once."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    session.execute(insert(model).values(**values).on_conflict_do_nothing())


def source(session: Session, url: str) -> Source:
    found = session.scalar(select(Source).where(Source.url == url))
    if found is None:
        _insert_ignore(session, Source, url=url)
        found = session.scalar(select(Source).where(Source.url == url))
    assert found is not None
    return found


def repository(session: Session, src: Source, path: str) -> Repository:
    query = select(Repository).where(Repository.source_id == src.id, Repository.path == path)
    found = session.scalar(query)
    if found is None:
        _insert_ignore(session, Repository, source_id=src.id, path=path)
        found = session.scalar(query)
    assert found is not None
    return found


def upsert_version(session: Session, repo: Repository, item: IndexedVersion) -> Version:
    package = session.scalar(select(Package).where(Package.name == item.name))
    if package is None:
        _insert_ignore(session, Package, name=item.name, namespace=item.name.split("/", 1)[0], downloads=0)
        package = session.scalar(select(Package).where(Package.name == item.name))
    assert package is not None
    row = session.scalar(select(Version).where(Version.manifest_digest == item.manifest_digest))
    config = item.config
    values = {
        "package_id": package.id,
        "repository_id": repo.id,
        "version": item.version,
        "content_digest": item.content_digest,
        "content_size": item.content_size,
        "description": str(config.get("description") or ""),
        "keywords": list(config.get("keywords") or []),
        "targets": list(config.get("targets") or []),
        "license": config.get("license"),
        "config": config,
        "readme": item.readme,
        "files": item.files,
        "size": item.size,
        "signed_by": item.signed_by,
        "created": item.created,
        "deleted": False,
    }
    if row is None:
        _insert_ignore(
            session,
            Version,
            manifest_digest=item.manifest_digest,
            downloads=0,
            quarantined=False,
            indexed=func.now(),
            **values,
        )
        row = session.scalar(select(Version).where(Version.manifest_digest == item.manifest_digest))
        assert row is not None
    else:
        for key, value in values.items():
            setattr(row, key, value)
    session.flush()
    session.execute(delete(Dependency).where(Dependency.version_id == row.id))
    for dep, wanted in sorted((config.get("dependencies") or {}).items()):
        session.add(Dependency(version_id=row.id, name=dep, range=str(wanted)))
    _write_search(session, row, package)
    return row


def set_tag(session: Session, repo: Repository, tag: str, digest: str) -> None:
    row = session.scalar(select(Tag).where(Tag.repository_id == repo.id, Tag.tag == tag))
    if row is None:
        session.add(Tag(repository_id=repo.id, tag=tag, manifest_digest=digest))
    else:
        row.manifest_digest = digest


def known_tags(session: Session, repo: Repository) -> dict[str, str]:
    return {t.tag: t.manifest_digest for t in session.scalars(select(Tag).where(Tag.repository_id == repo.id))}


def drop_tags(session: Session, repo: Repository, gone: set[str]) -> None:
    """Forget tags the registry no longer has; a version no tag names any more is deleted."""
    if gone:
        session.execute(delete(Tag).where(Tag.repository_id == repo.id, Tag.tag.in_(gone)))
    tagged = {t.manifest_digest for t in session.scalars(select(Tag).where(Tag.repository_id == repo.id))}
    for row in session.scalars(select(Version).where(Version.repository_id == repo.id, Version.deleted.is_(False))):
        if row.manifest_digest not in tagged:
            row.deleted = True


def refresh_latest(session: Session, package_ids: set[int] | None = None) -> None:
    """Each package's latest version: the newest release that is neither deleted nor quarantined
    (a pre-release only when there is no release)."""
    query = select(Package) if package_ids is None else select(Package).where(Package.id.in_(package_ids))
    for package in session.scalars(query):
        candidates = []
        for row in session.scalars(
            select(Version).where(
                Version.package_id == package.id, Version.deleted.is_(False), Version.quarantined.is_(False)
            )
        ):
            try:
                candidates.append((SemVer.parse(row.version), row.id))
            except ValueError:
                continue
        releases = [c for c in candidates if not c[0].prerelease] or candidates
        package.latest_version_id = max(releases)[1] if releases else None


def count_download(session: Session, content_digest: str, count: int = 1) -> bool:
    row = session.scalar(select(Version).where(Version.content_digest == content_digest))
    if row is None:
        return False
    row.downloads += count
    package = session.get(Package, row.package_id)
    if package is not None:
        package.downloads += count
    return True


def _name_text(name: str) -> str:
    namespace, _, short = name.partition("/")
    return " ".join(dict.fromkeys([name, namespace, short, *short.replace("_", "-").split("-")]))


def _write_search(session: Session, row: Version, package: Package) -> None:
    fields = {
        "id": row.id,
        "name": _name_text(package.name),
        "keywords": " ".join(row.keywords or []),
        "description": row.description or "",
        "readme": (row.readme or "")[:100_000],
    }
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text(
                "UPDATE versions SET search = "
                "setweight(to_tsvector('simple', :name), 'A') || setweight(to_tsvector('simple', :keywords), 'B') || "
                "setweight(to_tsvector('simple', :description), 'C') || setweight(to_tsvector('simple', :readme), 'D') "
                "WHERE id = :id"
            ),
            fields,
        )
    else:
        session.execute(text("DELETE FROM version_search WHERE rowid = :id"), {"id": row.id})
        session.execute(
            text(
                "INSERT INTO version_search (rowid, name, keywords, description, readme) "
                "VALUES (:id, :name, :keywords, :description, :readme)"
            ),
            fields,
        )
