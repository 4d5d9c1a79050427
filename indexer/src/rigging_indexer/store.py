"""Writing to the index: idempotent upserts keyed by manifest digest, tags, deletions, the
latest version of each package, and the search documents of both dialects.

The crawler writes a repository's worth of rows at once (a handful of statements per repository,
not per row): at thousands of repositories, round trips and ORM bookkeeping were most of a crawl.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from rigging.errors import RiggingError
from rigging.package_files import SKILL_FILE, classify
from rigging.versions import Version as SemVer
from sqlalchemy import (
    ColumnElement,
    Connection,
    DateTime,
    Select,
    bindparam,
    delete,
    func,
    insert,
    inspect,
    literal_column,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session, defer

from rigging_indexer.access import Viewer, visible_namespace_clause
from rigging_indexer.db import SEARCH_CHANGED
from rigging_indexer.models import (
    CrawlJob,
    Dependency,
    DownloadDay,
    Package,
    Repository,
    ScanResult,
    SearchDocument,
    Source,
    Tag,
    Version,
)

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
    scan: dict[str, Any] | None = None  # the crawler's inline scan (rigging_indexer.scanning.summary)


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


def configure_mirrors(session: Session, mirrors: dict[str, str]) -> None:
    """Record which sources mirror which ({mirror URL: primary URL}, the whole configuration: a
    source not named is nobody's mirror). When a source's role changes, its versions move to the
    package they now belong to, download counts with them."""
    wanted: dict[int, int] = {}
    for mirror, primary in mirrors.items():
        if mirror == primary:
            raise RiggingError(f"mirror {mirror} names itself as its primary")
        if primary in mirrors:
            raise RiggingError(f"mirror {mirror}: its primary {primary} is itself a mirror; name the primary")
        wanted[source_id(session, mirror)] = source_id(session, primary)
    changed = []
    for src in session.scalars(select(Source)):
        if src.mirror_of != wanted.get(src.id):
            src.mirror_of = wanted.get(src.id)
            changed.append(src.id)
    session.flush()
    for changed_id in changed:
        _rekey(session, changed_id)


def _rekey(session: Session, changed: int) -> None:
    """Move the versions of a source's repositories to the packages of the source they belong to."""
    home = home_source_id(session, changed)
    rows = session.execute(
        select(Version.id, Version.package_id, Package.name)
        .join(Package, Package.id == Version.package_id)
        .join(Repository, Repository.id == Version.repository_id)
        .where(Repository.source_id == changed, Package.source_id != home)
    ).all()
    if not rows:
        return
    targets = _package_ids(session, home, {name for _, _, name in rows})
    for version_id, _, name in rows:
        session.execute(update(Version).where(Version.id == version_id).values(package_id=targets[name]))
    old = {package_id: targets[name] for _, package_id, name in rows}
    for package_id, target in old.items():
        if session.scalar(select(func.count()).where(Version.package_id == package_id)) == 0:
            moved = session.scalar(select(Package.downloads).where(Package.id == package_id)) or 0
            session.execute(update(Package).where(Package.id == target).values(downloads=Package.downloads + moved))
            session.execute(delete(Package).where(Package.id == package_id))
    remaining = set(session.scalars(select(Package.id).where(Package.id.in_(old))))  # those still holding versions
    refresh_latest(session, set(targets.values()) | remaining)


def home_source_id(db: Executor, source: int) -> int:
    """The source whose packages a source's repositories hold: the one it mirrors, else itself."""
    mirrored = db.execute(select(Source.mirror_of).where(Source.id == source)).scalar_one()
    return mirrored or source


def package_source_id(db: Executor, repo_id: int) -> int:
    """The source a repository's packages belong to: its own, or the one it mirrors (DESIGN §7)."""
    return home_source_id(db, db.execute(select(Repository.source_id).where(Repository.id == repo_id)).scalar_one())


def _package_ids(db: Executor, source: int, names: set[str]) -> dict[str, int]:
    rows = [{"source_id": source, "name": n, "namespace": n.split("/", 1)[0], "downloads": 0} for n in sorted(names)]
    if rows:  # concurrent workers may create the same package at once
        db.execute(_insert(db)(Package).on_conflict_do_nothing(), rows)
    query = select(Package.name, Package.id).where(Package.source_id == source, Package.name.in_(names))
    return dict(db.execute(query).all())


@functools.lru_cache(maxsize=32)  # a batch's versions often share one README
def readme_html(readme: str) -> dict[str, str | None]:
    """The columns that keep a README's HTML: rendered once here, when the version is indexed,
    rather than on every page view (a few ms of Markdown a page, seconds for a hostile one)."""
    from rigging_indexer.markdown_html import RENDERER, render_markdown

    return {"readme_html": render_markdown(readme) if readme else "", "readme_renderer": RENDERER}


def render_readmes(factory: Callable[[], Session], batch: int = 200) -> int:
    """Renders the READMEs not rendered by this renderer (indexed before HTML was kept, or by an
    older release), a committed batch at a time, so a long run can be stopped and started again."""
    from rigging_indexer.markdown_html import RENDERER

    done, after = 0, 0
    while True:
        with factory() as db:
            rows = db.execute(
                select(Version.id, Version.readme)
                .where(Version.id > after, or_(Version.readme_renderer.is_(None), Version.readme_renderer != RENDERER))
                .order_by(Version.id)
                .limit(batch)
            ).all()
            if not rows:
                return done
            for version_id, readme in rows:
                db.execute(update(Version).where(Version.id == version_id).values(**readme_html(readme or "")))
            db.commit()
        done += len(rows)
        after = rows[-1][0]


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
        **readme_html(item.readme),
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
    "readme_html",
    "readme_renderer",
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
    packages = _package_ids(db, package_source_id(db, repo_id), {item.name for item in items})
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
        index_elements=[Version.repository_id, Version.manifest_digest],
        set_={column: statement.excluded[column] for column in _UPDATED},
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
        .outerjoin(
            Version, (Version.manifest_digest == Tag.manifest_digest) & (Version.repository_id == Tag.repository_id)
        )
        .where(Tag.repository_id == repo_id)
    )
    return {tag: TagState(digest, bool(deleted)) for tag, digest, deleted in rows}


