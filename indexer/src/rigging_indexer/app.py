"""The indexer's HTTP API (`/api/v1`, OpenAPI at /api/v1/openapi.json), the registry webhook,
/stats, /healthz and Prometheus /metrics.

Every reading route asks `request_viewer` who is asking and hands the viewer to the store, whose
queries apply visibility (store.visible); routes never filter on their own. A package the viewer
may not see answers 404 with the very body of a package that does not exist.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from rigging import __version__ as core_version
from rigging_indexer import jobs, scanning, store
from rigging_indexer.access import Viewer
from rigging_indexer.auth import request_viewer
from rigging_indexer.crawler import USER_AGENT, Crawler, parse_source
from rigging_indexer.db import generation_reader
from rigging_indexer.models import CrawlJob, Package, Repository, ScanJob, ScanResult, Source, Version
from rigging_indexer.result_cache import ResultCache
from rigging_indexer.search import MAX_FILTER_CHARS, MAX_QUERY_CHARS, Kind, Sort, search
from rigging_indexer.search import count as search_count


class Settings:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        sources: list[str] | None = None,
        webhook_secret: str | None = None,
        ca_file: str | None = None,
        cache_entries: int = 10_000,
        auth: Any = None,
        mirrors: dict[str, str] | None = None,
        moderation: str = "none",
        attestation_key: str | None = None,
        attestation_key_password: str | None = None,
    ) -> None:
        self.sessions = sessions
        self.sources = sources or []  # in order: of same-named packages, the first source's is shown
        self.mirrors = mirrors or {}  # mirror source URL -> the source URL it mirrors
        self.webhook_secret = webhook_secret
        self.ca_file = ca_file
        self.cache_entries = cache_entries  # 0 turns the search result cache off
        self.auth = auth  # sign-in, tokens and the registry token service (rigging_indexer.auth)
        self.moderation = moderation  # none | flagged | all: the instance's; namespaces may override
        self.attestation_key = attestation_key  # a path; the password is a reference (env:VAR, file:PATH)
        self.attestation_key_password = attestation_key_password


def create_app(settings: Settings) -> FastAPI:
    app = FastAPI(
        title="Rigging indexer",
        version=core_version,
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
    )
    crawler_lock = threading.Lock()
    crawler = Crawler(settings.sessions, ca_file=settings.ca_file, concurrency=2, moderation=settings.moderation)
    engine = settings.sessions.kw["bind"]
    cache = ResultCache(generation_reader(engine), entries=settings.cache_entries)
    app.state.search_cache = cache
    key = (
        scanning.load_key(settings.attestation_key, settings.attestation_key_password)
        if settings.attestation_key
        else None
    )
    from rigging_indexer import review

    app.include_router(
        review.router(
            settings.sessions,
            moderation=settings.moderation,
            key=key,
            ca_file=settings.ca_file,
            invalidate=cache.invalidate,
        )
    )
    with settings.sessions() as s:
        store.configure_mirrors(s, settings.mirrors)
        s.commit()
    from rigging_indexer import auth

    auth.install(app, settings)

    def session() -> Any:
        with settings.sessions() as s:
            yield s

    @app.get("/healthz")
    def healthz(s: Session = Depends(session)) -> dict[str, str]:
        s.execute(text("SELECT 1"))
        return {"status": "ok", "service": "rigging-indexer", "version": core_version}

    @app.get(
        "/api/v1/packages",
        responses={200: {"description": "{query, total, results: [hit…]}: a page of results, best first"}},
    )
    async def search_packages(
        q: str = Query("", max_length=MAX_QUERY_CHARS),
        namespace: str | None = Query(None, max_length=MAX_FILTER_CHARS),
        keyword: str | None = Query(None, max_length=MAX_FILTER_CHARS),
        signed: bool | None = Query(None, description="true: packages with a signed version, the newest shown"),
        target: str | None = Query(None, max_length=MAX_FILTER_CHARS),
        kind: list[Kind] | None = Query(None, description="packages holding these (repeat for each of several)"),
        verified: bool | None = Query(None, description="true: from claimed namespaces only; false: unclaimed only"),
        sort: Sort = Query("relevance", description="relevance, downloads (most first), updated (newest first)"),
        limit: int = Query(20, ge=1, le=100),
        offset: int = Query(0, ge=0),
        viewer: Viewer = Depends(request_viewer),
    ) -> Response:
        # What the viewer may see is part of the key: one viewer's results never serve another
        # who may see less. (Changes to namespaces bump the generation: migration 0005's trigger,
        # which also keeps `verified` current.) Kinds in one order: the same search, one entry.
        sees = ("*",) if viewer.admin else tuple(sorted(viewer.readable))
        kinds = tuple(sorted(set(kind or ())))
        key = (q, namespace, keyword, signed, target, kinds, verified, sort, limit, offset, sees)
        generation, body = cache.get(key)
        if body is None:
            body = await _computed(generation, key, viewer)
        return Response(body, media_type="application/json")

    computing: dict[tuple, asyncio.Future[bytes]] = {}  # (generation, query) -> its database query

    async def _computed(generation: int | None, key: tuple, viewer: Viewer) -> bytes:
        """One database query per (generation, query) however many clients ask at once: a popular
        query missing the cache would otherwise be computed by every request that arrives meanwhile."""
        flight = (generation, key)
        future = computing.get(flight)
        if future is None:  # the database work runs off the event loop
            future = computing[flight] = asyncio.ensure_future(run_in_threadpool(_search_body, key, viewer))
            future.add_done_callback(lambda _: computing.pop(flight, None))
            body = await asyncio.shield(future)
            cache.put(key, generation, body)
            return body
        return await asyncio.shield(future)

    def _search_body(key: tuple, viewer: Viewer) -> bytes:
        q, namespace, keyword, signed, target, kinds, verified, sort, limit, offset, _ = key
        filters: dict[str, Any] = {
            "namespace": namespace,
            "keyword": keyword,
            "signed": signed,
            "target": target,
            "kind": kinds,
            "verified": verified,
            "viewer": viewer,
        }
        with settings.sessions() as s:
            hits = search(s, q, sort=sort, limit=limit, offset=offset, **filters)
            total = _total(s, q, offset, limit, len(hits), filters)
        body = {"query": q, "total": total, "results": [h.as_dict() for h in hits]}
        return json.dumps(body, separators=(",", ":")).encode()

    def _total(s: Session, q: str, offset: int, limit: int, shown: int, filters: dict[str, Any]) -> int:
        """All the pages' results: known from this page unless it is full (or past the end)."""
        if 0 < shown < limit or (shown == 0 and offset == 0):
            return offset + shown
        return search_count(s, q, **filters)

    registry_query = Query(None, max_length=300, description="host[:port] of the registry (or a mirror of it)")

    def _readable(
        namespace: str,
        name: str,
        registry: str | None = registry_query,
        viewer: Viewer = Depends(request_viewer),
        s: Session = Depends(session),  # the route's own session too: FastAPI makes one per request
    ) -> store.Found:
        """Dependency: the package a route is about, if this viewer may read its namespace."""
        found = store.find_package(s, viewer, f"{namespace}/{name}", registry=registry, order=settings.sources)
        if found is None:  # missing and not visible to this viewer read the same
            raise HTTPException(404, f"package {namespace}/{name} is not in the index")
        return found

    def _found(
        found: store.Found = Depends(_readable),
        viewer: Viewer = Depends(request_viewer),
        s: Session = Depends(session),
    ) -> store.Found:
        """Dependency: the package a page or search result is about: one held with nothing else to
        show is not shown (but for those who review it)."""
        if found.package.latest_version_id is None and not _shown(s, viewer, found.package):
            raise HTTPException(404, f"package {found.package.name} is not in the index")
        return found

    def _shown(s: Session, viewer: Viewer, package: Package) -> bool:
        """A package with no visible version: still shown unless all it has is held versions that
        this viewer may not see (an outsider must not learn a quarantined package exists)."""
        if viewer.may_see_held(package.namespace):
            return True
        held = select(Version.id).where(
            Version.package_id == package.id, Version.deleted.is_(False), Version.quarantined.is_(True)
        )
        return s.scalar(held.limit(1)) is None

    def _held(s: Session, viewer: Viewer, package: Package) -> list[dict[str, Any]] | None:
        """The package's quarantined versions with their findings, for those who may see them."""
        if not viewer.may_see_held(package.namespace):
            return None
        rows = store.version_rows(s, package, quarantined=True)
        return [review.version_entry(s, v, package, repo, src) for v, repo, src in rows]

    def _where(found: store.Found) -> dict[str, Any]:
        """Which registry the package comes from, and the same-named packages of other sources."""
        where: dict[str, Any] = {"registry": found.registry, "ref": found.ref}
        if found.others:
            where["alternatives"] = [
                {"registry": store.registry_host(src.url), "ref": ref} for _, src, ref in found.others
            ]
        return where

    @app.get("/api/v1/packages/{namespace}/{name}")
    def package_detail(
        found: store.Found = Depends(_found), viewer: Viewer = Depends(request_viewer), s: Session = Depends(session)
    ) -> dict[str, Any]:
        package = found.package
        versions = store.package_versions(s, package)
        latest = s.get(Version, package.latest_version_id) if package.latest_version_id else None
        detail: dict[str, Any] = {
            "name": package.name,
            **_where(found),
            "downloads": package.downloads,
            "versions": [v.version for v, _, _ in versions],
        }
        held = _held(s, viewer, package)
        if held is not None:  # maintainers, reviewers and admins see what is quarantined, and why
            detail["held"] = held
        if latest is not None:
            scan = s.get(ScanResult, latest.id)
            at = next(((repo, src) for v, repo, src in versions if v.id == latest.id), None)
            requires = store.dependencies(s, viewer, latest, settings.sources)
            detail["latest"] = {
                "version": latest.version,
                "manifest": latest.manifest_digest,
                "description": latest.description,
                "keywords": latest.keywords,
                "license": latest.license,
                "targets": latest.targets,
                "dependencies": {edge["name"]: edge["range"] for edge in requires},
                "requires": requires,  # each dependency and the package it leads to, when indexed
                "readme": latest.readme,
                "files": latest.files,
                "size": latest.size,
                "signatures": latest.signed_by,
                "created": latest.created,
                "source": at[1].url if at else None,
                "repository": at[0].path if at else None,
                "scan": scanning.result_dict(scan),
                "capabilities": scan.capabilities if scan is not None else None,
            }
        return detail

    @app.get("/api/v1/packages/{namespace}/{name}/versions/{version}")
    def version_detail(
        version: str,
        found: store.Found = Depends(_found),
        viewer: Viewer = Depends(request_viewer),
        s: Session = Depends(session),
    ) -> dict[str, Any]:
        """One version with its scan (findings, capabilities); a held one only to those who may see it."""
        rows = s.execute(
            select(Version, Repository, Source)
            .join(Repository, Repository.id == Version.repository_id)
            .join(Source, Source.id == Repository.source_id)
            .where(Version.package_id == found.package.id, Version.version == version, Version.deleted.is_(False))
            .order_by(Version.quarantined, (Source.id != found.package.source_id), Version.id)
        ).all()
        for row, repo, src in rows:
            if not row.quarantined or viewer.may_see_held(found.package.namespace):
                return {
                    **review.version_entry(s, row, found.package, repo, src),
                    "content": {"digest": row.content_digest, "size": row.content_size},
                    "dependencies": dict(row.config.get("dependencies") or {}),
                    "signatures": row.signed_by,
                    "files": row.files,
                }
        raise HTTPException(404, f"{found.package.name} has no version {version} in the index")

    @app.get("/api/v1/packages/{namespace}/{name}/versions")
    def package_versions(found: store.Found = Depends(_readable), s: Session = Depends(session)) -> dict[str, Any]:
        """Everything the resolver needs about a package, in one request. `held`: the versions the
        index keeps back (quarantined, or waiting for a reviewer), which a client must not take
        from the registry's tag list either; so a readable package whose every version is held
        answers here with no versions, rather than 404, after which a client reads the registry."""
        listed = store.package_versions(s, found.package)
        held = sorted({v.version for v, _, _ in store.version_rows(s, found.package, quarantined=True)})
        verdicts = dict(
            s.execute(
                select(ScanResult.version_id, ScanResult.verdict).where(
                    ScanResult.version_id.in_([v.id for v, _, _ in listed])
                )
            ).all()
        )
        out = [
            {
                "version": v.version,
                "manifest": v.manifest_digest,
                "content": {"digest": v.content_digest, "size": v.content_size},
                "dependencies": dict(v.config.get("dependencies") or {}),
                "signatures": v.signed_by,
                "registry": store.registry_host(src.url),
                "repository": repo.path,
                "scan": verdicts.get(v.id),  # pass | warn (block never lists), None before any scan
            }
            for v, repo, src in listed
        ]
        return {"name": found.package.name, **_where(found), "versions": out, "held": held}

    @app.get("/api/v1/stats")
    def stats(viewer: Viewer = Depends(request_viewer), s: Session = Depends(session)) -> dict[str, Any]:
        """Packages, versions, downloads and the top list, of what the viewer may see. The crawl
        section counts jobs by state, names none: the operator's figures, as /metrics."""
        states = dict(s.execute(select(CrawlJob.state, func.count()).group_by(CrawlJob.state)).all())
        last = s.scalar(select(func.max(CrawlJob.updated)).where(CrawlJob.state == "done"))
        scans = dict(s.execute(select(ScanJob.state, func.count()).group_by(ScanJob.state)).all())
        return {
            **store.stats(s, viewer),
            "crawl": {"jobs": states, "pending": jobs.pending(s), "last_done": last.isoformat() if last else None},
            "scan": {"jobs": scans, "pending": scanning.pending(s), "rules": scanning.RULES_VERSION},
        }

    @app.get("/api/v1/admin/crawl-problems", include_in_schema=False)
    def crawl_problems(viewer: Viewer = Depends(request_viewer), s: Session = Depends(session)) -> dict[str, Any]:
        """Repositories whose crawl or push notification failed (impostors among them). Not there at
        all for anyone but an admin: the very 404 of a path that does not exist."""
        if not viewer.admin:
            raise HTTPException(404, "Not Found")
        return {"problems": store.crawl_problems(s)}

    @app.get("/metrics")
    def metrics(s: Session = Depends(session)) -> Response:
        """Operator totals for Prometheus: whole-index counts (private namespaces included), with no
        package, namespace or repository label, so nothing here names what a viewer may not see.
        Per-viewer figures are /api/v1/stats."""
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest

        registry = CollectorRegistry()
        Gauge("rigging_index_packages", "Packages in the index", registry=registry).set(
            s.scalar(select(func.count()).select_from(Package)) or 0
        )
        Gauge("rigging_index_versions", "Versions in the index (not deleted)", registry=registry).set(
            s.scalar(select(func.count()).select_from(Version).where(Version.deleted.is_(False))) or 0
        )
        Gauge("rigging_index_downloads", "Downloads counted from registry events", registry=registry).set(
            s.scalar(select(func.coalesce(func.sum(Package.downloads), 0))) or 0
        )
        jobs_gauge = Gauge("rigging_index_crawl_jobs", "Crawl jobs by state", ["state"], registry=registry)
        for state, count in s.execute(select(CrawlJob.state, func.count()).group_by(CrawlJob.state)).all():
            jobs_gauge.labels(state=state).set(count)
        scans_gauge = Gauge("rigging_index_scan_jobs", "Scan jobs by state", ["state"], registry=registry)
        for state, count in s.execute(select(ScanJob.state, func.count()).group_by(ScanJob.state)).all():
            scans_gauge.labels(state=state).set(count)
        held = select(func.count()).select_from(Version).where(Version.deleted.is_(False), Version.quarantined)
        Gauge("rigging_index_quarantined_versions", "Versions held (findings, moderation)", registry=registry).set(
            s.scalar(held) or 0
        )
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.post("/api/v1/webhooks/registry", status_code=202)
    async def registry_webhook(request: Request, authorization: str | None = Header(None)) -> dict[str, int]:
        """CNCF distribution `notifications`: a push indexes the manifest at once; a pull of a
        package's content layer counts a download. Authenticated with a shared secret."""
        if not settings.webhook_secret:
            raise HTTPException(503, "webhooks are off: start the indexer with --webhook-secret")
        expected = f"Bearer {settings.webhook_secret}"
        if authorization is None or not hmac.compare_digest(authorization.encode(), expected.encode()):
            raise HTTPException(401, "bad or missing Authorization for the registry webhook")
        try:
            body = await request.json()
            events = list(body.get("events") or [])
        except (ValueError, AttributeError):
            raise HTTPException(400, "body is not a distribution notification envelope") from None
        return await asyncio.to_thread(_apply_events, events)

    def _apply_events(events: list[dict[str, Any]]) -> dict[str, int]:
        indexed = downloads = 0
        for event in events:
            target = event.get("target") or {}
            digest, repository = target.get("digest"), target.get("repository")
            if not digest or not repository:
                continue
            agent = str((event.get("request") or {}).get("useragent") or "")
            if event.get("action") == "pull" and agent.startswith(USER_AGENT):
                continue  # the indexer reading a package to index it
            if event.get("action") == "pull" and not _is_manifest(target.get("mediaType")):
                source = _source_for(target.get("url", ""), repository)
                with settings.sessions() as s:
                    if store.count_download(s, digest, source_url=source, path=repository if source else None):
                        downloads += 1
                    s.commit()
            elif event.get("action") == "push" and _is_manifest(target.get("mediaType")):
                source = _source_for(target.get("url", ""), repository)
                if source is None:
                    continue
                with crawler_lock:
                    if crawler.index_push(source, repository, target.get("tag"), digest):
                        indexed += 1
                cache.invalidate()
                _recheck_later(source, repository)
        return {"indexed": indexed, "downloads": downloads}

    # A registry drops a notification it cannot deliver in time, so each push also compares its
    # repository's tag list with the index and indexes what was missed: after the reply, one
    # repository at a time, and once however many pushes arrive while one is waiting.
    recheck_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rigging-recheck")
    recheck_waiting: set[tuple[str, str]] = set()
    recheck_lock = threading.Lock()

    def _recheck_later(source: str, repository: str) -> None:
        with recheck_lock:
            if (source, repository) in recheck_waiting:
                return
            recheck_waiting.add((source, repository))
        recheck_pool.submit(_recheck, source, repository)

    def _recheck(source: str, repository: str) -> None:
        with recheck_lock:
            recheck_waiting.discard((source, repository))
        try:
            with crawler_lock:
                missed = _index_missed_tags(source, repository)
        except Exception as exc:  # the next push or crawl tries again; the server carries on
            print(f"rigging-indexer: re-checking {repository}'s tags failed: {exc}", file=sys.stderr, flush=True)
            return
        if missed:
            cache.invalidate()

    def _index_missed_tags(source: str, repository: str) -> int:
        """Index the tags the registry has and the index does not; how many."""
        kind, where, _ = parse_source(source)
        client = crawler.client(kind, where)
        tags = client.tags(repository)
        with settings.sessions() as s:
            known = store.known_tags(s, store.repository_id(s, store.source_id(s, source), repository))
            s.commit()
        missed = 0
        for tag in tags:
            digest = None if tag in known else client.head_manifest(repository, tag)
            if digest is not None:
                crawler.index_push(source, repository, tag, digest)
                missed += 1
        return missed

    def _source_for(url: str, repository: str) -> str | None:
        """The configured source this event's registry and repository belong to (others are ignored)."""
        from urllib.parse import urlsplit

        host = urlsplit(url).netloc
        for src in settings.sources:
            parts = urlsplit(src)
            prefix = parts.path.strip("/")
            if parts.netloc == host and (not prefix or repository == prefix or repository.startswith(prefix + "/")):
                return src
        return None

    return app


def from_environment() -> FastAPI:
    """The app `rigging-indexer serve` runs in each worker process, from the settings it exported."""
    import os

    from rigging_indexer.db import make_engine, sessions
    from rigging_indexer.main import SERVE_SETTINGS

    values = json.loads(os.environ[SERVE_SETTINGS])
    return create_app(
        Settings(
            sessions(make_engine(values["database"])),
            sources=values["sources"],
            webhook_secret=values["webhook_secret"],
            ca_file=values["ca_file"],
            cache_entries=values["cache_entries"],
            mirrors=values.get("mirrors") or {},
            auth=values.get("auth"),
            moderation=values.get("moderation") or "none",
            attestation_key=values.get("attestation_key"),
            attestation_key_password=values.get("attestation_key_password"),
        )
    )


def _is_manifest(media_type: str | None) -> bool:
    return bool(media_type) and ("manifest" in media_type or "index" in media_type)  # type: ignore[operator]
