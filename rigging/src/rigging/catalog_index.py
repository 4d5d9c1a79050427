"""Version lists from an indexer (RIGGING_INDEX_URL), for speed; the registry stays the source of
truth. Manifests and configs of chosen versions are still read (and digest-checked) from the
registry, and when the indexer is down or does not know a package, its tag list is too.

The versions an index holds back (quarantined, or waiting for a reviewer) are never offered,
whichever list the others come from.

An index is as fresh as its last crawl or webhook. So the packages being brought up to date
(`rigging update`, the one `rigging add` adds) take their versions from the registry's tag
list, as `rigging outdated` does: an update never stops short of a version `outdated` reported
only because the index has not seen it yet. And where the index lacks the version a package is
locked at, it is behind for that package: the registry's list is read instead (and the user
told), so a stale index never moves a locked package back."""

from __future__ import annotations

import sys
import threading
from collections.abc import Collection, Mapping
from typing import Any

from rigging.catalog_registry import RegistryCatalog
from rigging.versions import Version, version_to_tag


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
        found, held = listed
        if (self.updating is not None and (not self.updating or name in self.updating)) or self._behind(name, found):
            found = super()._fetch_tags(name)
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

    def _index_versions(self, name: str) -> tuple[dict[Version, str], set[Version]] | None:
        """(versions the index offers, versions it holds back) of `name`, or None when it cannot
        say: it is down, does not know the package, or the package lives in an oci: folder."""
        registry = getattr(self.locate(name), "host", None)
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
        for entry in body.get("versions", []):
            try:
                found[Version.parse(entry["version"])] = version_to_tag(entry["version"])
            except (KeyError, TypeError, ValueError):
                continue
        held: set[Version] = set()
        for text in body.get("held", []):
            try:
                held.add(Version.parse(text))
            except (TypeError, ValueError):
                continue
        return found, held

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
