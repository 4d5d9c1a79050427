"""`rigging-indexer serve` started as a test's own server process."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

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
    extra: Sequence[str] = (),
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
    command += list(extra)  # more flags: several --source, --mirror
    return subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT if output is not None else None)


def api_get(url: str, token: str | None = None) -> tuple[int, object]:
    """(status, JSON body or text) of a GET, errors included, as a bearer of `token` (or nobody)."""
    import urllib.request

    return send_request(
        urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})  # noqa: S310
    )


def send_request(request: urllib.request.Request) -> tuple[int, Any]:
    """(status, JSON body, text or None) of a request, errors included."""
    import json
    import urllib.error

    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback test server
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode("utf-8", "replace")


@contextlib.contextmanager
def serving(database: str, *flags: str) -> Iterator[str]:
    """A server that never crawls (the test has filled the index), with more flags (--source …);
    its base URL once /healthz answers, stopped afterwards."""
    from tests.support.services import free_port, wait_http

    port = free_port()
    server = start_indexer(port, database, crawl_interval=0, extra=flags)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", timeout=30, ok_statuses=(200,))
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)