def repository_states(db: Executor, source: int, paths: list[str]) -> dict[str, tuple[int, dict[str, TagState]]]:
    """{path: (repository id, its tag states)} for a batch of a source's repositories, those new to
    the index made: one query for a crawler's batch of jobs. Asked per repository (repository_id,
    then tag_states) it was two round trips and a transaction each, most of what the database
    added to an unchanged re-crawl."""
    found: dict[str, tuple[int, dict[str, TagState]]] = {}
    for chunk in _chunks(paths):
        rows = db.execute(
            select(Repository.id, Repository.path, Tag.tag, Tag.manifest_digest, Version.deleted)
            .outerjoin(Tag, Tag.repository_id == Repository.id)
            .outerjoin(
                Version, (Version.manifest_digest == Tag.manifest_digest) & (Version.repository_id == Tag.repository_id)
            )
            .where(Repository.source_id == source, Repository.path.in_(chunk))
        )
        for repo_id, path, tag, digest, deleted in rows:
            states = found.setdefault(path, (repo_id, {}))[1]
            if tag is not None:
                states[tag] = TagState(digest, bool(deleted))
    missing = sorted(set(paths) - set(found))  # sorted: concurrent batches insert in one order
    for chunk in _chunks(missing):
        rows = [{"source_id": source, "path": path} for path in chunk]
        db.execute(_insert(db)(Repository).values(rows).on_conflict_do_nothing())
        query = select(Repository.id, Repository.path).where(Repository.source_id == source, Repository.path.in_(chunk))
        found.update((path, (repo_id, {})) for repo_id, path in db.execute(query))
    return found


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
    newest signed version (the one a `signed` search shows). Of a version a mirror holds as well,
    the package's own source's copy is the one shown."""
    visible = (
        select(
            Version.id,
            Version.package_id,
            Version.version,
            Version.signed_by,
            (Repository.source_id == Package.source_id).label("home"),
        )
        .join(Repository, Repository.id == Version.repository_id)
        .join(Package, Package.id == Version.package_id)
        .where(Version.deleted.is_(False), Version.quarantined.is_(False))
    )
    if package_ids is None:
        package_ids = set(db.execute(select(Package.id)).scalars())
        rows = list(db.execute(visible))
    else:
        rows = [r for chunk in _chunks(package_ids) for r in db.execute(visible.where(Version.package_id.in_(chunk)))]
    best: dict[int, tuple[bool, SemVer, bool, int]] = {}
    best_signed: dict[int, tuple[tuple[bool, SemVer, bool, int], str]] = {}
    for version_id, package_id, version, signed_by, home in rows:
        try:
            parsed = SemVer.parse(version)
        except ValueError:
            continue
        key = (not parsed.prerelease, parsed, bool(home), version_id)
        if package_id not in best or key > best[package_id]:
            best[package_id] = key
        if _json_list(signed_by) and (package_id not in best_signed or key > best_signed[package_id][0]):
            best_signed[package_id] = (key, version)
    latest = {package_id: best[package_id][3] if package_id in best else None for package_id in package_ids}
    if latest:
        db.execute(
            update(Package.__table__).where(Package.__table__.c.id == bindparam("pid")),
            [{"pid": pid, "latest_version_id": vid} for pid, vid in latest.items()],
        )
    _write_documents(db, latest, {pid: version for pid, (_, version) in best_signed.items()})
    if isinstance(db, Session):
        db.info[SEARCH_CHANGED] = True


def count_download(
    session: Session, content_digest: str, count: int = 1, *, source_url: str | None = None, path: str | None = None
) -> bool:
    """Count a pull of a content layer, for the version in the repository it was pulled from when
    the event says (the same content may be in several packages and mirrors)."""
    query = select(Version).where(Version.content_digest == content_digest).order_by(Version.id).limit(1)
    if source_url is not None and path is not None:
        query = (
            query.join(Repository, Repository.id == Version.repository_id)
            .join(Source, Source.id == Repository.source_id)
            .where(Source.url == source_url, Repository.path == path)
        )
    row = session.scalar(query)
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
        today = datetime.now(UTC).date()
        upsert = _insert(session)(DownloadDay).values(package_id=package.id, day=today, count=count)
        session.execute(
            upsert.on_conflict_do_update(
                index_elements=["package_id", "day"], set_={"count": DownloadDay.count + count}
            )
        )
    return True


def downloads_by_day(db: Session, viewer: Viewer, days: int = 30) -> list[tuple[str, int]]:
    """(YYYY-MM-DD, downloads) for each of the last `days` days, today last, of the packages this
    viewer may see; [] when none was counted in that time."""
    first = datetime.now(UTC).date() - timedelta(days=days - 1)
    rows = db.execute(
        select(DownloadDay.day, func.sum(DownloadDay.count))
        .join(Package, Package.id == DownloadDay.package_id)
        .where(DownloadDay.day >= first, visible(viewer, Package.namespace))
        .group_by(DownloadDay.day)
    ).all()
    counted = {day: int(total) for day, total in rows}
    if not counted:
        return []
    return [((first + timedelta(days=n)).isoformat(), counted.get(first + timedelta(days=n), 0)) for n in range(days)]


def _name_text(name: str) -> str:
    namespace, _, short = name.partition("/")
    return " ".join(dict.fromkeys([name, namespace, short, *short.replace("_", "-").split("-")]))


def package_ref(source_url: str, path: str) -> str:
    """Where a package lives, as `rigging pull` and `rigging add` take it: REGISTRY/REPOSITORY for
    a registry source (its path prefix only selects repositories), oci:PATH for a layout."""
    if source_url.startswith("oci:"):
        return f"{source_url.rstrip('/')}/{path}" if path else source_url
    return f"{urlsplit(source_url).netloc}/{path}"


def _write_documents(db: Executor, latest: dict[int, int | None], signed_versions: dict[int, str]) -> None:
    """Replace the search documents of these packages by their latest versions' (none if None)."""
    pg = _dialect(db) == "postgresql"
    facets = _has_facets(db)
    for chunk in _chunks(latest):
        db.execute(delete(SearchDocument).where(SearchDocument.package_id.in_(chunk)))
        if not pg:
            db.execute(text("DELETE FROM document_text WHERE rowid IN (" + ",".join(str(int(p)) for p in chunk) + ")"))
    wanted = [vid for vid in latest.values() if vid is not None]
    columns = (
        "package_id, version_id, name, namespace, version, description, keywords, targets, signed, downloads, "
        "signed_version, ref"
    )
    values = (
        ":package_id, :version_id, :name, :namespace, :version, :description, :keywords, :targets, :signed, "
        ":downloads, :signed_version, :ref"
    )
    if facets:
        columns += ", kinds, updated"
        values += ", :kinds, :updated"
    for chunk in _chunks(wanted):
        query = (
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
        )
        if facets:
            query = query.add_columns(Version.files, Version.indexed, ScanResult.file_digests).outerjoin(
                ScanResult, ScanResult.version_id == Version.id
            )
        rows = db.execute(query).all()
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
                **(
                    {
                        "kinds": _json_text(kinds_of(_json_list(r.files), _json_dict(r.file_digests))),
                        "updated": _utc(r.indexed),
                    }
                    if facets
                    else {}
                ),
            }
            for r in rows
        ]
        if not documents:
            continue
        if pg:
            insert_documents = text(
                f"INSERT INTO search_documents ({columns}, document) VALUES ({values}, "
                "setweight(to_tsvector('simple', :name_text), 'A') || "
                "setweight(to_tsvector('simple', :keywords_text), 'B') || "
                "setweight(to_tsvector('simple', :description), 'C') || "
                "setweight(to_tsvector('simple', :readme), 'D'))"
            )
        else:
            insert_documents = text(f"INSERT INTO search_documents ({columns}) VALUES ({values})")
        if facets:  # stored as the column's type does it (SQLite: one text format, so it sorts)
            insert_documents = insert_documents.bindparams(bindparam("updated", type_=DateTime(timezone=True)))
        db.execute(insert_documents, documents)
        if not pg:
            db.execute(
                text(
                    "INSERT INTO document_text (rowid, name, keywords, description, readme) "
                    "VALUES (:package_id, :name_text, :keywords_text, :description, :readme)"
                ),
                documents,
            )


