"""Version lists from an indexer (RIGGING_INDEX_URL), for speed; the registry stays the source of
truth. Manifests and configs of chosen versions are still read (and digest-checked) from the
registry, and when the indexer is down or does not know a package, its tag list is too."""

from __future__ import annotations

import sys
import threading
from typing import Any

from rigging.catalog_registry import RegistryCatalog
from rigging.versions import Version, version_to_tag


class IndexCatalog(RegistryCatalog):
    def __init__(self, index_url: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.index_url = index_url.rstrip("/")
        self.index_requests = 0
        self._down = False
        self._index_lock = threading.Lock()
        self._index_client: Any = None

    def _index(self) -> Any:
        import httpx

        with self._index_lock:
            if self._index_client is None:
                self._index_client = httpx.Client(timeout=httpx.Timeout(5.0, connect=2.0))
            return self._index_client

    def close(self) -> None:
        super().close()
        if self._index_client is not None:
            self._index_client.close()

    def _fetch_tags(self, name: str) -> dict[Version, str]:
        if not self._down:
            import httpx

            try:
                self.index_requests += 1
                response = self._index().get(f"{self.index_url}/api/v1/packages/{name}/versions")
                if response.status_code == 200:
                    found = {}
                    for entry in response.json().get("versions", []):
                        try:
                            found[Version.parse(entry["version"])] = version_to_tag(entry["version"])
                        except (KeyError, ValueError):
                            continue
                    return found
            except (httpx.HTTPError, ValueError) as exc:
                self._down = True
                print(
                    f"rigging: warning: index {self.index_url} unavailable ({type(exc).__name__}); "
                    "reading tag lists from the registry",
                    file=sys.stderr,
                )
        return super()._fetch_tags(name)  # down, or a package the index has not crawled yet
