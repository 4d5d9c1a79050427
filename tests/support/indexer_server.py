"""`rigging-indexer serve` started as a test's own server process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

INDEXER = Path(sys.executable).parent / "rigging-indexer"


def start_indexer(
    port: int,
    database: str,
    *,
    source: str | None = None,
    webhook_secret: str | None = None,
    workers: int | None = None,
    crawl_interval: float | None = None,
    output: int | None = subprocess.DEVNULL,
) -> subprocess.Popen:
    """The server on 127.0.0.1:`port` (the caller waits for /healthz and stops it). With a
    source it crawls on start and every `crawl_interval` seconds (0: never, webhooks only)."""
    command = [str(INDEXER), "serve", "--port", str(port), "--database", database]
    if source is not None:
        command += ["--source", source]
    if crawl_interval is not None:
        command += ["--crawl-interval", str(crawl_interval)]
    if webhook_secret is not None:
        command += ["--webhook-secret", webhook_secret]
    if workers is not None:
        command += ["--workers", str(workers)]
    return subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT if output is not None else None)