def _has_facets(db: Executor) -> bool:
    """Whether search_documents has the columns migration 0007 adds. The application runs on a
    migrated database (a Session); migrations 0003 and 0004 rebuild documents on a bare
    connection before 0007 has added them (and before 0006 made scan_results)."""
    if isinstance(db, Session):
        return True
    return "kinds" in {column["name"] for column in inspect(db).get_columns("search_documents")}


def kinds_of(files: Iterable[str], scanned: dict[str, Any]) -> list[str]:
    """What a version holds, for search's kinds facet: skills (a skills/NAME/SKILL.md), rules,
    workflows, docs, by package_files' own rules. Docs travel in a layer of their own that the
    index records only as the paths its scan read (`docs/…` keys of the scan's file digests); a
    version with no scan (or an unreadable one) shows no docs."""
    found = set()
    for path in {*files, *scanned}:
        kind = classify(path)
        parts = path.split("/")
        if kind == "skill" and not (len(parts) == 3 and parts[2] == SKILL_FILE):
            continue  # a skill's other files (scripts, references) do not make one
        if kind in _FACETS:
            found.add(_FACETS[kind])
    return sorted(found)


_FACETS = {"skill": "skills", "rule": "rules", "workflow": "workflows", "doc": "docs"}


def _utc(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes, in UTC (CURRENT_TIMESTAMP)."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _json_list(value: Any) -> list:
    import json

    return json.loads(value) if isinstance(value, str) else list(value or [])


def _json_dict(value: Any) -> dict:
    import json

    found = json.loads(value) if isinstance(value, str) else value
    return found if isinstance(found, dict) else {}


def _json_text(value: Any) -> str:
    import json

    return value if isinstance(value, str) else json.dumps(list(value or []))


# -- reading, as a viewer may see it (DESIGN §10) ----------------------------------------------------
#
# Every read of packages, versions, dependency edges, stats and search documents goes through
# `visible`: a package in a private namespace is, to a viewer who may not read it, exactly a
# package the index does not have.


def visible(viewer: Viewer, column: Any) -> ColumnElement[bool]:
    """Rows whose namespace (`column`) this viewer may read: the one visibility rule."""
    return visible_namespace_clause(viewer, column)


def visible_sql(viewer: Viewer, column: str) -> tuple[str, dict[str, Any]]:
    """`visible` as an ` AND …` SQL fragment with its bound values, for search's hand-written query
    (the same clause, compiled, so the rule is still written once)."""
    if viewer.admin:
        return "", {}
    return _compiled_visibility(column, viewer.readable)


@functools.lru_cache(maxsize=1024)
def _compiled_visibility(column: str, readable: frozenset[str]) -> tuple[str, dict[str, Any]]:
    # compiled once per readable set: compiling took a visible share of a cached search's time
    compiled = visible(Viewer(readable=readable), literal_column(column)).compile(
        compile_kwargs={"render_postcompile": True}
    )
    return f" AND {compiled}", dict(compiled.params)


def registry_host(source_url: str) -> str:
    """What users call a source: a registry's host[:port], or the oci: folder itself."""
    return urlsplit(source_url).netloc if "://" in source_url else source_url


def registry_of_ref(ref: str, name: str) -> str:
    """The registry part of a search document's ref (REGISTRY/REPOSITORY or oci:PATH/ns/name)."""
    if ref.startswith("oci:"):
        return ref[: -len(name) - 1] if ref.endswith("/" + name) else ref
    return ref.split("/", 1)[0]


@dataclass
class Found:
    """A package as a viewer finds it by name: where it lives, and the same-named packages of
    other sources it was chosen over."""

    package: Package
    source: Source
    ref: str
    others: list[tuple[Package, Source, str]] = field(default_factory=list)

    @property
    def registry(self) -> str:
        return registry_host(self.source.url)


# The statements of the reads every package page makes, built once each (with bound values):
# building a statement and its cache key anew took a third of a page's time in the database layer.
@functools.lru_cache(maxsize=256)
def _package_query(admin: bool, readable: frozenset[str]) -> Select[tuple[Package, Source, str | None]]:
    return (
        select(Package, Source, SearchDocument.ref)  # its reference in the same round trip
        .join(Source, Source.id == Package.source_id)
        .outerjoin(SearchDocument, SearchDocument.package_id == Package.id)
        .where(Package.name == bindparam("name"), visible(Viewer(admin=admin, readable=readable), Package.namespace))
    )


@functools.lru_cache(maxsize=4)
def _versions_query(quarantined: bool, brief: bool) -> Select[tuple[Version, Repository, Source]]:
    query = (
        select(Version, Repository, Source)
        .join(Repository, Repository.id == Version.repository_id)
        .join(Source, Source.id == Repository.source_id)
        .where(
            Version.package_id == bindparam("package_id"),
            Version.deleted.is_(False),
            Version.quarantined.is_(quarantined),
        )
        .order_by(Version.id)
    )
    return query.options(*(defer(column) for column in HEAVY_COLUMNS)) if brief else query


def find_package(
    db: Session, viewer: Viewer, name: str, *, registry: str | None = None, order: Sequence[str] = ()
) -> Found | None:
    """The package `name` this viewer may see: the one in `registry` (its host, or a mirror's)
    when given, else the first in configured source order (`order`, source URLs), then the oldest
    source. None when there is none the viewer may see, invisible ones included."""
    rows = db.execute(_package_query(viewer.admin, viewer.readable), {"name": name}).all()
    rank = {url: position for position, url in enumerate(order)}
    rows.sort(key=lambda row: (rank.get(row.Source.url, len(rank)), row.Source.id))
    if registry is not None:  # that one first; the others are still its alternatives
        rows.sort(key=lambda row: registry not in _hosts(db, row.Source))
    if not rows or (registry is not None and registry not in _hosts(db, rows[0].Source)):
        return None
    (package, source, ref), *others = rows
    return Found(
        package,
        source,
        ref or package_ref(source.url, package.name),
        [(p, s, r or package_ref(s.url, p.name)) for p, s, r in others],
    )


def _hosts(db: Session, source: Source) -> set[str]:
    mirrors = db.scalars(select(Source.url).where(Source.mirror_of == source.id))
    return {registry_host(source.url), *(registry_host(url) for url in mirrors)}


def placed_versions() -> Select[tuple[Version, Package, Repository, Source]]:
    """A query of versions with their package and where they live (repository, source)."""
    return (
        select(Version, Package, Repository, Source)
        .join(Package, Package.id == Version.package_id)
        .join(Repository, Repository.id == Version.repository_id)
        .join(Source, Source.id == Repository.source_id)
    )


# what a list of versions need not read
HEAVY_COLUMNS = (Version.readme, Version.readme_html, Version.files, Version.config)


def version_rows(
    db: Session, package: Package, *, quarantined: bool, brief: bool = False
) -> list[tuple[Version, Repository, Source]]:
    """A package's undeleted versions that are (or are not) quarantined, each with where it lives,
    in the order they were indexed. `brief`: without HEAVY_COLUMNS, loaded when first read (the
    portal's version picker reads a package's every version but one version's README)."""
    rows = db.execute(_versions_query(quarantined, brief), {"package_id": package.id}).all()
    return [(version, repo, src) for version, repo, src in rows]


def package_versions(db: Session, package: Package, *, brief: bool = False) -> list[tuple[Version, Repository, Source]]:
    """A package's versions that are neither deleted nor quarantined, newest first; a version a
    mirror holds too is listed once, from the package's own source."""
    rows = version_rows(db, package, quarantined=False, brief=brief)
    chosen: dict[str, tuple[Version, Repository, Source]] = {}
    for version, repo, src in rows:
        if version.version not in chosen or (src.id == package.source_id != chosen[version.version][2].id):
            chosen[version.version] = (version, repo, src)
    return sorted(chosen.values(), key=lambda row: semver_key(row[0].version), reverse=True)


def semver_key(text_version: str) -> tuple:
    """SemVer order, a version that is not SemVer first."""
    try:
        return (1, SemVer.parse(text_version)._key)
    except ValueError:
        return (0, ())


def dependencies(db: Session, viewer: Viewer, version: Version, order: Sequence[str] = ()) -> list[dict[str, Any]]:
    """A version's dependency edges and the packages they lead to, as this viewer may see them: a
    dependency on a package it may not see reads exactly as one on a package not in the index."""
    package = db.get(Package, version.package_id)
    own = db.get(Source, package.source_id) if package is not None else None
    preferred = [own.url, *order] if own is not None else list(order)  # the dependent's registry first
    edges = []
    for edge in db.scalars(select(Dependency).where(Dependency.version_id == version.id).order_by(Dependency.name)):
        found = find_package(db, viewer, edge.name, order=preferred)
        if found is None or found.package.latest_version_id is None:  # nothing shown: as if unknown
            edges.append({"name": edge.name, "range": edge.range, "indexed": False})
            continue
        latest = db.get(Version, found.package.latest_version_id) if found.package.latest_version_id else None
        edges.append(
            {
                "name": edge.name,
                "range": edge.range,
                "indexed": True,
                "registry": found.registry,
                "ref": found.ref,
                "latest": latest.version if latest is not None else None,
            }
        )
    return edges


def stats(db: Session, viewer: Viewer) -> dict[str, Any]:
    """Counts, downloads and the most downloaded packages, of what this viewer may see; packages
    per source (registry)."""
    # a package with nothing to show (every version held or deleted) is not counted: it answers 404
    shown = visible(viewer, Package.namespace) & Package.latest_version_id.is_not(None)
    top = db.execute(
        select(Package.name, Package.downloads, Source.url)
        .join(Source, Source.id == Package.source_id)
        .where(shown)
        .order_by(Package.downloads.desc(), Package.name, Source.id)
        .limit(10)
    ).all()
    per_source = db.execute(
        select(Source.url, func.count(Package.id))
        .join(Package, Package.source_id == Source.id)
        .where(shown)
        .group_by(Source.id, Source.url)
        .order_by(Source.id)
    ).all()
    versions = (
        select(func.count())
        .select_from(Version)
        .join(Package, Package.id == Version.package_id)
        .where(Version.deleted.is_(False), Version.quarantined.is_(False), shown)
    )
    return {
        "packages": db.scalar(select(func.count()).select_from(Package).where(shown)) or 0,
        "versions": db.scalar(versions) or 0,
        # int: PostgreSQL sums a bigint as numeric, which JSON would write as a string
        "downloads": int(db.scalar(select(func.coalesce(func.sum(Package.downloads), 0)).where(shown)) or 0),
        "top": [{"name": n, "registry": registry_host(url), "downloads": d} for n, d, url in top],
        "sources": [{"registry": registry_host(url), "source": url, "packages": n} for url, n in per_source],
    }


def crawl_problems(db: Session, limit: int = 500) -> list[dict[str, Any]]:
    """Repositories whose last crawl (or push notification) failed, with why: for admins only,
    since a problem names repositories of every namespace, private ones included."""
    rows = db.execute(
        select(CrawlJob, Source.url)
        .join(Source, Source.id == CrawlJob.source_id)
        .where(CrawlJob.state == "failed")
        .order_by(CrawlJob.updated.desc(), CrawlJob.id)
        .limit(limit)
    ).all()
    return [
        {
            "source": url,
            "registry": registry_host(url),
            "repository": job.path,
            "error": job.error,
            "attempts": job.attempts,
            "updated": job.updated.isoformat() if job.updated else None,
        }
        for job, url in rows
    ]
