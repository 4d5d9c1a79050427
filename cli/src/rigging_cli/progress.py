"""Progress of transfers that last longer than a moment, drawn on stderr for a person watching.

Nothing is drawn when stderr is not a terminal, with --json or -q, or when the work is done
within half a second of its start; `rich` is imported only once a display is due, so commands that
finish quickly (and `rigging --help`) never pay for it. The bar goes when the transfer ends; what
the command prints meanwhile appears above it. rich honours NO_COLOR.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing costs ~3 ms to import; only the annotations use it
if TYPE_CHECKING:
    import argparse
    import threading
    from typing import Any

SHOW_AFTER = 0.5  # seconds a transfer must last before it is worth a display

_open: list[TransferProgress] = []


def wanted(args: argparse.Namespace) -> bool:
    """Whether a person is watching who asked for no silence."""
    if getattr(args, "json", False) or getattr(args, "quiet", False):
        return False
    return sys.stderr.isatty()


def progress_for(
    args: argparse.Namespace, verb: str = "downloading", *, waiting: str | None = None
) -> TransferProgress | None:
    """A display for the command's transfers, or None; main closes every one made when the command ends.

    With `waiting` (e.g. "resolving") the clock starts now, and a command that spends more than a
    moment before its first byte says what it is doing meanwhile."""
    if not wanted(args):
        return None
    progress = TransferProgress(verb, waiting)
    _open.append(progress)
    if waiting is not None:
        progress.begin()
    return progress


def finish_all() -> None:
    while _open:
        _open.pop().finish()


class TransferProgress:
    """Called with byte counts from any thread (the registry client's Progress), told the totals
    through `expect` where the caller knows them; a timer opens the display once the transfer has
    lasted SHOW_AFTER seconds, so a stalled transfer shows up too."""

    def __init__(self, verb: str = "downloading", waiting: str | None = None) -> None:
        self.verb, self.waiting = verb, waiting
        self.done = 0
        self.total: int | None = None
        self.blobs = 0
        import threading  # only when a person watches: --json, -q and scripts make no display

        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._view: Any = None
        self._task: Any = None
        self._finished = False

    def begin(self) -> None:
        """Start the clock before the first byte (the display waits SHOW_AFTER from here)."""
        with self._lock:
            self._start_clock()

    def expect(self, blobs: int, size: int) -> None:
        """`blobs` more blobs of `size` bytes in all are about to move."""
        with self._lock:
            self.blobs += blobs
            self.total = (self.total or 0) + size
            self._start_clock()
            if self._view is not None:
                self._view.update(self._task, total=self.total, description=self._description())

    def __call__(self, count: int) -> None:
        with self._lock:
            self.done += count
            self._start_clock()
            if self._view is not None:
                self._view.update(self._task, completed=self.done)

    def finish(self) -> None:
        with self._lock:
            self._finished = True
            if self._timer is not None:
                self._timer.cancel()
            view, self._view = self._view, None
            if view is not None:
                if self.total is not None:
                    view.update(self._task, completed=self.done, total=max(self.total, self.done))
                view.stop()

    def _description(self) -> str:
        if not self.blobs:
            return self.waiting or self.verb
        return f"{self.verb} {self.blobs} blob{'s' if self.blobs != 1 else ''}"

    def _start_clock(self) -> None:
        if self._timer is None and not self._finished:
            import threading

            self._timer = threading.Timer(SHOW_AFTER, self._show)
            self._timer.daemon = True
            self._timer.start()

    def _show(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        view = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            # what the command prints meanwhile goes above the bar; stdout only when it is this terminal,
            # not a pipe carrying the result
            redirect_stdout=sys.stdout.isatty(),
            transient=True,  # the bar goes when the transfer ends; the command's own summary stays
        )
        with self._lock:
            if self._finished:
                return
            self._task = view.add_task(self._description(), total=self.total, completed=self.done)
            view.start()
            self._view = view
