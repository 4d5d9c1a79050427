"""The OCI distribution API over one keep-alive connection pool per registry (registry/http.py).

Requests that may be repeated are retried on broken connections (resets), 429 and 5xx, with
exponential backoff, full jitter and `Retry-After`; uploads restart their session as a whole,
because a half-applied PATCH cannot be repeated. A refused connection, an unknown host or a
timeout fails at once, as docker's does: no retry would mend it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from rigging import mediatypes as mt
from rigging.digests import sha256_digest
from rigging.errors import IntegrityError
from rigging.reference import is_loopback_host
from rigging.registry.auth import Authenticator, Scope
from rigging.registry.credentials import Credentials, lookup
from rigging.registry.errors import (
    RegistryError,
    TransientError,
    causes,
    describe,
    registry_reason,
    transport_reason,
    unrecoverable,
)
from rigging.registry.http import Client, Response, TransportError

MANIFEST_ACCEPT = ", ".join(
    [
        mt.OCI_MANIFEST,
        mt.OCI_INDEX,
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    ]
)
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
CHUNK_THRESHOLD = 4 * 1024 * 1024  # blobs above this go up in PATCH chunks
CHUNK_SIZE = 4 * 1024 * 1024
_RETRY_STATUSES = {429, 500, 502, 503, 504}
_MAX_RETRY_AFTER = 30.0

Progress = Callable[[int], None]


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    base_delay: float = 0.2
    max_delay: float = 5.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, _MAX_RETRY_AFTER)
        return random.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))  # noqa: S311 - jitter


def _retry_after(response: Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        return max(parsedate_to_datetime(value).timestamp() - time.time(), 0.0)
    except (TypeError, ValueError):
        return None


def _is_tls_failure(exc: BaseException) -> bool:
    import ssl

    return any(isinstance(e, ssl.SSLError) or "CERTIFICATE_VERIFY_FAILED" in str(e) for e in causes(exc))


# OpenSSL's verify codes for the failures that each have their own fix
_CERT_EXPIRED, _CERT_NOT_YET_VALID = 10, 9
_NAME_MISMATCH = (62, 64)  # X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH


def _tls_message(host: str, exc: BaseException) -> str:
    """One line saying what failed in the TLS handshake with `host` and how to fix it."""
    import ssl

    for e in causes(exc):
        if isinstance(e, ssl.SSLCertVerificationError):
            reason = (e.verify_message or e.reason or "verification failed").rstrip(".")
            if e.verify_code in _NAME_MISMATCH:
                return (
                    f"{host}: TLS certificate is not valid for this name ({reason}); address the registry by a "
                    "name its certificate lists, or have the certificate reissued for this one"
                )
            if e.verify_code == _CERT_EXPIRED:
                return (
                    f"{host}: TLS certificate has expired; the registry's certificate must be renewed "
                    "(or this machine's clock is wrong)"
                )
            if e.verify_code == _CERT_NOT_YET_VALID:
                return f"{host}: TLS certificate is not valid yet; check this machine's clock"
            return f"{host}: TLS certificate not trusted ({reason}); pass --ca-file with the registry's CA"
        if isinstance(e, ssl.SSLError):
            return (
                f"{host}: TLS handshake failed ({e.reason or e}); if the registry serves plain HTTP, pass --plain-http"
            )
    return f"{host}: TLS failed ({str(exc)[:120]}); pass --ca-file with the registry's CA"


def _with_query(url: str, **params: str) -> str:
    """Add parameters to a Location that may already carry its own query (e.g. `_state=`)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def _error(response: Response, host: str, repository: str, reference: str | None) -> RegistryError:
    if response.status_code == 400 and response.url.startswith("http:") and b"to an HTTPS server" in response.content:
        # Go's net/http answers so when plain HTTP reaches a TLS listener
        return RegistryError(
            f"{host}: the registry serves HTTPS, not plain HTTP; drop --plain-http, or for a loopback registry "
            f'set "plain_http": false for {host} in the rigging config',
            status=400,
        )
    code, detail = registry_reason(response.content, response.headers.get("Content-Type", ""))
    message = describe(code, response.status_code, host, repository, reference, detail)
    cls = TransientError if response.status_code in _RETRY_STATUSES else RegistryError
    return cls(f"{host}: {message}", status=response.status_code, code=code)


