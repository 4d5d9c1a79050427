"""The indexer a command talks to (--index, else RIGGING_INDEX_URL) and one GET to it, with the
caller's token and one-line errors."""

from __future__ import annotations

import argparse
from typing import Any

MAX_URL_CHARS = 4096  # servers and proxies refuse longer URLs before any application sees them


def add_index_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--index", metavar="URL", help="indexer URL (default: RIGGING_INDEX_URL)")


def index_url(given: str | None) -> str:
    import os

    from rigging.errors import UsageError

    index = (given or os.environ.get("RIGGING_INDEX_URL") or "").rstrip("/")
    if not index:
        raise UsageError("no indexer: pass --index URL or set RIGGING_INDEX_URL")
    if not index.startswith(("http://", "https://")):
        raise UsageError(f"indexer URL {index!r} must start with http:// or https://, e.g. http://127.0.0.1:8700")
    return index


def index_get(index: str, path: str, params: dict[str, Any] | None = None, *, token: str | None = None) -> Any:
    """GET `path` from the indexer as JSON; `token` overrides the stored one (login checks a new one)."""
    from urllib.parse import urlencode, urlsplit

    from rigging.errors import RiggingError, UsageError
    from rigging.index_access import index_headers
    from rigging.registry.errors import registry_reason, transport_reason, unrecoverable
    from rigging.registry.http import Client, TransportError

    url = f"{index}{path}" + (f"?{urlencode(params)}" if params else "")
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - parsing the port is what checks it
    except ValueError as exc:
        raise UsageError(f"indexer URL {index!r} is not a valid URL ({exc})") from None
    if not parts.hostname:
        raise UsageError(f"indexer URL {index!r} is not a valid URL (it names no host)")
    if len(url) > MAX_URL_CHARS:
        raise UsageError(
            f"the request would need a {len(url):,}-character URL (at most {MAX_URL_CHARS:,} are sent): ask for less"
        )
    headers = {"Authorization": f"Bearer {token}"} if token else index_headers(index)
    client = Client(timeout=10.0, connect_timeout=3.0)
    try:
        response = client.request("GET", url, headers=headers)
    except TransportError as exc:
        base = f"{parts.scheme}://{parts.netloc}"
        final = unrecoverable(parts.netloc, base, exc, "indexer")
        raise RiggingError(final or f"indexer {index} unreachable: {transport_reason(exc)}") from None
    finally:
        client.close()
    if response.status_code != 200:
        _, reason = registry_reason(response.content, response.headers.get("Content-Type", ""))
        what = "refused the request" if 400 <= response.status_code < 500 else "failed"
        if response.status_code == 401:
            reason = reason or "the token was not accepted"
            reason += "; set RIGGING_TOKEN or run `rigging login --index URL` with a current token"
        raise RiggingError(f"indexer {index} {what} (HTTP {response.status_code})" + (f": {reason}" if reason else ""))
    try:
        return response.json()
    except ValueError:
        raise RiggingError(f"indexer {index} answered something that is not JSON: is it a Rigging indexer?") from None
