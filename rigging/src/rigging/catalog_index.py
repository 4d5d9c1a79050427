"""Version lists from an indexer (RIGGING_INDEX_URL), for speed; the registry stays the source of
truth. One index request per package gives the resolver every version with its manifest digest
and dependencies, so resolving reads no tag list and no manifest from the registry. The manifests
of the chosen versions are then read from the registry by those digests (so the bytes are checked
against them), and what they say must match what the index said; when the indexer is down or
does not know a package, its tag list and manifests are read from the registry as without one.

The versions an index holds back (quarantined, or waiting for a reviewer) are never offered,
whichever list the others come from.

An index is as fresh as its last crawl or webhook. So the packages being brought up to date
(`rigging update`, the one `rigging add` adds) take their versions from the registry's tag
list, as `rigging outdated` does: an update never stops short of a version `outdated` reported
only because the index has not seen it yet. And where the index lacks the version a package is
locked at, it is behind for that package: the registry's list is read instead (and the user
told), so a stale index never moves a locked package back."""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Collection, Mapping
from concurrent.futures import Future
from typing import Any, NamedTuple

from rigging.catalog_registry import PackageMeta, RegistryCatalog
from rigging.errors import RiggingError
from rigging.versions import Version, version_to_tag


class Listed(NamedTuple):
    """What the index says of one version: its manifest and its dependencies."""

    manifest: str
    dependencies: dict[str, str]


