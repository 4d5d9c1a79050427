"""An HTTP reverse proxy between the CLI and a registry that injects faults on a schedule:
connection resets, 503s, 429 with Retry-After, slow responses and bodies cut short. It also
rewrites absolute `Location` headers to relative ones, which clients must resolve themselves,
and can send blob downloads elsewhere with a redirect, as registries backed by S3 or a CDN do.
"""

from __future__ import annotations

import http.client
import itertools
import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlsplit

# A schedule maps the running request number to a fault name or None.
Schedule = Callable[[int, str, str], str | None]
FAULTS = ("reset", "503", "429", "slow", "truncate")


def every(n: int, fault: str) -> Schedule:
    return lambda index, method, path: fault if index % n == 0 else None


def rotating(n: int, faults: tuple[str, ...] = FAULTS) -> Schedule:
    """Every n-th request gets the next fault in turn."""
    cycle = itertools.cycle(faults)
    return lambda index, method, path: next(cycle) if index % n == 0 else None


def no_faults(index: int, method: str, path: str) -> str | None:
    return None


def _paginate(path: str, data: bytes) -> tuple[bytes, str | None]:
    """Cut a full tag list into the page `n`/`last` ask for, with a relative `Link` to the next,
    as the distribution spec describes (distribution 2.8 itself ignores `n` on tag lists)."""
    parts = urlsplit(path)
    query = dict(parse_qsl(parts.query))
    if "n" not in query:
        return data, None
    body = json.loads(data)
    tags = sorted(body.get("tags") or [])
    if "last" in query:
        tags = [t for t in tags if t > query["last"]]
    size = int(query["n"])
    page, rest = tags[:size], tags[size:]
    body["tags"] = page
    link = None
    if rest:
        link = f'<{parts.path}?{urlencode({"n": size, "last": page[-1]})}>; rel="next"'
    return json.dumps(body).encode(), link


class FaultProxy:
    def __init__(
        self,
        upstream: str,
        schedule: Schedule = no_faults,
        paginate: bool = False,
        redirect_blobs: Callable[[str], str] | None = None,
        upstream_authorization: str | None = None,
    ) -> None:
        self.upstream = upstream  # host:port
        self.schedule = schedule
        self.paginate = paginate
        self.redirect_blobs = redirect_blobs  # a blob GET's path -> the Location it is sent to
        # sent upstream in place of the client's: a storage service that holds its own access
        self.upstream_authorization = upstream_authorization
        self.seen: list[tuple[str, str, str | None]] = []  # (method, path, Authorization) of each request
        self.counter = itertools.count(1)
        self.injected: Counter[str] = Counter()
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _handle(self) -> None:
                with proxy.lock:
                    index = next(proxy.counter)
                fault = proxy.schedule(index, self.command, self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                proxy.seen.append((self.command, self.path, self.headers.get("Authorization")))
                if proxy.redirect_blobs and self.command == "GET" and "/blobs/sha256:" in self.path:
                    self.send_response(307)
                    self.send_header("Location", proxy.redirect_blobs(self.path))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if fault:
                    proxy.injected[fault] += 1
                if fault == "reset":
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    self.close_connection = True
                    self.connection.close()
                    return
                if fault in ("503", "429"):
                    self.send_response(int(fault))
                    if fault == "429":
                        self.send_header("Retry-After", "1")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if fault == "slow":
                    time.sleep(0.3)
                upstream = http.client.HTTPConnection(proxy.upstream, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "keep-alive")}
                if proxy.upstream_authorization:
                    headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
                    headers["Authorization"] = proxy.upstream_authorization
                is_tag_list = proxy.paginate and urlsplit(self.path).path.endswith("/tags/list")
                upstream.request(
                    self.command,
                    urlsplit(self.path).path if is_tag_list else self.path,
                    body=body or None,
                    headers=headers,
                )
                response = upstream.getresponse()
                data = response.read()
                link = None
                if is_tag_list and response.status == 200:
                    data, link = _paginate(self.path, data)
                self.send_response(response.status)
                if link:
                    self.send_header("Link", link)
                for key, value in response.getheaders():
                    if key.lower() in ("connection", "keep-alive", "transfer-encoding", "content-length"):
                        continue
                    if key.lower() == "location" and value.startswith("http"):
                        parts = urlsplit(value)
                        value = parts.path + (f"?{parts.query}" if parts.query else "")
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                upstream.close()
                if self.command == "HEAD":
                    return
                if fault == "truncate" and len(data) > 1:
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if fault == "slow":
                    for start in range(0, len(data), max(len(data) // 4, 1)):
                        self.wfile.write(data[start : start + max(len(data) // 4, 1)])
                        self.wfile.flush()
                        time.sleep(0.05)
                    return
                self.wfile.write(data)

            do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.server.server_port}"

    def start(self) -> FaultProxy:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
