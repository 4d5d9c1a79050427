"""Crawling sources into the index.

A source is `http(s)://registry` (every repository `_catalog` lists), `…/namespace` (those under
it), `…/namespace/name` (that one repository, for registries that refuse `_catalog`), or
`oci:PATH`: an OCI layout folder, or a store of `ns/name` layout folders below it (each one a
repository, as `rigging publish … oci:PATH/ns/name` makes them). Each repository is one job. A
tag whose digest (HEAD) has not changed costs no manifest download; anything that is not a
Rigging package is skipped quietly.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from rigging.archive import MAX_TAR_BYTES, iter_layer
from rigging.digests import canonical_json, sha256_digest
from rigging.errors import RiggingError
from rigging.layout_registry import LayoutRegistry
from rigging.oci_layout import OciLayout
from rigging.package_config import package_config, skills_catalogue
from rigging.package_files import MANIFEST_FILE
from rigging.registry.client import MAX_MANIFEST_BYTES, RegistryClient
from rigging.registry.errors import RegistryError
from rigging.transfer import Package, parse_package_manifest
from sqlalchemy.orm import Session, sessionmaker

from rigging import mediatypes as mt
from rigging_indexer import jobs, scanning, store
from rigging_indexer.models import Source

log = logging.getLogger("rigging_indexer.crawler")
SIGNATURE_TAG_SUFFIX = ".sig"
USER_AGENT = "rigging-indexer/0.1"  # registry events from our own reads are not downloads
Known = tuple[int, dict[str, store.TagState]]  # a repository's id, and the tags the index knows in it


@dataclass
class CrawlStats:
    repositories: int = 0
    indexed: int = 0
    unchanged: int = 0
    skipped: int = 0
    manifests_fetched: int = 0
    scanned: int = 0  # versions the inline (built-in) scan read
    scan_seconds: float = 0.0  # what those scans cost the crawl, extraction included
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
    """Signatures and attestations (`.sig` tags, referrers fallback indexes): never versions."""
    return tag.startswith("sha256-")


def _fallback_signed(client: RegistryClient, path: str, tag: str) -> bool:
    """Whether a referrers fallback index lists a signature: anything but the index's own
    attestations, which say what the index found, not who published."""
    try:
        data, _, _ = client.get_manifest(path, tag)
        manifests = json.loads(data).get("manifests") or []
    except (RegistryError, ValueError, AttributeError):
        return True  # unreadable: as before attestations existed, the tag counts
    return any(_is_signature(m) for m in manifests)


def _is_signature(descriptor: dict[str, Any]) -> bool:
    """A referrer that is a Sigstore bundle and not one of the index's own attestations."""
    from rigging.signing.attestations import KINDS
    from rigging.signing.formats import BUNDLE, BUNDLE_PREDICATE_ANNOTATION

    if descriptor.get("artifactType", BUNDLE) != BUNDLE:
        return False
    return (descriptor.get("annotations") or {}).get(BUNDLE_PREDICATE_ANNOTATION) not in KINDS.values()


