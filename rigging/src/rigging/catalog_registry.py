"""Package metadata read from registries for the resolver: tag lists and package configs,
fetched concurrently over one connection pool per registry.

When the resolver says which packages it will need next, their tag lists are fetched at once,
and then the manifest and config of each one's newest release, so that by the time it asks,
the answer is usually there.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rigging.cache import BlobCache
from rigging.errors import RiggingError
from rigging.layout_registry import LayoutRegistry, client_for
from rigging.reference import RegistryRef
from rigging.registry.client import RegistryClient
from rigging.registry.errors import RegistryError
from rigging.stores import Descriptor
from rigging.transfer import parse_package_manifest
from rigging.versions import Version, tag_to_version

WORKERS = 8


@dataclass(frozen=True)
class PackageMeta:
    name: str
    version: Version
    tag: str
    source: str  # host/repository; for an `oci:DIR` store, oci:DIR/ns/name
    manifest: str
    content: Descriptor
    config: dict[str, Any]

    @property
    def dependencies(self) -> dict[str, str]:
        deps = self.config.get("dependencies") or {}
        return {str(k): str(v) for k, v in deps.items()} if isinstance(deps, dict) else {}


class RegistryCatalog:
    def __init__(
        self,
        locate: Callable[[str], RegistryRef],
        cache: BlobCache | None = None,
        plain_http: bool = False,
        ca_file: str | None = None,
        fetch_content: bool = False,
        base: Path | None = None,
    ) -> None:
        self.locate = locate
        # relative `oci:DIR` stores are relative to the project whose `location` locates
        self.base = base or getattr(getattr(locate, "__self__", None), "root", None)
        self.fetch_content = fetch_content  # also download each newest release's content layer
        self.progress: Any = None  # install's DownloadProgress: told of each content download, then its bytes
        self.cache = cache or BlobCache()
        self.plain_http, self.ca_file = plain_http, ca_file
        self.pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="rigging-catalog")
        # content downloads queue apart, so they never hold up the metadata the resolver waits for
        self.content_pool = ThreadPoolExecutor(max_workers=WORKERS // 2, thread_name_prefix="rigging-content")
        self.clients: dict[str, RegistryClient | LayoutRegistry] = {}
        self._tags: dict[str, Future[dict[Version, str]]] = {}
        self._meta: dict[tuple[str, Version], Future[PackageMeta]] = {}
        self._lock = threading.RLock()  # a done-callback may run at once, inside _tags_future

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.content_pool.shutdown(wait=True)
        for client in self.clients.values():
            client.close()

    def __enter__(self) -> RegistryCatalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def client(self, host: str) -> RegistryClient | LayoutRegistry:
        with self._lock:
            if host not in self.clients:
                self.clients[host] = client_for(host, base=self.base, plain_http=self.plain_http, ca_file=self.ca_file)
            return self.clients[host]

    @property
    def requests(self) -> int:
        return sum(c.requests for c in self.clients.values())

    # -- tag lists ---------------------------------------------------------------------------

    def _fetch_tags(self, name: str) -> dict[Version, str]:
        ref = self.locate(name)
        try:
            tags = self.client(ref.host).tags(ref.repository)
        except RegistryError as exc:
            if exc.code == "NAME_UNKNOWN" or exc.status == 404:
                return {}
            raise
        found: dict[Version, str] = {}
        for tag in tags:
            version = tag_to_version(tag)
            if version is not None:
                found[version] = tag
        return found

    def _tags_future(self, name: str) -> Future[dict[Version, str]]:
        with self._lock:
            if name not in self._tags:
                self._tags[name] = self.pool.submit(self._fetch_tags, name)
                self._tags[name].add_done_callback(lambda f, n=name: self._prefetch_newest(n, f))
            return self._tags[name]

    def versions(self, name: str) -> list[Version]:
        return sorted(self._tags_future(name).result())

    # -- manifests and configs ---------------------------------------------------------------

    def _fetch_meta(self, name: str, version: Version) -> PackageMeta:
        tag = self._tags_future(name).result()[version]
        return self._read_meta(name, version, tag, tag)

    def _read_meta(self, name: str, version: Version, tag: str, reference: str) -> PackageMeta:
        """The metadata of `name` at `tag`, from its manifest read by `reference` (the tag, or
        the digest an index gave for it: read by digest, the bytes are checked against it)."""
        ref = self.locate(name)
        client = self.client(ref.host)
        data, _, digest = client.get_manifest(ref.repository, reference)
        package = parse_package_manifest(data, f"{ref.host}/{ref.repository}:{tag}")
        raw = package.blobs.get(package.config.digest)  # embedded in the manifest: no GET
        if raw is None:
            path = self.cache.get(package.config.digest, package.config.size)
            if path is None:
                path = self.cache.path(package.config.digest)
                client.download_blob(ref.repository, package.config.digest, package.config.size, path)
            raw = path.read_bytes()
        try:
            config = json.loads(raw)
        except ValueError:
            raise RiggingError(f"{ref.host}/{ref.repository}:{tag}: package config is not JSON") from None
        if config.get("name") != name:
            raise RiggingError(f"{ref.host}/{ref.repository}:{tag} holds package {config.get('name')!r}, not {name!r}")
        return PackageMeta(name, version, tag, f"{ref.host}/{ref.repository}", digest, package.content_layer, config)

    def meta_future(self, name: str, version: Version) -> Future[PackageMeta]:
        with self._lock:
            key = (name, version)
            if key not in self._meta:
                self._meta[key] = self.pool.submit(self._fetch_meta, name, version)
                self._meta[key].add_done_callback(self._prefetch_dependencies)
            return self._meta[key]

    def meta(self, name: str, version: Version) -> PackageMeta:
        return self.meta_future(name, version).result()

    def dependencies(self, name: str, version: Version) -> dict[str, str]:
        return self.meta(name, version).dependencies

    def prefetch(self, names: Iterable[str]) -> None:
        for name in names:
            self._tags_future(name)

    def ready(self, name: str) -> bool:
        """Whether the newest release's metadata is here already (the resolver decides those first)."""
        tags = self._tags.get(name)
        if tags is None or not tags.done() or tags.exception() is not None:
            return False
        releases = [v for v in tags.result() if not v.prerelease]
        meta = self._meta.get((name, max(releases))) if releases else None
        return meta is not None and meta.done()

    def _prefetch_dependencies(self, done: Future[PackageMeta]) -> None:
        # run ahead of the resolver: it will most likely want these next, and their content
        if not done.cancelled() and done.exception() is None:
            meta = done.result()
            with contextlib.suppress(RuntimeError):  # the pool is shutting down
                self.prefetch(meta.dependencies)
                if self.fetch_content and self.cache.get(meta.content.digest, meta.content.size) is None:
                    self.content_pool.submit(self._fetch_content, meta)

    def _fetch_content(self, meta: PackageMeta) -> None:
        """Download a content layer into the cache before install asks (close() waits for it)."""
        host, _, repository = meta.source.partition("/")
        if self.progress is not None:
            self.progress.expect(1, meta.content.size)
        with contextlib.suppress(RiggingError):  # a failure here is retried, and reported, by install
            self.client(host).download_blob(
                repository, meta.content.digest, meta.content.size, self.cache.path(meta.content.digest), self.progress
            )

    def _prefetch_newest(self, name: str, done: Future[dict[Version, str]]) -> None:
        if done.cancelled() or done.exception() is not None:
            return
        releases = [v for v in done.result() if not v.prerelease]
        if releases:
            with contextlib.suppress(RuntimeError):  # the pool is shutting down
                self.meta_future(name, max(releases))
