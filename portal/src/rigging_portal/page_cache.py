"""Rendered pages kept per server process for readers who are not signed in.

An anonymous reader's page depends on the index alone, so it is cached under the index's search
generation (rigging_indexer.result_cache: every write to the search documents bumps it, a
review's decision and a new version included) and for `ttl_seconds` at most, which bounds how
stale download counts and a re-scan's findings may look. A hit is answered here, before routing:
no database, no template. A request with a cookie or an Authorization header, a signed-in reader's
possibly, always goes through, and so does anything but GET.

Pages are kept gzip'd (a third of the memory, 15 KB for a 60 KB page) and sent so to browsers,
which all accept it; a client that does not gets them unpacked.
"""

from __future__ import annotations

import gzip

from rigging_indexer.result_cache import ResultCache
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CACHED_PREFIXES = ("/packages/", "/search")
MAX_BODY = 512 * 1024
LEVEL = 1  # zlib's fastest: most of the saving for a fraction of the time a miss spends on it


def cacheable(scope: Scope) -> bool:
    if scope["type"] != "http" or scope["method"] != "GET":
        return False
    path = scope["path"]
    if not (path == "/" or path.startswith(CACHED_PREFIXES)):  # /stats: downloads change without a generation
        return False
    return not any(name in (b"cookie", b"authorization") for name, _ in scope["headers"])


def accepts_gzip(scope: Scope) -> bool:
    return any(name == b"accept-encoding" and b"gzip" in value for name, value in scope["headers"])


class PageCache:
    def __init__(self, app: ASGIApp, cache: ResultCache) -> None:
        self.app = app
        self.cache = cache

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not cacheable(scope):
            await self.app(scope, receive, send)
            return
        key = (scope["path"], scope["query_string"])
        generation, found = self.cache.get(key)
        if found is not None:
            headers = [(b"content-type", b"text/html; charset=utf-8"), (b"vary", b"accept-encoding")]
            if accepts_gzip(scope):
                headers.append((b"content-encoding", b"gzip"))
            else:
                found = gzip.decompress(found)
            headers += [
                (b"content-length", str(len(found)).encode()),
                (b"x-rigging-cache", b"hit"),  # as proxies' X-Cache: operators and the bench count them
            ]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": found})
            return
        if generation is None:
            await self.app(scope, receive, send)
            return
        status: list[int] = []
        chunks: list[bytes] = []

        async def keeping(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
                message["headers"] = [*message.get("headers", []), (b"x-rigging-cache", b"miss")]
            elif message["type"] == "http.response.body" and status == [200]:
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    body = b"".join(chunks)
                    if len(body) <= MAX_BODY:
                        self.cache.put(key, generation, gzip.compress(body, LEVEL, mtime=0))
            await send(message)

        await self.app(scope, receive, keeping)