class Crawler:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        worker: str | None = None,
        lease_seconds: float = 60,
        concurrency: int = 8,
        batch: int = 8,
        ca_file: str | None = None,
        moderation: str = "none",
    ) -> None:
        self.sessions = sessions
        self.worker = worker or f"{os.uname().nodename}:{os.getpid()}"
        self.lease_seconds = lease_seconds
        self.concurrency = concurrency
        self.batch = batch  # jobs a thread claims at once: one claim and one finish per batch
        self.ca_file = ca_file
        self.moderation = scanning.check_mode(moderation) or "none"  # the instance's; namespaces may override
        self.clients: dict[str, RegistryClient] = {}
        self.referrers_api: dict[str, bool] = {}
        self.source_urls: dict[int, str] = {}
        self.source_ids: dict[str, int] = {}
        self.stats = CrawlStats()
        self._lock = threading.Lock()

    def close(self) -> None:
        for client in self.clients.values():
            client.close()

    def client(self, scheme: str, host: str) -> RegistryClient:
        with self._lock:
            if host not in self.clients:
                if scheme == "layout":  # a store folder answers as a registry (rigging.layout_registry)
                    self.clients[host] = LayoutRegistry.at(f"oci:{host}")  # type: ignore[assignment]
                else:
                    self.clients[host] = RegistryClient(
                        host, plain_http=scheme == "http", ca_bundle=self.ca_file, user_agent=USER_AGENT
                    )
            return self.clients[host]

    def _count(self, error: str | None = None, **deltas: int) -> None:
        with self._lock:
            for name, delta in deltas.items():
                setattr(self.stats, name, getattr(self.stats, name) + delta)
            if error:
                self.stats.errors.append(error)

    # -- jobs --------------------------------------------------------------------------------

    def enqueue(self, url: str) -> int:
        kind, where, prefix = parse_source(url)
        if kind == "layout":  # one package's layout, else the store's ns/name layouts
            paths = [""] if OciLayout(Path(where)).exists() else self.client(kind, where).catalog() or []
        elif prefix.count("/") >= 1:
            paths = [prefix]
        else:
            client = self.client(kind, where)
            listed = client.catalog()
            if listed is None:
                from rigging.registry.credentials import ANONYMOUS, config_path

                # credentials come by reference only: the docker config (or its helpers) for that host
                login = (
                    f"with no credentials for {where} in {config_path()}; log in there as an account that "
                    f"may list it (`rigging login {where}`), or"
                    if client.auth.credentials == ANONYMOUS
                    else "to these credentials;"
                )
                raise RiggingError(
                    f"{url}: the registry refuses _catalog {login} list repositories as {url}/NAMESPACE/NAME"
                )
            paths = [p for p in listed if not prefix or p.startswith(prefix + "/")]
        with self.sessions() as session:
            src = store.source(session, url)
            jobs.enqueue(session, src.id, paths)
            session.commit()
        return len(paths)

    def run(self, *, wait_for_leases: bool = True) -> CrawlStats:
        """Work until no job is left (expired leases of killed workers included)."""
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            for done in [pool.submit(self._work, wait_for_leases) for _ in range(self.concurrency)]:
                done.result()
        return self.stats

    def _work(self, wait_for_leases: bool) -> None:
        outcomes: dict[int, str | None] = {}
        while True:
            # one checkout per batch: the last batch's outcomes, the next claim and what the index
            # knows of the claimed repositories (per repository, that read was two round trips and
            # a transaction: most of the database's share of an unchanged re-crawl)
            with self.sessions() as session:
                jobs.finish(session, outcomes)
                outcomes = {}  # finished: a wait for leases below must not finish them again
                claimed = jobs.claim(session, self.worker, self.lease_seconds, self.batch)
                known = self._known(session, claimed)
                session.commit()
                waiting = not claimed and wait_for_leases and jobs.running(session, besides=self.worker) > 0
            if not claimed:
                if waiting:  # another (perhaps killed) worker's job: its lease will run out
                    time.sleep(min(1.0, self.lease_seconds / 4))
                    continue
                return
            outcomes = {
                job_id: self._run_job(source_id, path, known[source_id, path]) for job_id, source_id, path in claimed
            }

    def _known(self, session: Session, claimed: list[tuple[int, int, str]]) -> dict[tuple[int, str], Known]:
        """(repository id, tag states) of each claimed job's repository, by (source id, path)."""
        paths: dict[int, list[str]] = {}
        for _, source_id, path in claimed:
            paths.setdefault(source_id, []).append(path)
        return {
            (source_id, path): state
            for source_id, batch in paths.items()
            for path, state in store.repository_states(session, source_id, batch).items()
        }

    def _run_job(self, source_id: int, path: str, known: Known) -> str | None:
        try:
            self.crawl_repository(self._source_url(source_id), path, known)
        except (RiggingError, OSError) as exc:
            self._count(error=f"{path}: {exc}")
            return str(exc)
        return None

    def _source_id(self, session: Session, url: str) -> int:
        if url not in self.source_ids:
            self.source_ids[url] = store.source_id(session, url)
        return self.source_ids[url]

    def _source_url(self, source_id: int) -> str:
        if source_id not in self.source_urls:
            with self.sessions() as session:
                self.source_urls[source_id] = session.get(Source, source_id).url  # type: ignore[union-attr]
        return self.source_urls[source_id]

    # -- one repository ----------------------------------------------------------------------

    def crawl_repository(self, url: str, path: str, known: Known | None = None) -> None:
        """Index a repository's new and moved tags and forget its gone ones; `known` is its id and
        tag states when the caller has read them already (a batch of jobs reads them at once)."""
        kind, where, _ = parse_source(url)
        self._count(repositories=1)
        client = self.client(kind, where)
        try:
            tags = client.tags(path)
        except RegistryError as exc:
            if exc.code != "NAME_UNKNOWN" and exc.status != 404:
                raise
            tags = []
        if known is None:
            with self.sessions() as session:
                repo_id = store.repository_id(session, self._source_id(session, url), path)
                states = store.tag_states(session, repo_id)
                session.commit()
        else:
            repo_id, states = known
        changed: dict[str, str | None] = {}
        unchanged = 0
        for tag in tags:  # an unchanged tag costs one HEAD and nothing else
            if tag not in states and not _signature_tag(tag):
                changed[tag] = None  # new: its GET tells the digest, so no HEAD first
                continue
            digest = client.head_manifest(path, tag)
            if digest is None:
                continue
            previous = states.get(tag)
            if previous is not None and previous.digest == digest and not previous.deleted:
                unchanged += 1
            else:
                changed[tag] = digest
        self._count(unchanged=unchanged)
        gone = set(states) - set(tags)
        if not changed and not gone:
            return  # nothing to write: an unchanged repository costs no transaction
        items, digests, errors = [], {}, []
        checked = {
            tag: _fallback_signed(client, path, tag)
            for tag in changed
            if _signature_tag(tag) and not tag.endswith(SIGNATURE_TAG_SUFFIX)
        }
        for tag, digest in changed.items():
            if _signature_tag(tag):
                digests[tag] = digest
                continue
            try:
                item, digests[tag] = self._read_registry_package(
                    client, f"{where}/{path}", path, tag, digest, tags, checked
                )
            except RiggingError as exc:  # this version only; the others are still indexed
                errors.append(f"{path}:{tag}: {exc}")
                continue
            if item is None:
                self._count(skipped=1)
            else:
                items.append(item)
        moved = any(tag in states for tag in digests)
        with self.sessions() as session:
            _write_repository(
                session, repo_id, items, digests, set(tags), gone, retagged=moved, checked=checked, mode=self.moderation
            )
            session.commit()  # one transaction per repository: a killed worker's job is simply redone
        self._count(indexed=len(items))
        if errors:
            raise RiggingError("; ".join(errors))

    def _read_registry_package(
        self,
        client: RegistryClient,
        where: str,
        path: str,
        tag: str,
        digest: str | None,
        tags: list[str] | set[str],
        checked: dict[str, bool] | None = None,
    ) -> tuple[store.IndexedVersion | None, str]:
        """(what to index, or None for other artifacts; the manifest's digest)."""
        data, _, actual = client.get_manifest(path, digest or tag)
        self._count(manifests_fetched=1)
        try:
            package = parse_package_manifest(data, f"{where}:{tag}")
        except RiggingError:
            return None, actual  # another kind of artifact or image: not ours to index
        limits = [(package.config, MAX_MANIFEST_BYTES), (package.content_layer, MAX_TAR_BYTES)]
        for blob, cap in limits + ([(package.docs_layer, MAX_TAR_BYTES)] if package.docs_layer else []):
            if blob.size > cap:
                raise RiggingError(f"{where}:{tag}: blob {blob.digest} is {blob.size} bytes, over the {cap} cap")
        content = client.fetch_blob(path, package.content_layer.digest, package.content_layer.size)
        title = package.annotated_content_title()
        layer = _read_layer(content, title, f"{where}:{tag} content layer") if title else None
        config = package.blobs.get(package.config.digest)  # embedded in the manifest
        if config is None and layer:
            config = _config_in_layer(package, layer)
        if config is None:
            config = client.fetch_blob(path, package.config.digest, package.config.size)
        item = _indexed(package, actual, config, layer or content, set(tags), checked or {})
        if (claimed := _identity_problem(item.name, path)) is not None:
            raise IdentityMismatch(f"{where}:{tag}: {claimed}")
        # the docs too (one more blob), as `rigging scan DIR` saw them before publish
        docs = package.docs_layer and client.fetch_blob(path, package.docs_layer.digest, package.docs_layer.size)
        # The built-in checks on the layers already here, so the quarantine decision is written
        # with the version itself: no moment in which a blocked version is visible.
        started = time.perf_counter()
        try:
            item.scan = scanning.inline_scan(content, package.content_title(item.name), f"{where}:{tag}", docs)
        except (RiggingError, OSError) as exc:  # a layer the scan cannot unpack: nobody should install it
            item.scan = scanning.unreadable(str(exc))
        self._count(scanned=1)
        with self._lock:
            self.stats.scan_seconds += time.perf_counter() - started
        if actual.replace(":", "-") not in tags and self._has_referrers_api(client, path, actual):
            referrers = client.referrers_api(path, actual) or []
            if any(_is_signature(r) for r in referrers):
                item.signed_by = sorted({*item.signed_by, "api"})
        return item, actual

    def _has_referrers_api(self, client: RegistryClient, path: str, digest: str) -> bool:
        """Probed once per registry: distribution 2.8 has no referrers API, and asking per version costs."""
        if client.host not in self.referrers_api:
            self.referrers_api[client.host] = client.referrers_api(path, digest) is not None
        return self.referrers_api[client.host]

    # -- webhooks ----------------------------------------------------------------------------

    def index_push(self, url: str, path: str, tag: str | None, digest: str) -> bool:
        """Index one pushed manifest at once (registry notification); True when it was a package."""
        kind, where, _ = parse_source(url)
        client = self.client(kind, where)
        tags = set(client.tags(path))
        if tag is not None and _signature_tag(tag):  # a signature or attestation, never a version
            checked = {} if tag.endswith(SIGNATURE_TAG_SUFFIX) else {tag: _fallback_signed(client, path, tag)}
            with self.sessions() as session:
                repo_id = store.repository_id(session, store.source_id(session, url), path)
                gone = set(store.known_tags(session, repo_id)) - tags
                _write_repository(
                    session, repo_id, [], {tag: digest}, tags, gone, checked=checked, mode=self.moderation
                )
                session.commit()
            return False
        fallback = digest.replace(":", "-")
        checked = {fallback: _fallback_signed(client, path, fallback)} if fallback in tags else {}
        try:
            item, _ = self._read_registry_package(client, f"{where}/{path}", path, tag or digest, digest, tags, checked)
        except IdentityMismatch as exc:  # a crawl problem for admins, never a package in search
            log.warning("not indexed: %s", exc)
            self._count(error=str(exc))
            with self.sessions() as session:
                jobs.record_problem(session, store.source_id(session, url), path, str(exc))
                session.commit()
            return False
        with self.sessions() as session:
            repo_id = store.repository_id(session, store.source_id(session, url), path)
            gone = set(store.known_tags(session, repo_id)) - tags
            _write_repository(
                session, repo_id, [item] if item else [], {tag: digest} if tag else {}, tags, gone, mode=self.moderation
            )
            session.commit()
        return item is not None


