"""Writing to the index: idempotent upserts keyed by manifest digest, tags, deletions, the
latest version of each package, and the search documents of both dialects.

The crawler writes a repository's worth of rows at once (a handful of statements per repository,
not per row): at thousands of repositories, round trips and ORM bookkeeping were most of a crawl.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from rigging.versions import Version as SemVer
from sqlalchemy import Connection, bindparam, delete, insert, select, text, update
from sqlalchemy.orm import Session

from rigging_indexer.db import SEARCH_CHANGED
from rigging_indexer.models import Dependency, Package, Repository, SearchDocument, Source, Tag, Version

Executor = Session | Connection  # the migration rebuilds documents on a bare connection
CHUNK = 500  # ids per IN (...) list


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


def _dialect(db: Executor) -> str:
    bind = db.get_bind() if isinstance(db, Session) else db
    return bind.dialect.name


def _insert(db: Executor) -> Any:
    """The dialect's INSERT, which has ON CONFLICT."""
    if _dialect(db) == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    return dialect_insert


def _chunks(items: Iterable[Any]) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def source_id(db: Executor, url: str) -> int:
    db.execute(_insert(db)(Source).values(url=url).on_conflict_do_nothing())
    return db.execute(select(Source.id).where(Source.url == url)).scalar_one()


def repository_id(db: Executor, source: int, path: str) -> int:
    query = select(Repository.id).where(Repository.source_id == source, Repository.path == path)
    found = db.execute(query).scalar()
    if found is None:
        db.execute(_insert(db)(Repository).values(source_id=source, path=path).on_conflict_do_nothing())
        found = db.execute(query).scalar_one()
    return found


def source(session: Session, url: str) -> Source:
    found = session.get(Source, source_id(session, url))
    assert found is not None
    return found


def repository(session: Session, src: Source, path: str) -> Repository:
    found = session.get(Repository, repository_id(session, src.id, path))
    assert found is not None
    return found


def _package_ids(db: Executor, names: set[str]) -> dict[str, int]:
    rows = [{"name": n, "namespace": n.split("/", 1)[0], "downloads": 0} for n in sorted(names)]
    if rows:  # concurrent workers may create the same package at once
        db.execute(_insert(db)(Package).on_conflict_do_nothing(), rows)
    return dict(db.execute(select(Package.name, Package.id).where(Package.name.in_(names))).all())


