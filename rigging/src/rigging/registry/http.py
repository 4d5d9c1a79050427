"""HTTP/1.1 for the registry and index clients, on the standard library's `http.client`: one
keep-alive pool per origin, a verified TLS context made on the first https:// request, the
proxies the environment names, and redirects that drop credentials when they leave the origin.

Why not httpx, which this replaced: in a CLI-only install `import httpx` took about 60 ms more
than `http.client` (the largest single cost of a cold `rigging pull`, bench/pull.py), and each
keep-alive GET cost about three times the CPU (372 against 112 µs for 1 KB, 2,000 GETs on one
connection). A registry client needs little of what httpx adds: no HTTP/2 (distribution serves
HTTP/1.1), no cookies, no decompression (blobs are hashed as sent, so nothing asks for gzip).
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import os
import sys
import threading
from collections.abc import Iterator, Mapping
from email.message import Message
from typing import Any
from urllib.parse import SplitResult, unquote, urlencode, urljoin, urlsplit

MAX_REDIRECTS = 10
MAX_IDLE_PER_ORIGIN = 8
_DRAIN_LIMIT = 64 * 1024
_REDIRECTS = (301, 302, 303, 307, 308)
# a broken keep-alive connection is retried at once on a new one only where repeating is safe
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, ConnectionAbortedError)


class TransportError(Exception):
    """No complete response: the connection failed, timed out or broke off."""


class ConnectError(TransportError):
    """No connection: refused, unknown name, unreachable, or a failed TLS handshake."""


class TimeoutException(TransportError):
    pass


class ConnectTimeout(TimeoutException):
    pass


class ReadTimeout(TimeoutException):
    pass


class ReadError(TransportError):
    """The connection broke off after it was made (a reset, or a body cut short)."""


class ProxyError(TransportError):
    pass


class UnsupportedProtocol(TransportError):
    pass


class TooManyRedirects(TransportError):
    pass


def _origin(url: str) -> tuple[str, str, int]:
    return _origin_of(urlsplit(url))


def _origin_of(parts: SplitResult) -> tuple[str, str, int]:
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or ""), parts.port or (443 if scheme == "https" else 80)


def _without(headers: dict[str, str], *names: str) -> dict[str, str]:
    drop = {n.lower() for n in names}
    return {k: v for k, v in headers.items() if k.lower() not in drop}


def basic_authorization(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def parse_links(header: str) -> dict[str, dict[str, str]]:
    """`<url>; rel="next", <url>; rel="prev"` -> {"next": {"url": …}, …} (RFC 8288, as registries send it)."""
    links: dict[str, dict[str, str]] = {}
    for entry in header.split(","):
        target, _, params = entry.partition(";")
        target = target.strip()
        if not (target.startswith("<") and target.endswith(">")):
            continue
        link = {"url": target[1:-1]}
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip():
                link[key.strip().lower()] = value.strip().strip('"')
        links[link.get("rel", link["url"])] = link
    return links


def _via(proxy: str) -> tuple[str, int, dict[str, str]]:
    """A proxy URL's host, port and the headers that log in to it."""
    via = urlsplit(proxy if "://" in proxy else "http://" + proxy)
    if via.scheme != "http" or not via.hostname:
        raise ProxyError(
            f"proxy {via.scheme}://{via.hostname or ''} is not supported: give an http:// proxy "
            "in HTTPS_PROXY / HTTP_PROXY / ALL_PROXY"
        )
    login = basic_authorization(unquote(via.username), unquote(via.password or "")) if via.username else None
    return via.hostname, via.port or 80, {"Proxy-Authorization": login} if login else {}


def _environment_proxies() -> dict[str, str]:
    # urllib.request (and the http.cookiejar and email modules it pulls in) is imported only
    # when a proxy variable is set: most runs have none
    if not any(key.lower().endswith("_proxy") for key in os.environ):
        return {}
    import urllib.request

    return urllib.request.getproxies_environment()