def crawl_in_processes(crawler: Crawler, database: str, processes: int, **options: Any) -> CrawlStats:
    """Work through the queued jobs with `crawler` here and up to `processes - 1` more crawler
    processes (the GIL holds one process to about one core; the job table already shares the work).

    The others start only when this process turns out to need them: once it meets versions to
    index (manifests to read, layers to scan: CPU work) or uses about a core, and only while jobs
    are still queued. A re-crawl that finds its tags unchanged waits on the registry, not on this
    process, and another process there only costs its start (~0.5 s of imports, on the cores the
    registry and the database use too): 200 unchanged repositories took 1.3-1.4 s with a second
    process started at once, 0.9-1.0 s without."""
    import multiprocessing
    from concurrent.futures import Future, ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")  # no forked copies of open connections
    others: list[Future[CrawlStats]] = []
    failed: list[BaseException] = []
    finished = threading.Event()
    with ProcessPoolExecutor(processes - 1, mp_context=context) as pool:

        def start_others_when_needed() -> None:
            try:
                cpu, wall = time.process_time(), time.monotonic()
                while not finished.wait(_BUSY_WINDOW):
                    used = (time.process_time() - cpu) / max(time.monotonic() - wall, 1e-3)
                    cpu, wall = time.process_time(), time.monotonic()
                    if crawler.stats.manifests_fetched or used >= _BUSY_SHARE:
                        with crawler.sessions() as session:
                            queued = jobs.pending(session)
                        if queued:
                            others.extend(pool.submit(_crawl_process, database, options) for _ in range(processes - 1))
                        return
            except BaseException as exc:  # raised in the caller, as when the others were started there
                failed.append(exc)

        starter = threading.Thread(target=start_others_when_needed, name="crawl-processes", daemon=True)
        starter.start()
        try:
            # not waiting for others' leases here: a thread that did slept in steps of a second
            # while live processes finished their batches; leases are waited for below, once
            total = crawler.run(wait_for_leases=False)
        finally:
            finished.set()
            starter.join()
        if failed:
            raise failed[0]
        for other in others:
            stats = other.result()
            for name in ("repositories", "indexed", "unchanged", "skipped", "manifests_fetched"):
                setattr(total, name, getattr(total, name) + getattr(stats, name))
            total.errors.extend(stats.errors)
    with crawler.sessions() as session:
        left = jobs.pending(session) + jobs.running(session)
    if left:  # jobs of killed workers (or of other crawlers) whose leases have yet to run out
        total = crawler.run()
    return total