def _version_values(item: IndexedVersion, package_id: int, repo_id: int) -> dict[str, Any]:
    config = item.config
    return {
        "package_id": package_id,
        "repository_id": repo_id,
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


_UPDATED = (  # what a re-index may change; downloads and quarantine are the index's own
    "package_id",
    "repository_id",
    "version",
    "content_digest",
    "content_size",
    "description",
    "keywords",
    "targets",
    "license",
    "config",
    "readme",
    "files",
    "size",
    "signed_by",
    "created",
    "deleted",
)


def upsert_versions(db: Executor, repo_id: int, items: list[IndexedVersion]) -> dict[str, tuple[int, int]]:
    """Insert or update versions by manifest digest, with their dependency edges;
    {digest: (version id, package id)}. Callers refresh the packages' latest versions."""
    if not items:
        return {}
    packages = _package_ids(db, {item.name for item in items})
    rows = [
        {
            "manifest_digest": item.manifest_digest,
            "downloads": 0,
            "quarantined": False,
            **_version_values(item, packages[item.name], repo_id),
        }
        for item in items
    ]
    # One statement for all of them, with bound parameters: a statement per version, each with its
    # values inlined, was compiled anew every time.
    statement = _insert(db)(Version)
    statement = statement.on_conflict_do_update(
        index_elements=[Version.manifest_digest], set_={column: statement.excluded[column] for column in _UPDATED}
    ).returning(Version.id, Version.package_id, Version.manifest_digest)
    ids = {digest: (version_id, package_id) for version_id, package_id, digest in db.execute(statement, rows)}
    version_ids = [version_id for version_id, _ in ids.values()]
    db.execute(delete(Dependency).where(Dependency.version_id.in_(version_ids)))
    edges = [
        {"version_id": ids[item.manifest_digest][0], "name": dep, "range": str(wanted)}
        for item in items
        for dep, wanted in sorted((item.config.get("dependencies") or {}).items())
    ]
    if edges:
        db.execute(insert(Dependency), edges)
    return ids


def upsert_version(session: Session, repo: Repository, item: IndexedVersion) -> Version:
    """One version (webhooks, layouts, tests); the package's latest version and document follow."""
    version_id, package_id = upsert_versions(session, repo.id, [item])[item.manifest_digest]
    refresh_latest(session, {package_id})
    row = session.get(Version, version_id, populate_existing=True)
    assert row is not None
    return row


def set_tags(db: Executor, repo_id: int, tags: dict[str, str]) -> None:
    if tags:
        statement = _insert(db)(Tag)
        db.execute(
            statement.on_conflict_do_update(
                index_elements=[Tag.repository_id, Tag.tag],
                set_={"manifest_digest": statement.excluded.manifest_digest},
            ),
            [{"repository_id": repo_id, "tag": tag, "manifest_digest": digest} for tag, digest in tags.items()],
        )


def set_tag(session: Session, repo: Repository, tag: str, digest: str) -> None:
    set_tags(session, repo.id, {tag: digest})


class TagState(NamedTuple):
    digest: str
    deleted: bool  # it names a version that was deleted (indexing it again brings it back)


def tag_states(db: Executor, repo_id: int) -> dict[str, TagState]:
    """Every tag the index knows in a repository, in one query."""
    rows = db.execute(
        select(Tag.tag, Tag.manifest_digest, Version.deleted)
        .outerjoin(Version, Version.manifest_digest == Tag.manifest_digest)
        .where(Tag.repository_id == repo_id)
    )
    return {tag: TagState(digest, bool(deleted)) for tag, digest, deleted in rows}


def set_signatures(db: Executor, repo_id: int, kinds: Callable[[str, list[str]], list[str]]) -> set[int]:
    """Rewrite the signature kinds of a repository's versions (kinds(digest, found before));
    the packages whose versions changed."""
    changed = set()
    rows = db.execute(
        select(Version.id, Version.package_id, Version.manifest_digest, Version.signed_by).where(
            Version.repository_id == repo_id
        )
    )
    for version_id, package_id, digest, found in rows.all():
        before = _json_list(found)
        after = kinds(digest, before)
        if after != before:
            db.execute(update(Version).where(Version.id == version_id).values(signed_by=after))
            changed.add(package_id)
    return changed


def known_tags(db: Executor, repo: Repository | int) -> dict[str, str]:
    repo_id = repo if isinstance(repo, int) else repo.id
    return dict(db.execute(select(Tag.tag, Tag.manifest_digest).where(Tag.repository_id == repo_id)).all())


def drop_tags(db: Executor, repo: Repository | int, gone: set[str]) -> set[int]:
    """Forget tags the registry no longer has; a version no tag of its repository names any more
    is deleted. The packages whose versions changed, for refresh_latest."""
    repo_id = repo if isinstance(repo, int) else repo.id
    if gone:
        db.execute(delete(Tag).where(Tag.repository_id == repo_id, Tag.tag.in_(gone)))
    tagged = select(Tag.manifest_digest).where(Tag.repository_id == repo_id)
    changed = db.execute(
        update(Version)
        .where(
            Version.repository_id == repo_id,
            Version.deleted.is_(False),
            Version.manifest_digest.not_in(tagged),
        )
        .values(deleted=True)
        .returning(Version.package_id)
    )
    return set(changed.scalars())


def refresh_latest(session: Session, package_ids: set[int] | None = None) -> None:
    refresh_latest_on(session, package_ids)
    session.expire_all()  # packages' latest_version_id changed underneath the ORM


def refresh_latest_on(db: Executor, package_ids: set[int] | None) -> None:
    """Each package's latest version: the newest release that is neither deleted nor quarantined
    (a pre-release only when there is no release); and its search document, which also names the
    newest signed version (the one a `signed` search shows)."""
    visible = select(Version.id, Version.package_id, Version.version, Version.signed_by).where(
        Version.deleted.is_(False), Version.quarantined.is_(False)
    )
    if package_ids is None:
        package_ids = set(db.execute(select(Package.id)).scalars())
        rows = list(db.execute(visible))
    else:
        rows = [r for chunk in _chunks(package_ids) for r in db.execute(visible.where(Version.package_id.in_(chunk)))]
    best: dict[int, tuple[bool, SemVer, int]] = {}
    best_signed: dict[int, tuple[tuple[bool, SemVer, int], str]] = {}
    for version_id, package_id, version, signed_by in rows:
        try:
            parsed = SemVer.parse(version)
        except ValueError:
            continue
        key = (not parsed.prerelease, parsed, version_id)
        if package_id not in best or key > best[package_id]:
            best[package_id] = key
        if _json_list(signed_by) and (package_id not in best_signed or key > best_signed[package_id][0]):
            best_signed[package_id] = (key, version)
    latest = {package_id: best[package_id][2] if package_id in best else None for package_id in package_ids}
    if latest:
        db.execute(
            update(Package.__table__).where(Package.__table__.c.id == bindparam("pid")),
            [{"pid": pid, "latest_version_id": vid} for pid, vid in latest.items()],
        )
    _write_documents(db, latest, {pid: version for pid, (_, version) in best_signed.items()})
    if isinstance(db, Session):
        db.info[SEARCH_CHANGED] = True


def count_download(session: Session, content_digest: str, count: int = 1) -> bool:
    row = session.scalar(select(Version).where(Version.content_digest == content_digest))
    if row is None:
        return False
    row.downloads += count
    package = session.get(Package, row.package_id)
    if package is not None:
        package.downloads += count
        session.execute(
            update(SearchDocument)
            .where(SearchDocument.package_id == package.id)
            .values(downloads=SearchDocument.downloads + count)
        )
    return True


def _name_text(name: str) -> str:
    namespace, _, short = name.partition("/")
    return " ".join(dict.fromkeys([name, namespace, short, *short.replace("_", "-").split("-")]))


def package_ref(source_url: str, path: str) -> str:
    """Where a package lives, as `rigging pull` and `rigging add` take it: REGISTRY/REPOSITORY for
    a registry source (its path prefix only selects repositories), oci:PATH for a layout."""
    from urllib.parse import urlsplit

    if source_url.startswith("oci:"):
        return f"{source_url.rstrip('/')}/{path}" if path else source_url
    return f"{urlsplit(source_url).netloc}/{path}"


def _write_documents(db: Executor, latest: dict[int, int | None], signed_versions: dict[int, str]) -> None:
    """Replace the search documents of these packages by their latest versions' (none if None)."""
    pg = _dialect(db) == "postgresql"
    for chunk in _chunks(latest):
        db.execute(delete(SearchDocument).where(SearchDocument.package_id.in_(chunk)))
        if not pg:
            db.execute(text("DELETE FROM document_text WHERE rowid IN (" + ",".join(str(int(p)) for p in chunk) + ")"))
    wanted = [vid for vid in latest.values() if vid is not None]
    for chunk in _chunks(wanted):
        rows = db.execute(
            select(
                Version.id,
                Version.package_id,
                Package.name,
                Package.namespace,
                Package.downloads,
                Version.version,
                Version.description,
                Version.keywords,
                Version.targets,
                Version.signed_by,
                Version.readme,
                Source.url,
                Repository.path,
            )
            .join(Package, Package.id == Version.package_id)
            .join(Repository, Repository.id == Version.repository_id)
            .join(Source, Source.id == Repository.source_id)
            .where(Version.id.in_(chunk))
        ).all()
        documents = [
            {
                "package_id": r.package_id,
                "version_id": r.id,
                "name": r.name,
                "namespace": r.namespace,
                "downloads": r.downloads or 0,
                "version": r.version,
                "description": r.description or "",
                "keywords": _json_text(r.keywords),
                "targets": _json_text(r.targets),
                "signed": bool(_json_list(r.signed_by)),
                "name_text": _name_text(r.name),
                "keywords_text": " ".join(_json_list(r.keywords)),
                "readme": (r.readme or "")[:100_000],
                "signed_version": signed_versions.get(r.package_id),
                "ref": package_ref(r.url, r.path),
            }
            for r in rows
        ]
        if not documents:
            continue
        columns = (
            "package_id, version_id, name, namespace, version, description, keywords, targets, signed, downloads, "
            "signed_version, ref"
        )
        values = (
            ":package_id, :version_id, :name, :namespace, :version, :description, :keywords, :targets, :signed, "
            ":downloads, :signed_version, :ref"
        )
        if pg:
            db.execute(
                text(
                    f"INSERT INTO search_documents ({columns}, document) VALUES ({values}, "
                    "setweight(to_tsvector('simple', :name_text), 'A') || "
                    "setweight(to_tsvector('simple', :keywords_text), 'B') || "
                    "setweight(to_tsvector('simple', :description), 'C') || "
                    "setweight(to_tsvector('simple', :readme), 'D'))"
                ),
                documents,
            )
        else:
            db.execute(text(f"INSERT INTO search_documents ({columns}) VALUES ({values})"), documents)
            db.execute(
                text(
                    "INSERT INTO document_text (rowid, name, keywords, description, readme) "
                    "VALUES (:package_id, :name_text, :keywords_text, :description, :readme)"
                ),
                documents,
            )


def _json_list(value: Any) -> list:
    import json

    return json.loads(value) if isinstance(value, str) else list(value or [])


def _json_text(value: Any) -> str:
    import json

    return value if isinstance(value, str) else json.dumps(list(value or []))