class Response:
    """One response. Unless it was asked for as a stream its body has been read, and its
    connection is back in the pool; a stream's goes back once the body is read to the end."""

    def __init__(self, raw: http.client.HTTPResponse, url: str, release: Any) -> None:
        self._raw, self._release = raw, release
        self.url = url
        self.status_code: int = raw.status
        self.reason_phrase: str = raw.reason
        self.headers: Message = raw.msg  # case-insensitive `get`
        self._content: bytes | None = None

    def read(self) -> bytes:
        if self._content is None:
            try:
                self._content = self._raw.read()
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                raise _broken(exc) from exc
            self.close()
        return self._content

    @property
    def content(self) -> bytes:
        return self.read()

    @property
    def text(self) -> str:
        return self.content.decode(self.headers.get_content_charset() or "utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content)

    @property
    def links(self) -> dict[str, dict[str, str]]:
        return parse_links(self.headers.get("Link", ""))

    def iter_bytes(self, chunk_size: int = 65536) -> Iterator[bytes]:
        if self._content is not None:
            yield self._content
            return
        raw = self._raw
        try:
            while chunk := raw.read1(chunk_size):
                yield chunk
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise _broken(exc) from exc
        # http.client ends a Content-Length body cut short without a word: say so
        if raw.length:
            self.close()
            raise ReadError(f"the connection closed {raw.length} bytes before the end of the body")
        self.close()

    def close(self) -> None:
        release, self._release = self._release, None
        if release is None:
            return
        raw = self._raw
        if not raw.isclosed() and raw.length is not None and raw.length <= _DRAIN_LIMIT:
            # a small unread body (a 401's, an error's): reading it keeps the connection, where
            # closing would cost a new one (a TLS handshake, on a real registry) for the retry
            with contextlib.suppress(OSError, http.client.HTTPException):
                raw.read()
        release(raw)


def _broken(exc: BaseException) -> TransportError:
    if isinstance(exc, TimeoutError):
        return ReadTimeout(f"no data for the read timeout ({exc})")
    return ReadError(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)


class Client:
    """A pool of keep-alive connections per (scheme, host, port, proxy); safe across threads,
    each connection used by one request at a time."""

    def __init__(
        self,
        *,
        verify: bool | str = True,
        timeout: float = 30.0,
        connect_timeout: float | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self._verify = verify  # True: certifi's bundle; a path: that CA file (or folder)
        self.timeout = timeout
        self.connect_timeout = connect_timeout if connect_timeout is not None else timeout
        self.headers = dict(headers or {})
        self._idle: dict[tuple[str, str, int, str | None], list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()
        self._context: Any = None
        self._proxies = _environment_proxies()
        self._chosen: dict[tuple[str, str], str | None] = {}  # (scheme, host:port) -> its proxy

    # -- connections -------------------------------------------------------------------------

    def _tls(self) -> Any:
        with self._lock:
            if self._context is None:
                import ssl

                where = self._verify if isinstance(self._verify, str) else None
                if where is None:
                    import certifi

                    where = certifi.where()
                if os.path.isdir(where):
                    self._context = ssl.create_default_context(capath=where)
                else:
                    self._context = ssl.create_default_context(cafile=where)
            return self._context

    def _proxy(self, scheme: str, netloc: str) -> str | None:
        if not self._proxies:
            return None
        where = (scheme, netloc)
        if where not in self._chosen:
            import urllib.request

            proxy = self._proxies.get(scheme) or self._proxies.get("all")
            if proxy and urllib.request.proxy_bypass_environment(netloc, self._proxies):
                proxy = None
            self._chosen[where] = proxy
        return self._chosen[where]

    def _connect(self, scheme: str, host: str, port: int, proxy: str | None) -> http.client.HTTPConnection:
        timeout = self.connect_timeout
        conn: http.client.HTTPConnection
        if proxy is None:
            if scheme == "https":
                conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=self._tls())
            else:
                conn = http.client.HTTPConnection(host, port, timeout=timeout)
        else:
            via_host, via_port, credentials = _via(proxy)
            if scheme == "https":  # a CONNECT tunnel, then TLS with the registry itself
                conn = http.client.HTTPSConnection(via_host, via_port, timeout=timeout, context=self._tls())
                conn.set_tunnel(host, port, headers=credentials)
            else:  # absolute-form requests to the proxy (see _send)
                conn = http.client.HTTPConnection(via_host, via_port, timeout=timeout)
        try:
            conn.connect()
        except TimeoutError as exc:
            conn.close()
            raise ConnectTimeout(f"connecting to {host}:{port} timed out") from exc
        except OSError as exc:
            conn.close()
            if proxy is not None and "Tunnel connection failed" in str(exc):
                raise ProxyError(str(exc)) from exc
            raise ConnectError(f"{type(exc).__name__}: {exc}") from exc
        assert conn.sock is not None
        conn.sock.settimeout(self.timeout)  # from here on the read timeout, not the connect one
        return conn

    def _checkout(self, key: tuple[str, str, int, str | None]) -> tuple[http.client.HTTPConnection, bool]:
        with self._lock:
            idle = self._idle.get(key)
            if idle:
                return idle.pop(), True
        return self._connect(*key), False

    def _releaser(self, key: tuple[str, str, int, str | None], conn: http.client.HTTPConnection) -> Any:
        def release(raw: http.client.HTTPResponse) -> None:
            if not raw.isclosed() or raw.will_close:  # unread body or a closing server: not reusable
                raw.close()
                conn.close()
                return
            with self._lock:
                idle = self._idle.setdefault(key, [])
                if len(idle) < MAX_IDLE_PER_ORIGIN:
                    idle.append(conn)
                    return
            conn.close()

        return release

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in conns:
                conn.close()

    # -- requests ----------------------------------------------------------------------------

    def _send(self, method: str, url: str, headers: dict[str, str], body: bytes | None) -> Response:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            raise UnsupportedProtocol(f"Request URL {url!r} has an unsupported protocol {scheme + '://'!r}")
        if not parts.hostname:
            raise UnsupportedProtocol(f"Request URL {url!r} names no host")
        _, host, port = _origin_of(parts)
        proxy = self._proxy(scheme, parts.netloc)
        key = (scheme, host, port, proxy)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        if proxy is not None and scheme == "http":
            target = f"http://{parts.netloc}{target}"
            headers = {**headers, **_via(proxy)[2]}
        for attempt in range(2):
            conn, reused = self._checkout(key)
            try:
                conn.request(method, target, body=body, headers=headers)
                raw = conn.getresponse()
            except _STALE as exc:
                conn.close()
                if reused and attempt == 0 and method in _IDEMPOTENT:
                    continue  # the server closed an idle keep-alive connection: a new one will do
                raise _broken(exc) from exc
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                raise _broken(exc) from exc
            break
        logging = sys.modules.get("logging")  # -v set it up; importing it costs a cold run ~10 ms
        if logging is not None:
            logging.getLogger("rigging.http").info(
                'HTTP Request: %s %s "HTTP/1.1 %d %s"', method, url, raw.status, raw.reason
            )
        return Response(raw, url, self._releaser(key, conn))

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        params: Mapping[str, str] | list[tuple[str, str]] | None = None,
        data: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        stream: bool = False,
    ) -> Response:
        """Send, following redirects: Authorization is dropped once a redirect leaves the origin
        (a registry sends blob downloads to a storage service, which must not see the login)."""
        sent = {**self.headers, **(headers or {})}
        if params:
            url += ("&" if urlsplit(url).query else "?") + urlencode(params)
        if data is not None:
            content = urlencode(data).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        if auth is not None:
            sent["Authorization"] = basic_authorization(*auth)
        if content is None and method in ("POST", "PUT", "PATCH"):
            content = b""
        for _ in range(MAX_REDIRECTS + 1):
            response = self._send(method, url, sent, content)
            location = response.headers.get("Location")
            if response.status_code not in _REDIRECTS or not location:
                if not stream:
                    response.read()
                return response
            response.read()  # a redirect's body is small; reading it frees the connection
            following = urljoin(url, location)
            if _origin(following) != _origin(url):
                sent = _without(sent, "Authorization")
            if (response.status_code == 303 and method != "HEAD") or (
                response.status_code in (301, 302) and method == "POST"
            ):
                method, content = "GET", None
                sent = _without(sent, "Content-Type", "Content-Length")
            url = following
        raise TooManyRedirects(f"more than {MAX_REDIRECTS} redirects, the last to {url}")