class RegistryClient:
    def __init__(
        self,
        host: str,
        *,
        plain_http: bool | None = None,
        ca_bundle: str | None = None,
        credentials: Credentials | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        chunk_threshold: int = CHUNK_THRESHOLD,
        chunk_size: int = CHUNK_SIZE,
        user_agent: str = "rigging/0.1",
    ) -> None:
        self.host = host
        plain = is_loopback_host(host) if plain_http is None else plain_http
        self.base = f"{'http' if plain else 'https'}://{host}"
        verify: bool | str = ca_bundle or os.environ.get("RIGGING_CA_BUNDLE") or True
        self.http = Client(
            verify=verify, timeout=timeout, connect_timeout=min(timeout, 10.0), headers={"User-Agent": user_agent}
        )
        self.auth = Authenticator(host, credentials if credentials is not None else lookup(host))
        self.retry = retry or RetryPolicy()
        self.chunk_threshold = chunk_threshold
        self.chunk_size = chunk_size
        self.requests = 0  # sent, retries included: benchmarks and tests count them

    def close(self) -> None:
        self.http.close()

    def expect(self, repositories: list[str]) -> None:
        """Repositories about to be read: a token registry is asked for one token covering them."""
        self.auth.expect([Scope(repository) for repository in repositories])

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- one request, with auth and retries -------------------------------------------------

    def _url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else self.base + path

    def _send(self, method: str, url: str, scopes: list[Scope], *, stream: bool = False, **kwargs: Any) -> Response:
        headers = dict(kwargs.pop("headers", None) or {})
        authorization = self.auth.header(self.http, scopes)
        for challenge_round in range(2):
            if authorization:
                headers["Authorization"] = authorization
            self.requests += 1
            response = self.http.request(method, url, headers=headers, stream=stream, **kwargs)
            if response.status_code != 401 or challenge_round == 1:
                return response
            response.close()
            authorization = self.auth.answer(self.http, response, scopes, authorization)
        raise AssertionError("unreachable")

    def request(
        self,
        method: str,
        path: str,
        scopes: list[Scope],
        *,
        ok: tuple[int, ...] = (200,),
        repository: str = "",
        reference: str | None = None,
        retry: bool = True,
        stream: bool = False,
        **kwargs: Any,
    ) -> Response:
        url = self._url(path)
        attempts = self.retry.attempts if retry else 1
        for attempt in range(attempts):
            try:
                response = self._send(method, url, scopes, stream=stream, **kwargs)
            except TransportError as exc:
                if _is_tls_failure(exc):
                    raise RegistryError(_tls_message(self.host, exc)) from None
                final = unrecoverable(self.host, self.base, exc)
                if final is not None:  # as docker does: asking again cannot help, so say so at once
                    raise RegistryError(final) from None
                if attempt + 1 >= attempts:
                    raise TransientError(
                        f"{self.host}: the connection broke {attempts} times ({transport_reason(exc)}); "
                        "the registry or a proxy in between is failing, try again later"
                    ) from None
                time.sleep(self.retry.delay(attempt, None))
                continue
            if response.status_code in ok:
                return response
            if response.status_code == 401:
                response.close()
                raise self.auth.refusal(response, scopes)
            if stream:
                response.read()
            if response.status_code in _RETRY_STATUSES and attempt + 1 < attempts:
                delay = self.retry.delay(attempt, _retry_after(response))
                response.close()
                time.sleep(delay)
                continue
            raise _error(response, self.host, repository, reference)
        raise AssertionError("unreachable")

    def with_retries(self, operation: Callable[[], Any]) -> Any:
        """Repeat a multi-request operation (an upload session) from the start on transient failure."""
        for attempt in range(self.retry.attempts):
            try:
                return operation()
            except TransientError:
                if attempt + 1 >= self.retry.attempts:
                    raise
                time.sleep(self.retry.delay(attempt, None))
        raise AssertionError("unreachable")

    # -- API ---------------------------------------------------------------------------------

    def ping(self) -> None:
        """GET /v2/ through the auth flow: proves the registry answers and the credentials work."""
        response = self.request("GET", "/v2/", [], ok=(200,))
        response.close()

    def has_blob(self, repository: str, digest: str) -> bool:
        response = self.request(
            "HEAD",
            f"/v2/{repository}/blobs/{digest}",
            [Scope(repository)],
            ok=(200, 404),
            repository=repository,
            reference=digest,
        )
        return response.status_code == 200

    def get_manifest(self, repository: str, reference: str) -> tuple[bytes, str, str]:
        """(bytes, media type, digest) of a manifest; the bytes are checked against the digest."""

        def attempt() -> tuple[bytes, Response]:
            response = self.request(
                "GET",
                f"/v2/{repository}/manifests/{reference}",
                [Scope(repository)],
                headers={"Accept": MANIFEST_ACCEPT},
                repository=repository,
                reference=reference,
                stream=True,
            )
            with contextlib.closing(response):
                length = int(response.headers.get("Content-Length") or 0)
                if length > MAX_MANIFEST_BYTES:
                    raise RegistryError(f"{self.host}: manifest {repository}:{reference} is {length} bytes; refusing")
                data = b""
                try:
                    for chunk in response.iter_bytes():
                        data += chunk
                        if len(data) > MAX_MANIFEST_BYTES:
                            raise RegistryError(f"{self.host}: manifest {repository}:{reference} is too large")
                except TransportError as exc:
                    raise TransientError(f"{self.host}: manifest download broke off ({type(exc).__name__})") from None
            return data, response

        data, response = self.with_retries(attempt)
        digest = sha256_digest(data)
        expected = reference if reference.startswith("sha256:") else response.headers.get("Docker-Content-Digest")
        if expected and expected.startswith("sha256:") and expected != digest:
            raise IntegrityError(
                f"{self.host}: manifest {repository}@{expected} does not match its content (got {digest})"
            )
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        return data, media_type, digest

    def head_manifest(self, repository: str, reference: str) -> str | None:
        """The digest a tag points at now, or None if the tag does not exist."""
        response = self.request(
            "HEAD",
            f"/v2/{repository}/manifests/{reference}",
            [Scope(repository)],
            ok=(200, 404),
            headers={"Accept": MANIFEST_ACCEPT},
            repository=repository,
            reference=reference,
        )
        if response.status_code == 404:
            return None
        return response.headers.get("Docker-Content-Digest")

    def put_manifest(
        self, repository: str, reference: str, data: bytes, media_type: str, *, if_match: str | None = None
    ) -> Response:
        """PUT exactly `data` (the bytes whose digest we computed)."""
        headers = {"Content-Type": media_type}
        if if_match:
            headers["If-Match"] = if_match
        response = self.request(
            "PUT",
            f"/v2/{repository}/manifests/{reference}",
            [Scope(repository, ("pull", "push"))],
            ok=(201, 200, 202),
            content=data,
            headers=headers,
            repository=repository,
            reference=reference,
        )
        returned = response.headers.get("Docker-Content-Digest")
        if returned and returned != sha256_digest(data):
            raise IntegrityError(f"{self.host}: registry stored manifest as {returned}, not {sha256_digest(data)}")
        return response

    def delete_manifest(self, repository: str, digest: str) -> None:
        self.request(
            "DELETE",
            f"/v2/{repository}/manifests/{digest}",
            [Scope(repository, ("pull", "push", "delete"))],
            ok=(202, 200),
            repository=repository,
            reference=digest,
        )

    def _listing(
        self,
        first: str,
        key: str,
        scopes: list[Scope],
        *,
        repository: str = "",
        ok: tuple[int, ...] = (200,),
        lenient: bool = False,
    ) -> list[str] | None:
        """Every entry of a paged listing, following `Link: <…>; rel="next"`; None when the registry
        answers one of `ok`'s other statuses (or, `lenient`, no JSON). `first` asks for big pages
        (`?n=`); a registry whose limit is lower (distribution's PAGINATION_NUMBER_INVALID) is asked
        again at its own page size."""
        found: list[str] = []
        path: str | None = first
        while path:
            response = self.request("GET", path, scopes, ok=(*ok, 400), repository=repository)
            if response.status_code == 400:
                if path == first and "PAGINATION_NUMBER_INVALID" in response.text and "?" in first:
                    path = first.split("?", 1)[0]
                    continue
                raise _error(response, self.host, repository, None)
            if response.status_code != 200:
                return None
            try:
                body = response.json()
                entries = body.get(key) or []
            except (ValueError, AttributeError):
                if lenient:
                    return None
                raise RegistryError(
                    f"{self.host}: the {key} listing of {repository or 'the registry'} is not JSON"
                ) from None
            found.extend(entries)
            path = response.links.get("next", {}).get("url")
            if path:
                path = urljoin(str(response.url), path)
        return found

    def tags(self, repository: str, page_size: int = 1000) -> list[str]:
        """Every tag, across the registry's pages."""
        scopes = [Scope(repository)]
        return self._listing(f"/v2/{repository}/tags/list?n={page_size}", "tags", scopes, repository=repository) or []

    def catalog(self, page_size: int = 1000) -> list[str] | None:
        """Every repository via `_catalog` (with Link pages), or None where the registry refuses it."""
        return self._listing(f"/v2/_catalog?n={page_size}", "repositories", [], ok=(200, 401, 403, 404), lenient=True)

    def download_blob(
        self, repository: str, digest: str, size: int, target: Path, progress: Progress | None = None
    ) -> None:
        """Stream a blob to `target`, hashing and counting; on any mismatch nothing is left behind."""
        from rigging.cache import PartialFile, sweep_partials

        target.parent.mkdir(parents=True, exist_ok=True)
        sweep_partials(target.parent)  # what a killed download left here

        def attempt() -> None:
            with PartialFile(target) as part:
                self._stream_blob(repository, digest, size, part.write, progress)
                part.commit()

        self.with_retries(attempt)

    def fetch_blob(self, repository: str, digest: str, size: int) -> bytes:
        """A small blob (a config, an indexed package's content) in memory, verified as download_blob does."""

        def attempt() -> bytes:
            parts: list[bytes] = []
            self._stream_blob(repository, digest, size, parts.append, None)
            return b"".join(parts)

        return self.with_retries(attempt)

    def _stream_blob(
        self, repository: str, digest: str, size: int, sink: Callable[[bytes], object], progress: Progress | None
    ) -> None:
        response = self.request(
            "GET",
            f"/v2/{repository}/blobs/{digest}",
            [Scope(repository)],
            repository=repository,
            reference=digest,
            stream=True,
        )
        hasher, count = hashlib.sha256(), 0
        with contextlib.closing(response):
            try:
                for chunk in response.iter_bytes(65536):
                    count += len(chunk)
                    if count > size:
                        raise IntegrityError(
                            f"{self.host}: blob {digest} is larger than the {size} bytes its descriptor says"
                        )
                    hasher.update(chunk)
                    sink(chunk)
                    if progress:
                        progress(len(chunk))
            except TransportError as exc:
                raise TransientError(f"{self.host}: download of {digest} broke off ({type(exc).__name__})") from None
        actual = "sha256:" + hasher.hexdigest()
        if count != size or actual != digest:
            raise IntegrityError(
                f"{self.host}: blob {digest} failed verification "
                f"(got {count} bytes hashing to {actual}, expected {size} bytes)"
            )

    def upload_blob(
        self,
        repository: str,
        digest: str,
        data: bytes,
        *,
        mount_from: list[str] | None = None,
        progress: Progress | None = None,
    ) -> str:
        """Make `digest` present in `repository`: 'exists', 'mounted' or 'uploaded'."""
        if self.has_blob(repository, digest):
            return "exists"
        push = [Scope(repository, ("pull", "push"))]
        for source in mount_from or []:
            if source == repository:
                continue
            response = self.request(
                "POST",
                f"/v2/{repository}/blobs/uploads/?" + urlencode({"mount": digest, "from": source}),
                [*push, Scope(source)],
                ok=(201, 202),
                repository=repository,
            )
            if response.status_code == 201:
                return "mounted"
            self._abandon(response, push)

        def attempt() -> str:
            start = self.request("POST", f"/v2/{repository}/blobs/uploads/", push, ok=(202,), repository=repository)
            location = self._location(start)
            minimum = int(start.headers.get("OCI-Chunk-Min-Length") or 0)
            body = data  # monolithic: the closing PUT carries the whole blob
            if len(data) > self.chunk_threshold:
                chunk = max(self.chunk_size, minimum)
                for offset in range(0, len(data), chunk):
                    piece = data[offset : offset + chunk]
                    response = self.request(
                        "PATCH",
                        location,
                        push,
                        ok=(202,),
                        retry=False,
                        content=piece,
                        repository=repository,
                        headers={
                            "Content-Type": "application/octet-stream",
                            "Content-Range": f"{offset}-{offset + len(piece) - 1}",
                        },
                    )
                    location = self._location(response)
                    if progress:
                        progress(len(piece))
                body = b""
            done = self.request(
                "PUT",
                _with_query(location, digest=digest),
                push,
                ok=(201,),
                retry=False,
                content=body,
                headers={"Content-Type": "application/octet-stream"},
                repository=repository,
            )
            stored = done.headers.get("Docker-Content-Digest")
            if stored and stored != digest:
                raise IntegrityError(f"{self.host}: registry stored blob as {stored}, not {digest}")
            if progress and body:
                progress(len(body))
            return "uploaded"

        return self.with_retries(attempt)

    def _location(self, response: Response) -> str:
        location = response.headers.get("Location")
        if not location:
            raise RegistryError(f"{self.host}: upload response has no Location header")
        return urljoin(str(response.url), location)  # relative or absolute, query kept

    def _abandon(self, response: Response, scopes: list[Scope]) -> None:
        """Cancel an upload session the registry opened instead of mounting."""
        with contextlib.suppress(RegistryError, TransportError):
            self.request("DELETE", self._location(response), scopes, ok=(204, 200, 202, 404), retry=False)

    def referrers_api(self, repository: str, digest: str) -> list[dict[str, Any]] | None:
        """Referrers through `GET /v2/<name>/referrers/<digest>`, or None where the registry lacks the API."""
        response = self.request(
            "GET",
            f"/v2/{repository}/referrers/{digest}",
            [Scope(repository)],
            ok=(200, 404, 405, 400),
            headers={"Accept": mt.OCI_INDEX},
            repository=repository,
        )
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        if response.status_code != 200 or content_type != mt.OCI_INDEX:
            return None
        try:
            return list(response.json().get("manifests") or [])
        except ValueError:
            return None


@contextlib.contextmanager
def open_client(host: str, **options: Any) -> Iterator[RegistryClient]:
    client = RegistryClient(host, **options)
    try:
        yield client
    finally:
        client.close()
