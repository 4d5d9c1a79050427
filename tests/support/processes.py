"""The processes of a session, read from /proc: how tests check that a stack left none behind
(independently of the code that stopped it). A zombie is not counted: it has exited and holds
nothing but its pid until its parent reaps it, and a process whose parent is gone is reaped by
the machine's init (in a container whose pid 1 never reaps, zombies stay listed)."""

from __future__ import annotations

import os
from pathlib import Path


def session_processes(session: int) -> dict[int, str]:
    """pid -> command line of every live process whose session is `session`."""
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getsid(int(entry)) != session:
                    continue
                state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
                if state != "Z":
                    found[int(entry)] = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
    return found
