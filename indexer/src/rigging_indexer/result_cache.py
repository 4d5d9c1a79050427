"""Search responses kept per server process, keyed by the index's search generation.

Writers bump the generation in the same transaction as any change to search documents
(db.sessions), so a cached response is served only while the documents it was computed from are
still current. A thread reads the generation every `check_seconds` while requests arrive (one tiny
query), bounding how late a server sees another process's writes; after an idle spell nothing is
served from the cache until it has read again. Download counts, which only nudge ranking, are
refreshed by `ttl_seconds`.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable


class ResultCache:
    def __init__(
        self,
        generation: Callable[[], int],
        *,
        entries: int = 10_000,
        ttl_seconds: float = 300.0,
        check_seconds: float = 0.02,
        idle_seconds: float = 1.0,
    ) -> None:
        self._read_generation = generation
        self.entries = entries
        self.ttl_seconds = ttl_seconds
        self.check_seconds = check_seconds
        self.idle_seconds = idle_seconds
        self._items: OrderedDict[Hashable, tuple[int, float, bytes]] = OrderedDict()
        self._generation: int | None = None  # None: not known to be current, so nothing is served
        self._last_request = 0.0
        self._busy = threading.Event()
        self._lock = threading.Lock()
        self._watcher: threading.Thread | None = None

    @property
    def enabled(self) -> bool:
        return self.entries > 0 and self.ttl_seconds > 0

    def _watch(self) -> None:
        """Reads the generation every `check_seconds` while requests come in, in a thread of its
        own, so no request waits on that query and the event loop never runs it."""
        while True:
            self._busy.wait()
            self._refresh()
            time.sleep(self.check_seconds)
            if time.monotonic() - self._last_request > self.idle_seconds:
                self._busy.clear()
                self._generation = None  # unread while idle: the next request must not trust it

    def _refresh(self) -> None:
        try:
            self._generation = self._read_generation()
        except Exception:  # the database is unreachable: answer uncached until it is back
            self._generation = None

    def invalidate(self) -> None:
        """This process just wrote (call from a worker thread): read the generation now."""
        if self.enabled:
            self._refresh()

    def get(self, key: Hashable) -> tuple[int | None, bytes | None]:
        """(the current generation or None when unknown, the body cached under it or None)."""
        if not self.enabled:
            return None, None
        self._last_request = time.monotonic()
        if not self._busy.is_set():
            if self._watcher is None:
                self._watcher = threading.Thread(target=self._watch, name="search-generation", daemon=True)
                self._watcher.start()
            self._busy.set()
        current = self._generation
        if current is None:
            return None, None
        with self._lock:
            found = self._items.get(key)
            if found is not None and found[0] == current and time.monotonic() - found[1] < self.ttl_seconds:
                self._items.move_to_end(key)
                return current, found[2]
        return current, None

    def put(self, key: Hashable, generation: int | None, body: bytes) -> None:
        if generation is None:
            return
        with self._lock:
            self._items[key] = (generation, time.monotonic(), body)
            self._items.move_to_end(key)
            while len(self._items) > self.entries:
                self._items.popitem(last=False)
