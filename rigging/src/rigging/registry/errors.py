"""Registry failures as one-line messages the user can act on."""

from __future__ import annotations

import re
from typing import Any

from rigging.errors import RiggingError

_MESSAGES = {
    "UNAUTHORIZED": "authentication required or credentials rejected; run `rigging login {host}`",
    "DENIED": "access denied to {repository} for these credentials",
    "NAME_UNKNOWN": "repository {repository} does not exist on {host}",
    "NAME_INVALID": "{repository} is not a valid repository name",
    "MANIFEST_UNKNOWN": "{repository}:{reference} not found on {host}",
    "MANIFEST_INVALID": "the registry rejected the manifest as invalid",
    "MANIFEST_BLOB_UNKNOWN": "the registry lacks a blob the manifest names (upload incomplete?)",
    "BLOB_UNKNOWN": "blob {reference} is not in {repository} on {host}",
    "BLOB_UPLOAD_UNKNOWN": "the upload session expired or was lost",
    "BLOB_UPLOAD_INVALID": "the registry rejected the blob upload",
    "DIGEST_INVALID": "the registry computed another digest for the upload",
    "SIZE_INVALID": "the upload's size did not match",
    "UNSUPPORTED": "the registry does not support this operation",
    "TOOMANYREQUESTS": "the registry is rate-limiting requests; try again later",
}
# Our sentence already says all the registry's own words would (they name the code, or repeat
# the repository and reference we put in): appending them would only lengthen the line.
_SELF_EXPLAINED = {"NAME_UNKNOWN", "MANIFEST_UNKNOWN", "BLOB_UNKNOWN", "UNAUTHORIZED", "TOOMANYREQUESTS"}
_REASON_CHARS = 200


class RegistryError(RiggingError):
    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class TransientError(RegistryError):
    """A failure worth retrying (a broken connection, 5xx, 429)."""


def describe(code: str | None, status: int, host: str, repository: str, reference: str | None, detail: str) -> str:
    """Our sentence for the registry's answer, with the registry's own reason where it adds one."""
    template = _MESSAGES.get(code or "")
    if template is None:
        if status == 401:
            template = _MESSAGES["UNAUTHORIZED"]
        elif status == 403:
            template = _MESSAGES["DENIED"] + (": {detail}" if detail else "")
        else:
            template = "the registry answered HTTP {status}{named}" + (": {detail}" if detail else "")
    elif detail and code not in _SELF_EXPLAINED:
        template += " (the registry says: {detail})"
    named = f" {code}" if code and code != "UNKNOWN" else ""
    return template.format(
        host=host, repository=repository, reference=reference or "", detail=detail, status=status, named=named
    )


def registry_reason(body: bytes, content_type: str) -> tuple[str | None, str]:
    """(error code, the server's reason in one short line) of an error response: the first OCI
    `errors[]` entry's message and detail, a JSON `detail` (FastAPI) or `message`, or else the
    body's first line of text (an HTML error page from a proxy reduced to its words)."""
    import json

    text = body[:65536].decode("utf-8", "replace")
    try:
        parsed: Any = json.loads(text) if text.lstrip().startswith(("{", "[")) else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        errors = parsed.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            first = errors[0]
            code = first.get("code") if isinstance(first.get("code"), str) else None
            words = [str(first.get("message") or "").strip(), _compact(first.get("detail"))]
            return code, _shorten("; ".join(w for w in words if w))
        for key in ("detail", "message", "error"):
            if parsed.get(key):
                return None, _shorten(_compact(parsed[key]))
        return None, ""
    if "html" in content_type or text.lstrip().startswith("<"):
        title = re.search(r"<title[^>]*>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
        text = title.group(1) if title else re.sub(r"<[^>]+>", " ", text)
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return None, _shorten(line)


def _compact(value: Any) -> str:
    """A JSON detail as words: FastAPI's validation list as `field: message`, a mapping as k=v."""
    if value is None or value == {} or value == []:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list):
        parts = []
        for item in value:
            if isinstance(item, dict) and "msg" in item:
                where = ".".join(str(p) for p in item.get("loc") or [] if p not in ("query", "body", "path"))
                parts.append(f"{where}: {item['msg']}" if where else str(item["msg"]))
            else:
                parts.append(_compact(item))
        return "; ".join(p for p in parts if p)
    if isinstance(value, dict):
        return ", ".join(f"{k}={_compact(v) if isinstance(v, dict | list) else v}" for k, v in value.items())
    return str(value)


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _REASON_CHARS else text[: _REASON_CHARS - 1] + "…"


def causes(exc: BaseException) -> list[BaseException]:
    """The exception and those it was raised from, outermost first."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def unrecoverable(host: str, base: str, exc: BaseException, service: str = "registry") -> str | None:
    """The one-line message for a transport failure no retry would mend, else None.

    Only a connection that broke off (a reset, a closed keep-alive) is worth another attempt:
    a refused connection, an unknown name or an unreachable network stay so for the seconds a
    retry budget lasts (they took ~9 s of backoff to report before), and a timeout has already
    waited its full length."""
    import errno
    import socket

    from rigging.registry.http import ConnectTimeout, ProxyError, TimeoutException, UnsupportedProtocol

    where = f"is the {service} running, and is {host} its host and port?"
    for cause in causes(exc):
        if isinstance(cause, ConnectionRefusedError):
            return f"{host}: connection refused, nothing is listening at {base}; {where}"
        if isinstance(cause, socket.gaierror):
            name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
            return f"{host}: the name {name} does not resolve ({cause.strerror or cause}); check its spelling"
        if isinstance(cause, OSError) and cause.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
            return f"{host}: no route to the host ({cause.strerror}); check the network, VPN or proxy settings"
    if isinstance(exc, ConnectTimeout):
        return f"{host}: no answer to the connection attempt in time; {where} (a firewall may drop the packets)"
    if isinstance(exc, TimeoutException):
        return f"{host}: the {service} stopped answering mid-request ({type(exc).__name__}); try again later"
    if isinstance(exc, ProxyError):
        return f"{host}: the HTTP proxy refused the request ({exc}); check HTTPS_PROXY / HTTP_PROXY"
    if isinstance(exc, UnsupportedProtocol):
        return f"{host}: {exc}"
    return None


def transport_reason(exc: BaseException) -> str:
    for cause in causes(exc):
        if isinstance(cause, ConnectionResetError):
            return "connection reset by peer"
    return str(exc)[:120] or type(exc).__name__