_BUSY_WINDOW = 0.5  # seconds over which crawl_in_processes measures this process's CPU
_BUSY_SHARE = 0.9  # of a core: about all the GIL lets one process use


def _crawl_process(database: str, options: dict[str, Any]) -> CrawlStats:
    from rigging_indexer.db import make_engine, sessions

    engine = make_engine(database)
    crawler = Crawler(sessions(engine), **options)
    try:
        return crawler.run(wait_for_leases=False)  # the first process waits for leases, once they are all done
    finally:
        crawler.close()
        engine.dispose()


class IdentityMismatch(RiggingError):
    """A version whose config names another package than the repository it lives in."""


def _identity_problem(name: str, path: str) -> str | None:
    """Why a version claiming `name` is not the package at repository `path`, or None.

    A package is the one its repository names (the last two parts of the path, after any prefix
    the registry has), never what its config claims: anyone can push any config with any OCI client.
    A single layout folder given as a source has no such path and is taken as its admin named it."""
    parts = [part for part in path.split("/") if part]
    if len(parts) < 2:
        return None
    where = "/".join(parts[-2:])
    if name == where:
        return None
    return (
        f"its config names the package {name!r}, but it lives in the repository {path!r}, which is "
        f"{where!r}; it is not indexed (a package is the one its repository names)"
    )


