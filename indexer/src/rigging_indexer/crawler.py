"""Crawling sources into the index.

A source is `http(s)://registry` (every repository `_catalog` lists), `…/namespace` (those under
it), `…/namespace/name` (that one repository, for registries that refuse `_catalog`), or
`oci:PATH` (an OCI layout folder). Each repository is one job. A tag whose digest (HEAD) has not
changed costs no manifest download; anything that is not a Rigging package is skipped quietly.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from rigging.archive import iter_layer
from rigging.errors import RiggingError
from rigging.registry.client import RegistryClient
from rigging.registry.errors import RegistryError
from rigging.transfer import Package, parse_package_manifest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from rigging import mediatypes as mt
from rigging_indexer import jobs, store
from rigging_indexer.models import Source, Version

SIGNATURE_TAG_SUFFIX = ".sig"
USER_AGENT = "rigging-indexer/0.1"  # registry events from our own reads are not downloads


@dataclass
class CrawlStats:
    repositories: int = 0
    indexed: int = 0
    unchanged: int = 0
    skipped: int = 0
    manifests_fetched: int = 0
    errors: list[str] = field(default_factory=list)


def parse_source(url: str) -> tuple[str, str, str]:
    """(kind, host or layout path, path prefix) of a source URL."""
    if url.startswith("oci:"):
        return "layout", url[4:], ""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise RiggingError(f"source {url!r}: use http(s)://REGISTRY[/NAMESPACE[/NAME]] or oci:PATH")
    return parts.scheme, parts.netloc, parts.path.strip("/")


def _signature_tag(tag: str) -> bool:
    return tag.startswith("sha256-")


class Crawler:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        worker: str | None = None,
        lease_seconds: float = 60,
        concurrency: int = 4,
        ca_file: str | None = None,
    ) -> None:
        self.sessions = sessions
        self.worker = worker or f"{os.uname().nodename}:{os.getpid()}"
        self.lease_seconds = lease_seconds
        self.concurrency = concurrency
        self.ca_file = ca_file
        self.clients: dict[str, RegistryClient] = {}
        self.referrers_api: dict[str, bool] = {}
        self.stats = CrawlStats()

    def close(self) -> None:
        for client in self.clients.values():
            client.close()

    def client(self, scheme: str, host: str) -> RegistryClient:
        if host not in self.clients:
            self.clients[host] = RegistryClient(
                host, plain_http=scheme == "http", ca_bundle=self.ca_file, user_agent=USER_AGENT
            )
        return self.clients[host]

    # -- jobs --------------------------------------------------------------------------------

    def enqueue(self, url: str) -> int:
        kind, where, prefix = parse_source(url)
        if kind == "layout":
            paths = [""]
        elif prefix.count("/") >= 1:
            paths = [prefix]
        else:
            listed = self.client(kind, where).catalog()
            if listed is None:
                raise RiggingError(f"{url}: the registry refuses _catalog; list repositories as {url}/NAMESPACE/NAME")
            paths = [p for p in listed if not prefix or p.startswith(prefix + "/")]
        with self.sessions() as session:
            src = store.source(session, url)
            jobs.enqueue(session, src.id, paths)
            session.commit()
        return len(paths)

    def run(self, *, wait_for_leases: bool = True) -> CrawlStats:
        """Work until no job is left (expired leases of killed workers included)."""
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            while True:
                batch = []
                with self.sessions() as session:
                    for _ in range(self.concurrency):
                        job = jobs.claim(session, self.worker, self.lease_seconds)
                        if job is None:
                            break
                        batch.append((job.id, job.source_id, job.path))
                    waiting = not batch and wait_for_leases and jobs.running(session) > 0
                if not batch:
                    if waiting:  # a killed worker's job: its lease will run out
                        time.sleep(min(1.0, self.lease_seconds / 4))
                        continue
                    return self.stats
                list(pool.map(lambda job: self._run_job(*job), batch))

    def _run_job(self, job_id: int, source_id: int, path: str) -> None:
        error = None
        try:
            with self.sessions() as session:
                url = session.get(Source, source_id).url  # type: ignore[union-attr]
            self.crawl_repository(url, path)
        except (RiggingError, OSError) as exc:
            error = str(exc)
            self.stats.errors.append(f"{path}: {exc}")
        with self.sessions() as session:
            jobs.finish(session, job_id, error)

    # -- one repository ----------------------------------------------------------------------

    def crawl_repository(self, url: str, path: str) -> None:
        kind, where, _ = parse_source(url)
        self.stats.repositories += 1
        if kind == "layout":
            self._crawl_layout(url, Path(where))
            return
        client = self.client(kind, where)
        try:
            tags = client.tags(path)
        except RegistryError as exc:
            if exc.code != "NAME_UNKNOWN" and exc.status != 404:
                raise
            tags = []
        with self.sessions() as session:
            repo = store.repository(session, store.source(session, url), path)
            known = store.known_tags(session, repo)
            indexed = set(
                session.scalars(
                    select(Version.manifest_digest).where(
                        Version.manifest_digest.in_(set(known.values())), Version.deleted.is_(False)
                    )
                )
            )
            # digests of known tags that were never packages (other images): unchanged as well
            ever_indexed = set(
                session.scalars(select(Version.manifest_digest).where(Version.manifest_digest.in_(set(known.values()))))
            )
            session.commit()
        changed: list[tuple[str, str]] = []
        for tag in tags:  # an unchanged tag costs one HEAD and nothing else
            if tag not in known and not _signature_tag(tag):
                changed.append((tag, None))  # new: its GET tells the digest, so no HEAD first
                continue
            digest = client.head_manifest(path, tag)
            if digest is None:
                continue
            if known.get(tag) == digest and (digest in indexed or _signature_tag(tag) or digest not in ever_indexed):
                self.stats.unchanged += 1
            else:
                changed.append((tag, digest))
        if changed:
            with self.sessions() as session:
                repo = store.repository(session, store.source(session, url), path)
                for tag, digest in changed:
                    if not _signature_tag(tag):
                        item, digest = self._read_registry_package(client, f"{where}/{path}", path, tag, digest, tags)
                        if item is None:
                            self.stats.skipped += 1
                        else:
                            store.upsert_version(session, repo, item)
                            self.stats.indexed += 1
                    assert digest is not None
                    store.set_tag(session, repo, tag, digest)
                session.commit()  # one transaction per repository: a killed worker's job is simply redone
        self._finish_repository(url, path, set(tags))

    def _finish_repository(self, url: str, path: str, tags: set[str]) -> None:
        with self.sessions() as session:
            repo = store.repository(session, store.source(session, url), path)
            store.drop_tags(session, repo, set(store.known_tags(session, repo)) - tags)
            for row in session.scalars(select(Version).where(Version.repository_id == repo.id)):
                row.signed_by = _signatures(row.manifest_digest, tags, row.signed_by)
            ids = {r.package_id for r in session.scalars(select(Version).where(Version.repository_id == repo.id))}
            store.refresh_latest(session, ids)
            session.commit()

    def _read_registry_package(
        self, client: RegistryClient, where: str, path: str, tag: str, digest: str | None, tags: list[str] | set[str]
    ) -> tuple[store.IndexedVersion | None, str]:
        """(what to index, or None for other artifacts; the manifest's digest)."""
        data, _, actual = client.get_manifest(path, digest or tag)
        self.stats.manifests_fetched += 1
        try:
            package = parse_package_manifest(data, f"{where}:{tag}")
        except RiggingError:
            return None, actual  # another kind of artifact or image: not ours to index
        with tempfile.TemporaryDirectory() as tmp:
            config_path, content_path = Path(tmp) / "config", Path(tmp) / "content"
            client.download_blob(path, package.config.digest, package.config.size, config_path)
            client.download_blob(path, package.content_layer.digest, package.content_layer.size, content_path)
            item = _indexed(package, actual, config_path.read_bytes(), content_path, set(tags))
        if actual.replace(":", "-") not in tags and self._has_referrers_api(client, path, actual):
            referrers = client.referrers_api(path, actual) or []
            if any(r.get("artifactType") == "application/vnd.dev.sigstore.bundle.v0.3+json" for r in referrers):
                item.signed_by = sorted({*item.signed_by, "api"})
        return item, actual

    def _has_referrers_api(self, client: RegistryClient, path: str, digest: str) -> bool:
        """Probed once per registry: distribution 2.8 has no referrers API, and asking per version costs."""
        if client.host not in self.referrers_api:
            self.referrers_api[client.host] = client.referrers_api(path, digest) is not None
        return self.referrers_api[client.host]

    def _crawl_layout(self, url: str, root: Path) -> None:
        from rigging.stores import LayoutStore

        layout = LayoutStore(root)
        tags = set(layout.tags())
        with self.sessions() as session:
            repo = store.repository(session, store.source(session, url), "")
            known = store.known_tags(session, repo)
            for tag in sorted(tags):
                data, _, digest = layout.get_manifest(tag)
                if known.get(tag) == digest:
                    self.stats.unchanged += 1
                    continue
                try:
                    package = parse_package_manifest(data, f"{url}:{tag}")
                except RiggingError:
                    self.stats.skipped += 1
                    store.set_tag(session, repo, tag, digest)
                    continue
                config = layout.layout.read_blob(package.config.digest, package.config.size)
                content = layout.layout.blob_path(package.content_layer.digest)
                layout.layout.read_blob(package.content_layer.digest, package.content_layer.size)  # verifies
                store.upsert_version(session, repo, _indexed(package, digest, config, content, tags))
                store.set_tag(session, repo, tag, digest)
                self.stats.indexed += 1
            session.commit()
        self._finish_repository(url, "", tags)

    # -- webhooks ----------------------------------------------------------------------------

    def index_push(self, url: str, path: str, tag: str | None, digest: str) -> bool:
        """Index one pushed manifest at once (registry notification); True when it was a package."""
        kind, where, _ = parse_source(url)
        client = self.client(kind, where)
        tags = set(client.tags(path))
        item, _ = self._read_registry_package(client, f"{where}/{path}", path, tag or digest, digest, tags)
        with self.sessions() as session:
            repo = store.repository(session, store.source(session, url), path)
            if item is not None:
                store.upsert_version(session, repo, item)
            if tag:
                store.set_tag(session, repo, tag, digest)
            session.commit()
        if item is not None:
            self._finish_repository(url, path, tags)
        return item is not None


def _signatures(digest: str, tags: set[str], found: list[str] | None) -> list[str]:
    """Signature kinds present, read from the tag list: no request needed."""
    base = digest.replace(":", "-")
    kinds = set(found or []) & {"api"}  # found through the referrers API, which tags cannot show
    if base + SIGNATURE_TAG_SUFFIX in tags:
        kinds.add("legacy")
    if base in tags:  # the referrers fallback index (bundles, attestations)
        kinds.add("bundle")
    return sorted(kinds)


def _indexed(package: Package, digest: str, config_bytes: bytes, content: Path, tags: set[str]) -> store.IndexedVersion:
    try:
        config = json.loads(config_bytes)
    except ValueError:
        raise RiggingError(f"{digest}: package config is not JSON") from None
    name = str(config.get("name", ""))
    title = package.content_title(name)
    files, readme, size = [], "", 0
    for rel, data in iter_layer(content, title, label=f"{name} content layer"):
        if rel.endswith("/"):
            continue
        files.append(rel)
        size += len(data)
        if rel == "README.md":
            readme = data.decode("utf-8", "replace")
    return store.IndexedVersion(
        name=name,
        version=str(config.get("version", "")),
        manifest_digest=digest,
        content_digest=package.content_layer.digest,
        content_size=package.content_layer.size,
        config=config,
        readme=readme,
        files=sorted(files),
        size=size,
        signed_by=_signatures(digest, tags, []),
        created=package.annotations.get(mt.ANN_CREATED),
    )
