"""A progress line for transfers that last longer than a moment (stderr, people only)."""

from __future__ import annotations

import sys
import threading
import time

_SHOW_AFTER = 0.5


class TransferProgress:
    def __init__(self) -> None:
        self.start = time.monotonic()
        self.done = 0
        self.shown = False
        self.lock = threading.Lock()

    def __call__(self, count: int) -> None:
        with self.lock:
            self.done += count
            elapsed = time.monotonic() - self.start
            if elapsed < _SHOW_AFTER:
                return
            self.shown = True
            rate = self.done / elapsed / 1024
            sys.stderr.write(f"\r  {self.done / 1024:,.0f} KiB transferred ({rate:,.0f} KiB/s)   ")
            sys.stderr.flush()

    def finish(self) -> None:
        if self.shown:
            sys.stderr.write("\n")
