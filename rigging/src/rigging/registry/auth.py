"""Registry auth as docker does it: anonymous, Basic, or Bearer tokens from the challenge's realm.

Tokens are cached per scope until shortly before they expire; once a registry has asked for a
Bearer token, later requests fetch one up front instead of taking a 401 each time.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rigging.registry.credentials import Credentials
from rigging.registry.errors import RegistryError, registry_reason, transport_reason, unrecoverable

if TYPE_CHECKING:
    from rigging.registry.http import Client, Response

_PARAM = re.compile(r'\s*([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?')
_EXPIRY_MARGIN = 10.0
# scopes asked for in one token request at most: each is ~40 characters of its URL, and servers
# refuse URLs past ~8 KB
_SCOPES_PER_TOKEN = 64


@dataclass(frozen=True, order=True)
class Scope:
    repository: str
    actions: tuple[str, ...] = ("pull",)

    def __str__(self) -> str:
        return f"repository:{self.repository}:{','.join(self.actions)}"


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """`Bearer realm="…",service="…",scope="…"` -> ("bearer", {...})."""
    scheme, _, rest = header.strip().partition(" ")
    params = {}
    for match in _PARAM.finditer(rest):
        value = match.group(2) if match.group(2) is not None else match.group(3)
        params[match.group(1).lower()] = re.sub(r"\\(.)", r"\1", value or "")
    return scheme.lower(), params


def _merge_scopes(scopes: list[str]) -> list[str]:
    """One entry per repository, actions unioned (docker sends them that way)."""
    merged: dict[str, set[str]] = {}
    others: list[str] = []
    for scope in scopes:
        parts = scope.split(":")
        if len(parts) >= 3 and parts[0] == "repository":
            name = ":".join(parts[1:-1])
            merged.setdefault(name, set()).update(a for a in parts[-1].split(",") if a)
        elif scope not in others:
            others.append(scope)
    order = {"pull": 0, "push": 1, "delete": 2}
    return [
        f"repository:{name}:{','.join(sorted(actions, key=lambda a: (order.get(a, 9), a)))}"
        for name, actions in sorted(merged.items())
    ] + others


def _grants(scopes: tuple[str, ...]) -> dict[str, set[str]]:
    """repository -> actions, of merged scopes."""
    found: dict[str, set[str]] = {}
    for scope in scopes:
        kind, _, rest = scope.partition(":")
        name, _, actions = rest.rpartition(":")
        if kind == "repository":
            found.setdefault(name, set()).update(actions.split(","))
    return found


class Authenticator:
    def __init__(self, host: str, credentials: Credentials) -> None:
        self.host = host
        self.credentials = credentials
        self._scheme: str | None = None
        self._bearer: dict[str, str] | None = None
        self._tokens: dict[tuple[str, ...], tuple[str, float]] = {}
        self._expected: list[str] = []
        self._lock = threading.Lock()
        # one token request at a time: threads that meet their first 401 together wait for the
        # token that covers them all rather than each asking for its own
        self._fetching = threading.Lock()

    def expect(self, scopes: list[Scope]) -> None:
        """Scopes the caller will need soon (the repositories of a lock): the first token asked
        for covers them all, as docker asks for several scopes at once, so that fifty packages
        cost one token request rather than fifty (and fifty 401s)."""
        with self._lock:
            self._expected = sorted({*self._expected, *map(str, scopes)})

    def _basic(self) -> str:
        from rigging.registry.http import basic_authorization

        return basic_authorization(self.credentials.username or "", self.credentials.password or "")

    def header(self, http: Client, scopes: list[Scope]) -> str | None:
        """The Authorization header to send before any challenge, when we already know the scheme."""
        if self._scheme == "basic":
            return self._basic()
        if self._scheme == "bearer" and self._bearer is not None:
            return "Bearer " + self._token(http, [str(s) for s in scopes], self._bearer)
        return None

    def refusal(self, response: Response | None = None, scopes: list[Scope] | None = None) -> RegistryError:
        """The error for a 401 that survived our answer to the challenge. A token that holds but
        lacks the access asked for (`insufficient_scope`) is not a bad login: logging in again
        would not help, so say what was denied."""
        logged_in = bool(self.credentials.has_basic or self.credentials.identity_token)
        _, params = parse_challenge(response.headers.get("WWW-Authenticate", "")) if response is not None else ("", {})
        if params.get("error") == "insufficient_scope" and (logged_in or self._bearer is not None):
            pushing = [s for s in scopes or [] if "push" in s.actions]
            repository = (pushing or scopes or [Scope("")])[0].repository
            if pushing:
                message = (
                    f"{self.host} denied publishing to {repository}"
                    + (" with this login" if logged_in else " without a login")
                    + ": it may not publish there (on a Rigging registry the namespace is someone else's or "
                    "unclaimed: claim it, or ask its owner for the maintainer role)"
                )
            elif logged_in:
                message = (
                    f"{self.host} denied reading {repository} with this login: no such package, or it may not read it"
                )
            else:
                message = f"{self.host} denied reading {repository} without a login; run `rigging login {self.host}`"
            return RegistryError(message, status=403, code="DENIED")
        if logged_in:
            message = f"{self.host} refused the stored credentials; run `rigging login {self.host}` again"
        else:
            message = f"{self.host} requires a login; run `rigging login {self.host}`"
        return RegistryError(message, status=401, code="UNAUTHORIZED")

    def answer(self, http: Client, response: Response, scopes: list[Scope], sent: str | None = None) -> str:
        """Respond to a 401's challenge (to the request that carried `sent`); the header to retry
        with, or RegistryError."""
        header = response.headers.get("WWW-Authenticate", "")
        scheme, params = parse_challenge(header)
        if scheme == "basic":
            if not self.credentials.has_basic:
                raise RegistryError(
                    f"{self.host} requires a login; run `rigging login {self.host}`", status=401, code="UNAUTHORIZED"
                )
            if self._scheme == "basic":  # we sent these credentials already and they were refused
                raise RegistryError(
                    f"{self.host} refused the stored credentials; run `rigging login {self.host}` again",
                    status=401,
                    code="UNAUTHORIZED",
                )
            self._scheme = "basic"
            return self._basic()
        if scheme == "bearer" and params.get("realm"):
            wanted = [str(s) for s in scopes]
            if params.get("scope"):
                wanted += params["scope"].split(" ")
            self._scheme, self._bearer = "bearer", params
            # a token we sent was not enough: fetch anew; none sent: one may have come meanwhile
            return "Bearer " + self._token(http, wanted, params, fresh=sent is not None)
        raise RegistryError(f"{self.host} asked for unsupported authentication {scheme or header!r}", status=401)

    def _token(self, http: Client, scopes: list[str], params: dict[str, str], *, fresh: bool = False) -> str:
        key = tuple(_merge_scopes(scopes))
        with self._fetching:
            with self._lock:
                cached = None if fresh else self._tokens.get(key) or self._covering(key)
                if cached and cached[1] > time.monotonic():
                    return cached[0]
                # the expected scopes ride along, once: should the token service grant less than
                # all, a refused scope is then asked for alone
                merged = _merge_scopes(scopes + self._expected[:_SCOPES_PER_TOKEN])
                self._expected = self._expected[_SCOPES_PER_TOKEN:]
            token, lifetime = self._fetch_token(http, params, merged)
            with self._lock:
                self._tokens[tuple(merged)] = (token, time.monotonic() + max(lifetime - _EXPIRY_MARGIN, 1.0))
        return token

    def _covering(self, key: tuple[str, ...]) -> tuple[str, float] | None:
        """A live token asked for with every scope of `key` among others (see `expect`)."""
        wanted, now = _grants(key), time.monotonic()
        for scopes, cached in self._tokens.items():
            if cached[1] > now and len(scopes) > len(key):
                held = _grants(scopes)
                if all(actions <= held.get(name, set()) for name, actions in wanted.items()):
                    return cached
        return None

    def _fetch_token(self, http: Client, params: dict[str, str], scopes: list[str]) -> tuple[str, float]:
        from rigging.registry.http import TransportError

        realm = params["realm"]
        service = params.get("service")
        creds = self.credentials
        try:
            if creds.identity_token:
                form = {"grant_type": "refresh_token", "refresh_token": creds.identity_token, "client_id": "rigging"}
                if service:
                    form["service"] = service
                if scopes:
                    form["scope"] = " ".join(scopes)
                response = http.request("POST", realm, data=form)
            else:
                query: list[tuple[str, str]] = [("service", service)] if service else []
                query += [("scope", s) for s in scopes]
                auth = (creds.username, creds.password) if creds.has_basic else None
                response = http.request("GET", realm, params=query, auth=auth)
        except TransportError as exc:
            from urllib.parse import urlsplit

            parts = urlsplit(realm)
            base = f"{parts.scheme}://{parts.netloc}"
            reason = unrecoverable(parts.netloc, base, exc, "token service") or transport_reason(exc)
            raise RegistryError(f"{self.host} sends logins to the token service {realm}: {reason}") from None
        if response.status_code in (401, 403):
            hint = f"run `rigging login {self.host}`" if not (creds.has_basic or creds.identity_token) else "check them"
            raise RegistryError(
                f"token service {realm} refused the credentials for {self.host}; {hint}",
                status=401,
                code="UNAUTHORIZED",
            )
        if response.status_code != 200:
            _, reason = registry_reason(response.content, response.headers.get("Content-Type", ""))
            raise RegistryError(
                f"token service {realm} answered HTTP {response.status_code}" + (f": {reason}" if reason else ""),
                status=response.status_code,
            )
        try:
            body = response.json()
            token = body.get("token") or body.get("access_token")
            lifetime = float(body.get("expires_in") or 60)
        except (ValueError, AttributeError, TypeError):
            token = None
            lifetime = 0.0
        if not token:
            raise RegistryError(f"token service {realm} answered without a token")
        return str(token), lifetime