def _write_repository(
    session: Session,
    repo_id: int,
    items: list[store.IndexedVersion],
    digests: dict[str, str],
    tags: set[str],
    gone: set[str],
    *,
    retagged: bool = True,
    checked: dict[str, bool] | None = None,
    mode: str = "none",
) -> None:
    """A repository's changes in one go: new versions (and the scan's decision about them), moved
    tags, forgotten tags (and the versions no tag names any more), signatures read from the tag
    list, latest versions and documents."""
    ids = store.upsert_versions(session, repo_id, items)
    affected = {package for _, package in ids.values()}
    affected |= scanning.after_index(session, ids, items, mode)
    store.set_tags(session, repo_id, digests)
    if gone or retagged:  # only then can a version have lost its last tag
        affected |= store.drop_tags(session, repo_id, gone)
    if any(_signature_tag(tag) for tag in (*digests, *gone)):  # a signature came or went
        affected |= store.set_signatures(
            session, repo_id, lambda digest, found: _signatures(digest, tags, found, checked or {})
        )
    store.refresh_latest_on(session, affected)


def _signatures(digest: str, tags: set[str], found: list[str] | None, checked: dict[str, bool]) -> list[str]:
    """Signature kinds present, read from the tag list (and, for fallback indexes that changed,
    `checked`: whether they list a signature rather than only the index's attestations)."""
    base = digest.replace(":", "-")
    kinds = set(found or []) & {"api"}  # found through the referrers API, which tags cannot show
    if base + SIGNATURE_TAG_SUFFIX in tags:
        kinds.add("legacy")
    if base in tags:  # the referrers fallback index (bundles, attestations)
        signed = checked.get(base)
        if signed is None:  # not looked at this time: as it was (a version new to the index: present)
            signed = found is None or "bundle" in found
        if signed:
            kinds.add("bundle")
    return sorted(kinds)


