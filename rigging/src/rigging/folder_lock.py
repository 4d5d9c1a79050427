"""Advisory locks on a folder, so that rigging processes changing the same project (or OCI layout)
take turns.

The lock is `flock` on the folder itself: it leaves no file behind, and the kernel releases it
when its holder exits, however it exits, so a killed install never leaves a stale lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from rigging.errors import RiggingError

DEFAULT_TIMEOUT_S = 300.0
_POLL_S = 0.05


def timeout_from_env() -> float:
    import math

    text = os.environ.get("RIGGING_LOCK_TIMEOUT", "")
    if not text:
        return DEFAULT_TIMEOUT_S
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds < 0:
        raise RiggingError(f"RIGGING_LOCK_TIMEOUT={text!r} is not a number of seconds (0 or more)")
    return seconds


def _say_waiting(root: Path, timeout: float) -> None:
    print(
        f"rigging: waiting for another rigging command to finish in {root} "
        f"(up to {timeout:.0f} s; RIGGING_LOCK_TIMEOUT sets this)",
        file=sys.stderr,
        flush=True,
    )


def _acquire(fd: int, mode: int, root: Path, limit: float, on_wait: Callable[[Path, float], None] | None) -> None:
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
        return
    except BlockingIOError:
        pass
    if on_wait is not None:
        on_wait(root, limit)
    if limit == float("inf"):
        fcntl.flock(fd, mode)
        return
    deadline = time.monotonic() + limit
    while True:
        time.sleep(_POLL_S)
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise RiggingError(
                    f"{root}: another rigging command has been changing this project for over {limit:.0f} s; "
                    "let it finish or stop it, then retry (RIGGING_LOCK_TIMEOUT sets how long to wait)"
                ) from None


@contextlib.contextmanager
def hold(
    root: Path,
    *,
    shared: bool = False,
    timeout: float | None = None,
    on_wait: Callable[[Path, float], None] | None = _say_waiting,
) -> Iterator[None]:
    """Hold the folder's lock: shared for readers, exclusive for writers.

    Waits up to `timeout` seconds (None: RIGGING_LOCK_TIMEOUT, default 300; inf: for ever),
    calling `on_wait` once if it has to wait at all.
    """
    limit = timeout_from_env() if timeout is None else timeout
    try:
        fd = os.open(root, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError as exc:
        raise RiggingError(f"{root}: cannot open the folder to lock it ({exc.strerror})") from None
    try:
        _acquire(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX, root, limit, on_wait)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
