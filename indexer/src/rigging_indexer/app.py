"""The indexer's HTTP API (`/api/v1`, OpenAPI at /api/v1/openapi.json), the registry webhook,
/stats, /healthz and Prometheus /metrics."""

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
from rigging_indexer import jobs, store
from rigging_indexer.crawler import USER_AGENT, Crawler, parse_source
from rigging_indexer.db import generation_reader
from rigging_indexer.models import CrawlJob, Dependency, Package, Repository, Source, Version
from rigging_indexer.result_cache import ResultCache
from rigging_indexer.search import MAX_FILTER_CHARS, MAX_QUERY_CHARS, search


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
    ) -> None:
        self.sessions = sessions
        self.sources = sources or []
        self.webhook_secret = webhook_secret
        self.ca_file = ca_file
        self.cache_entries = cache_entries  # 0 turns the search result cache off
        self.auth = auth  # sign-in, tokens and the registry token service (rigging_indexer.auth)


def create_app(settings: Settings) -> FastAPI:
    app = FastAPI(
        title="Rigging indexer",
        version=core_version,
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
    )
    crawler_lock = threading.Lock()
    crawler = Crawler(settings.sessions, ca_file=settings.ca_file, concurrency=2)
    engine = settings.sessions.kw["bind"]
    cache = ResultCache(generation_reader(engine), entries=settings.cache_entries)
    app.state.search_cache = cache
    from rigging_indexer import auth

    auth.install(app, settings)

    def session() -> Any:
        with settings.sessions() as s:
            yield s

    @app.get("/healthz")
    def healthz(s: Session = Depends(session)) -> dict[str, str]:
        s.execute(text("SELECT 1"))
        return {"status": "ok", "service": "rigging-indexer", "version": core_version}

    @app.get("/api/v1/packages", responses={200: {"description": "{query, results: [hit…]}, best first"}})
    async def search_packages(
        q: str = Query("", max_length=MAX_QUERY_CHARS),
        namespace: str | None = Query(None, max_length=MAX_FILTER_CHARS),
        keyword: str | None = Query(None, max_length=MAX_FILTER_CHARS),
        signed: bool | None = Query(None, description="true: packages with a signed version, the newest shown"),
        target: str | None = Query(None, max_length=MAX_FILTER_CHARS),
        limit: int = Query(20, ge=1, le=100),
        offset: int = Query(0, ge=0),
    ) -> Response:
        key = (q, namespace, keyword, signed, target, limit, offset)
        generation, body = cache.get(key)
        if body is None:
            body = await _computed(generation, key)
        return Response(body, media_type="application/json")

    computing: dict[tuple, asyncio.Future[bytes]] = {}  # (generation, query) -> its database query

    async def _computed(generation: int | None, key: tuple) -> bytes:
        """One database query per (generation, query) however many clients ask at once: a popular
        query missing the cache would otherwise be computed by every request that arrives meanwhile."""
        flight = (generation, key)
        future = computing.get(flight)
        if future is None:  # the database work runs off the event loop
            future = computing[flight] = asyncio.ensure_future(run_in_threadpool(_search_body, key))
            future.add_done_callback(lambda _: computing.pop(flight, None))
            body = await asyncio.shield(future)
            cache.put(key, generation, body)
            return body
        return await asyncio.shield(future)

    def _search_body(key: tuple) -> bytes:
        q, namespace, keyword, signed, target, limit, offset = key
        with settings.sessions() as s:
            hits = search(
                s, q, namespace=namespace, keyword=keyword, signed=signed, target=target, limit=limit, offset=offset
            )
        return json.dumps({"query": q, "results": [h.as_dict() for h in hits]}, separators=(",", ":")).encode()

    def _package(s: Session, namespace: str, name: str) -> Package:
        package = s.scalar(select(Package).where(Package.name == f"{namespace}/{name}"))
        if package is None:
            raise HTTPException(404, f"package {namespace}/{name} is not in the index")
        return package

    def _visible(s: Session, package: Package) -> list[Version]:
        rows = s.scalars(
            select(Version).where(
                Version.package_id == package.id, Version.deleted.is_(False), Version.quarantined.is_(False)
            )
        )
        return sorted(rows, key=lambda v: _semver_key(v.version), reverse=True)

    @app.get("/api/v1/packages/{namespace}/{name}")
    def package_detail(namespace: str, name: str, s: Session = Depends(session)) -> dict[str, Any]:
        package = _package(s, namespace, name)
        versions = _visible(s, package)
        latest = s.get(Version, package.latest_version_id) if package.latest_version_id else None
        detail: dict[str, Any] = {
            "name": package.name,
            "downloads": package.downloads,
            "versions": [v.version for v in versions],
        }
        if latest is not None:
            repo = s.get(Repository, latest.repository_id)
            src = s.get(Source, repo.source_id) if repo else None
            detail["latest"] = {
                "version": latest.version,
                "manifest": latest.manifest_digest,
                "description": latest.description,
                "keywords": latest.keywords,
                "license": latest.license,
                "targets": latest.targets,
                "dependencies": {
                    d.name: d.range for d in s.scalars(select(Dependency).where(Dependency.version_id == latest.id))
                },
                "readme": latest.readme,
                "files": latest.files,
                "size": latest.size,
                "signatures": latest.signed_by,
                "created": latest.created,
                "source": src.url if src else None,
                "repository": repo.path if repo else None,
            }
        return detail

    @app.get("/api/v1/packages/{namespace}/{name}/versions")
    def package_versions(namespace: str, name: str, s: Session = Depends(session)) -> dict[str, Any]:
        """Everything the resolver needs about a package, in one request."""
        package = _package(s, namespace, name)
        out = []
        for v in _visible(s, package):
            repo = s.get(Repository, v.repository_id)
            src = s.get(Source, repo.source_id) if repo else None
            out.append(
                {
                    "version": v.version,
                    "manifest": v.manifest_digest,
                    "content": {"digest": v.content_digest, "size": v.content_size},
                    "dependencies": dict(v.config.get("dependencies") or {}),
                    "signatures": v.signed_by,
                    "registry": _registry_host(src.url) if src else None,
                    "repository": repo.path if repo else None,
                }
            )
        return {"name": package.name, "versions": out}

    @app.get("/api/v1/stats")
    def stats(s: Session = Depends(session)) -> dict[str, Any]:
        top = s.execute(
            select(Package.name, Package.downloads).order_by(Package.downloads.desc(), Package.name).limit(10)
        ).all()
        states = dict(s.execute(select(CrawlJob.state, func.count()).group_by(CrawlJob.state)).all())
        last = s.scalar(select(func.max(CrawlJob.updated)).where(CrawlJob.state == "done"))
        return {
            "packages": s.scalar(select(func.count()).select_from(Package)) or 0,
            "versions": s.scalar(select(func.count()).select_from(Version).where(Version.deleted.is_(False))) or 0,
            "downloads": s.scalar(select(func.coalesce(func.sum(Package.downloads), 0))) or 0,
            "top": [{"name": n, "downloads": d} for n, d in top],
            "crawl": {"jobs": states, "pending": jobs.pending(s), "last_done": last.isoformat() if last else None},
        }

    @app.get("/metrics")
    def metrics(s: Session = Depends(session)) -> Response:
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
                with settings.sessions() as s:
                    if store.count_download(s, digest):
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
        )
    )


def _is_manifest(media_type: str | None) -> bool:
    return bool(media_type) and ("manifest" in media_type or "index" in media_type)  # type: ignore[operator]


def _registry_host(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).netloc if "://" in url else url


def _semver_key(text_version: str) -> tuple:
    from rigging.versions import Version as SemVer

    try:
        return (1, SemVer.parse(text_version)._key)
    except ValueError:
        return (0, ())
