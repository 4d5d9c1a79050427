"""The processes of a session, read from /proc: how tests check that a stack left none behind
(independently of the code that stopped it)."""

from __future__ import annotations

import os
from pathlib import Path


def session_processes(session: int) -> dict[int, str]:
    """pid -> command line of every live process whose session is `session`."""
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getsid(int(entry)) == session:
                    found[int(entry)] = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
    return found