class _Layer:
    """What the index keeps of a content layer."""

    def __init__(
        self, files: list[str], readme: str, size: int, manifest_file: bytes | None, skill_md: dict[str, str]
    ) -> None:
        self.files, self.readme, self.size, self.manifest_file = files, readme, size, manifest_file
        self.skill_md = skill_md  # skill folder name -> its SKILL.md, to rebuild the config's `skills`


def _read_layer(content: bytes, title: str, label: str) -> _Layer:
    files, readme, size, manifest_file, skill_md = [], "", 0, None, {}
    for rel, data in iter_layer(content, title, label=label):
        if rel.endswith("/"):
            continue
        files.append(rel)
        size += len(data)
        if rel == "README.md":
            readme = data.decode("utf-8", "replace")
        elif rel == MANIFEST_FILE:
            manifest_file = data
        elif (parts := rel.split("/")) and len(parts) == 3 and parts[0] == "skills" and parts[2] == "SKILL.md":
            skill_md[parts[1]] = data.decode("utf-8", "replace")
    return _Layer(sorted(files), readme, size, manifest_file, skill_md)


def _config_in_layer(package: Package, layer: _Layer) -> bytes | None:
    """The config blob without downloading it: `rigging pack` writes the config as the canonical
    form of the layer's rigging.json (with `skills` from the layer's SKILL.md files), so when that
    form hashes to the config's digest it *is* the config (verified, not trusted). None when it
    does not; the caller then fetches the config."""
    if layer.manifest_file is None:
        return None
    try:
        manifest = json.loads(layer.manifest_file)
    except ValueError:
        return None
    skills = skills_catalogue(layer.skill_md)
    if not isinstance(manifest, dict) or skills is None:
        return None
    candidate = canonical_json(package_config(manifest, skills))
    if len(candidate) != package.config.size or sha256_digest(candidate) != package.config.digest:
        return None
    return candidate


def _indexed(
    package: Package,
    digest: str,
    config_bytes: bytes,
    content: bytes | _Layer,
    tags: set[str],
    checked: dict[str, bool],
) -> store.IndexedVersion:
    try:
        config = json.loads(config_bytes)
    except ValueError:
        raise RiggingError(f"{digest}: package config is not JSON") from None
    name = str(config.get("name", ""))
    layer = content if isinstance(content, _Layer) else _read_layer(content, package.content_title(name), name)
    return store.IndexedVersion(
        name=name,
        version=str(config.get("version", "")),
        manifest_digest=digest,
        content_digest=package.content_layer.digest,
        content_size=package.content_layer.size,
        config=config,
        readme=layer.readme,
        files=layer.files,
        size=layer.size,
        signed_by=_signatures(digest, tags, None, checked),
        created=package.annotations.get(mt.ANN_CREATED),
    )
