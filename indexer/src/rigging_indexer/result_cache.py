"""Search responses kept per server process, keyed by the index's search generation.

Writers bump the generation after every commit that changes search documents (db.sessions), so a
cached response is served only while the documents it was computed from are still current. The
generation is read at most every `check_seconds` (one tiny query), which bounds how late a
server sees another process's writes; download counts, which only nudge ranking, are refreshed
by `ttl_seconds`.
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
    ) -> None:
        self._read_generation = generation
        self.entries = entries
        self.ttl_seconds = ttl_seconds
        self.check_seconds = check_seconds
        self._items: OrderedDict[Hashable, tuple[int, float, bytes]] = OrderedDict()
        self._generation = -1
        self._checked = 0.0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    @property
    def enabled(self) -> bool:
        return self.entries > 0 and self.ttl_seconds > 0

    def generation(self) -> int:
        now = time.monotonic()
        if now - self._checked >= self.check_seconds:
            self._generation = self._read_generation()
            self._checked = now
        return self._generation

    def invalidate(self) -> None:
        """This process just wrote: look the generation up again before the next answer."""
        self._checked = 0.0

    def get(self, key: Hashable) -> tuple[int, bytes | None]:
        """(current generation, the cached body or None)."""
        if not self.enabled:
            return 0, None
        current = self.generation()
        with self._lock:
            found = self._items.get(key)
            if found is not None and found[0] == current and time.monotonic() - found[1] < self.ttl_seconds:
                self._items.move_to_end(key)
                self.hits += 1
                return current, found[2]
            self.misses += 1
        return current, None

    def put(self, key: Hashable, generation: int, body: bytes) -> None:
        if not self.enabled:
            return
        with self._lock:
            self._items[key] = (generation, time.monotonic(), body)
            self._items.move_to_end(key)
            while len(self._items) > self.entries:
                self._items.popitem(last=False)