class IndexCatalog(RegistryCatalog):
    def __init__(
        self,
        index_url: str,
        *args: Any,
        updating: Collection[str] | None = None,
        locked: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        """`updating`: the packages to bring up to date, whose versions the registry lists (an
        empty collection: all of them), None when nothing is being updated; `locked`: each
        package's version in the lock."""
        super().__init__(*args, **kwargs)
        self.updating = None if updating is None else frozenset(updating)
        self.locked = dict(locked or {})
        self.index_url = index_url.rstrip("/")
        self.index_requests = 0
        self._down = False
        self._index_lock = threading.Lock()
        self._index_client: Any = None
        self._listed: dict[tuple[str, Version], Listed] = {}  # only of lists taken from the index

    def _index(self) -> Any:
        with self._index_lock:
            if self._index_client is None:
                from rigging.index_access import index_headers
                from rigging.registry.http import Client

                self._index_client = Client(timeout=5.0, connect_timeout=2.0, headers=index_headers(self.index_url))
            return self._index_client

    def close(self) -> None:
        super().close()
        if self._index_client is not None:
            self._index_client.close()

    def _fetch_tags(self, name: str) -> dict[Version, str]:
        listed = self._index_versions(name)
        if listed is None:  # down, or a package the index has not crawled yet
            return super()._fetch_tags(name)
        found, held, metadata = listed
        if (self.updating is not None and (not self.updating or name in self.updating)) or self._behind(name, found):
            found = super()._fetch_tags(name)  # and its manifests by tag: the index may be behind on both
        else:
            self._listed.update(((name, version), entry) for version, entry in metadata.items() if version in found)
        offered = {v: tag for v, tag in found.items() if v not in held}
        newest = max(offered, default=None)
        # said when it changes the outcome: nothing left, or something newer than what is offered
        kept_back = sorted(v for v in held if newest is None or v > newest)
        if kept_back:
            print(
                f"rigging: note: index {self.index_url} holds {name} {', '.join(map(str, kept_back))} "
                "(quarantined or waiting for a reviewer); not offered",
                file=sys.stderr,
            )
        return offered

    def _index_versions(self, name: str) -> tuple[dict[Version, str], set[Version], dict[Version, Listed]] | None:
        """(versions the index offers, versions it holds back, what it says of each offered one
        that lives where `name` is looked for) of `name`, or None when it cannot say: it is down,
        does not know the package, or the package lives in an oci: folder."""
        where = self.locate(name)
        registry = getattr(where, "host", None)
        if self._down or registry is None:
            return None
        from rigging.registry.http import TransportError

        try:
            self.index_requests += 1
            # the registry named too: another source may hold a package of the same name
            response = self._index().request(
                "GET", f"{self.index_url}/api/v1/packages/{name}/versions", params={"registry": registry}
            )
            if response.status_code != 200:
                return None
            body = response.json()
        except (TransportError, ValueError) as exc:
            self._down = True
            print(
                f"rigging: warning: index {self.index_url} unavailable ({type(exc).__name__}); "
                "reading tag lists from the registry",
                file=sys.stderr,
            )
            return None
        found: dict[Version, str] = {}
        metadata: dict[Version, Listed] = {}
        for entry in body.get("versions", []):
            try:
                version = Version.parse(entry["version"])
                found[version] = version_to_tag(entry["version"])
            except (KeyError, TypeError, ValueError):
                continue
            listed = _listed(entry, registry, where.repository)
            if listed is not None:
                metadata[version] = listed
        held: set[Version] = set()
        for text in body.get("held", []):
            try:
                held.add(Version.parse(text))
            except (TypeError, ValueError):
                continue
        return found, held, metadata

    def _behind(self, name: str, found: dict[Version, str]) -> bool:
        """Whether the index lacks the version `name` is locked at (it has not crawled it yet)."""
        locked = self.locked.get(name)
        try:
            missing = locked is not None and Version.parse(locked) not in found
        except ValueError:
            return False
        if missing:
            print(
                f"rigging: note: index {self.index_url} has not seen {name} {locked} yet (it is behind the "
                "registry); reading its versions from the registry",
                file=sys.stderr,
            )
        return missing

    # -- dependencies from the index; manifests by the digests it gave -------------------------

    def dependencies(self, name: str, version: Version) -> dict[str, str]:
        self._tags_future(name).result()  # the resolver has its versions already: this waits for nothing
        listed = self._listed.get((name, version))
        return dict(listed.dependencies) if listed is not None else super().dependencies(name, version)

    def ready(self, name: str) -> bool:
        tags = self._tags.get(name)
        if tags is not None and tags.done() and tags.exception() is None:
            newest = max((v for v in tags.result() if not v.prerelease), default=None)
            if newest is not None and (name, newest) in self._listed:
                return True
        return super().ready(name)

    def _prefetch_newest(self, name: str, done: Future[dict[Version, str]]) -> None:
        """Where the index gave the newest release's dependencies, their lists are asked for at
        once, and no manifest is read until install needs the chosen version's."""
        if done.cancelled() or done.exception() is not None:
            return
        newest = max((v for v in done.result() if not v.prerelease), default=None)
        listed = self._listed.get((name, newest)) if newest is not None else None
        if listed is None:
            super()._prefetch_newest(name, done)
            return
        with contextlib.suppress(RuntimeError):  # the pool is shutting down
            self.prefetch(listed.dependencies)

    def _fetch_meta(self, name: str, version: Version) -> PackageMeta:
        listed = self._listed.get((name, version))
        if listed is None:
            return super()._fetch_meta(name, version)
        meta = self._read_meta(name, version, self._tags_future(name).result()[version], listed.manifest)
        said = meta.config.get("version")
        if said != str(version) or meta.dependencies != listed.dependencies:
            import json

            raise RiggingError(
                f"index {self.index_url} lists {name} {version} as {listed.manifest} with dependencies "
                f"{json.dumps(listed.dependencies, sort_keys=True)}, but that manifest in {meta.source} holds "
                f"version {said} with {json.dumps(meta.dependencies, sort_keys=True)}: the index is wrong; "
                "re-crawl it, or unset RIGGING_INDEX_URL to resolve from the registry alone"
            )
        return meta


def _listed(entry: dict[str, Any], registry: str, repository: str) -> Listed | None:
    """What a version-list entry says of the version, if whole and of the repository asked for
    (an entry of another repository, or without a digest, is read from the registry by tag)."""
    manifest, dependencies = entry.get("manifest"), entry.get("dependencies")
    if entry.get("registry") != registry or entry.get("repository") != repository:
        return None
    if not (isinstance(manifest, str) and manifest.startswith("sha256:") and isinstance(dependencies, dict)):
        return None
    return Listed(manifest, {str(k): str(v) for k, v in dependencies.items()})
