"""The registry token service: distribution's token authentication (docs/spec/auth/token.md, jwt.md).

A CNCF distribution registry configured with

    auth:
      token:
        realm: https://index.example.org/auth/registry/token
        service: registry.example.org          # = registry_token.service below
        issuer: rigging-indexer                # = registry_token.issuer
        rootcertbundle: /etc/rigging/token-keys/ca.pem   # from `rigging-indexer keys init DIR`

sends clients here for a token: `GET /auth/registry/token?service=S&scope=repository:ns/name:pull,push`,
with Basic credentials (a user name and an access token; `__token__` stands for any token's user,
and is the only name a CI token answers to) or none (anonymous). The answer grants, per
repository, what the namespace's owner and visibility allow:

- pull: the namespace is unclaimed or public, or the caller may read it;
- push (and delete, for owners): only into a claimed namespace the caller may publish in, and only
  to `namespace/name` repositories (the shape a package's identity is read from);
- `registry:catalog:*`: admins only.

A request asking for more than it may have still gets a token, carrying only what was granted
(the spec's behaviour: the registry then answers 401/denied for the rest). Wrong credentials are
a 401, so `docker login` and `rigging login` fail at once.

Settings (the config file's `auth.registry_token`, or the environment): `keys` the folder from
`rigging-indexer keys init` (RIGGING_INDEXER_REGISTRY_KEYS), `service`
(RIGGING_INDEXER_REGISTRY_SERVICE, default "rigging-registry"), `issuer`
(RIGGING_INDEXER_REGISTRY_ISSUER, default "rigging-indexer"), `lifetime_seconds`
(RIGGING_INDEXER_REGISTRY_TOKEN_SECONDS, at most and by default 300).

The route is a plain Starlette route, not a FastAPI one: it is the one endpoint every registry
request may lead to, so it skips dependency injection and validation models, reads the database
in one indexed query through SQLAlchemy Core, and signs with a key loaded once per rotation.
Neither the credentials nor the tokens it issues ever reach a log line or an error message.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter
from rigging.names import name_problem
from sqlalchemy import Engine, String, bindparam, text
from sqlalchemy.exc import DBAPIError
from starlette.requests import Request
from starlette.responses import Response

from rigging_indexer.access import TOKEN_PREFIX, Viewer, hash_token
from rigging_indexer.access import _aware as aware
from rigging_indexer.auth.keys import KeyFolderError, SigningKeys
from rigging_indexer.db import reading_engine, retrying
from rigging_indexer.models import PUBLISH_ROLES

PATH = "/auth/registry/token"
MAX_LIFETIME = 300  # seconds: the registry honours a token until it expires, revoked or not
CI_USERNAME = "__token__"  # the user name that stands for "whoever the token belongs to"
LAST_USED_EVERY = timedelta(minutes=1)  # last_used is a hint: one write a minute per token at most
REFUSED = "the user name or access token is wrong, expired or revoked"  # the one wording, whatever failed


@dataclass(frozen=True)
class TokenServiceSettings:
    keys: Path | None
    service: str
    issuer: str
    lifetime: int

    @classmethod
    def from_settings(cls, settings: Any) -> TokenServiceSettings:
        auth = getattr(settings, "auth", None)
        raw: Mapping[str, Any] = getattr(auth, "registry_token", None) or {}
        env = os.environ
        keys = raw.get("keys") or env.get("RIGGING_INDEXER_REGISTRY_KEYS")
        lifetime = int(raw.get("lifetime_seconds") or env.get("RIGGING_INDEXER_REGISTRY_TOKEN_SECONDS") or MAX_LIFETIME)
        return cls(
            keys=Path(keys) if keys else None,
            service=str(raw.get("service") or env.get("RIGGING_INDEXER_REGISTRY_SERVICE") or "rigging-registry"),
            issuer=str(raw.get("issuer") or env.get("RIGGING_INDEXER_REGISTRY_ISSUER") or "rigging-indexer"),
            lifetime=max(1, min(lifetime, MAX_LIFETIME)),
        )


@dataclass(frozen=True)
class Requested:
    """One `type:name:actions` scope of the request."""

    type: str
    name: str
    actions: tuple[str, ...]


def parse_scopes(values: Iterable[str]) -> list[Requested]:
    """The request's scopes, several per parameter allowed (space-separated, as OAuth2 forms send
    them); a repository named twice gets its actions unioned, in the order first asked."""
    merged: dict[tuple[str, str], list[str]] = {}
    for value in values:
        for scope in value.split():
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")  # a name may hold a port's ':' (registry:host:5000/x)
            if not kind or not name:
                continue
            wanted = merged.setdefault((kind, name), [])
            wanted.extend(a for a in actions.split(",") if a and a not in wanted)
    return [Requested(kind, name, tuple(actions)) for (kind, name), actions in merged.items()]


def repository_namespaces(name: str) -> tuple[str, ...]:
    """The namespaces that may own repository `name`: its first path component, and the one a
    package's identity is read from (the second-to-last, `[PREFIX/]NS/NAME`), when different.
    Pulls need every claimed one readable, so no path shape slips past a private namespace."""
    parts = name.split("/")
    found = [parts[0]]
    if len(parts) >= 2 and parts[-2] != parts[0]:
        found.append(parts[-2])
    return tuple(found)


def _pushable_shape(name: str) -> bool:
    return name_problem(name) is None  # exactly namespace/name, valid


@dataclass(frozen=True)
class Claimed:
    private: bool
    role: str | None  # the caller's role in it, if any


def decide(viewer: Viewer, claimed: Mapping[str, Claimed], requested: list[Requested]) -> list[dict[str, Any]]:
    """The `access` claim: for each requested resource, the actions this viewer gets (resources
    with none left out). `claimed` holds the claimed namespaces among the requested ones."""
    access: list[dict[str, Any]] = []
    for item in requested:
        granted: list[str] = []
        if item.type == "repository":
            namespaces = repository_namespaces(item.name)
            for action in item.actions:
                if action == "pull":
                    ok = all(ns not in claimed or viewer.may_read(ns, claimed[ns].private) for ns in namespaces)
                elif action in ("push", "delete"):
                    ns = namespaces[0]
                    ok = _pushable_shape(item.name) and ns in claimed and viewer.may_publish(ns)
                    if action == "delete":  # removing versions others depend on is the owner's call
                        ok = ok and (viewer.roles.get(ns) == "owner" or viewer.admin)
                else:
                    ok = False
                if ok:
                    granted.append(action)
        elif item.type == "registry" and item.name == "catalog" and viewer.admin:
            granted = [a for a in item.actions if a == "*"]
        if granted:
            access.append({"type": item.type, "name": item.name, "actions": granted})
    return access


class Unauthorized(Exception):
    pass


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# One query answers everything a request needs: the token (by its unique hash), its user, and
# the requested namespaces that are claimed with the user's membership role in each. No token,
# no rows: the caller is refused. Anonymous requests read the namespaces alone.
_WITH_TOKEN = text(
    "SELECT t.id, t.user_id, t.scopes, t.namespaces, t.expires, t.revoked, t.last_used, "
    "u.username, u.admin, u.disabled, n.name, n.private, n.owner_user_id, m.role "
    "FROM access_tokens t "
    "LEFT JOIN users u ON u.id = t.user_id "
    "LEFT JOIN namespaces n ON n.name IN :names "
    "LEFT JOIN memberships m ON m.organisation_id = n.owner_organisation_id AND m.user_id = t.user_id "
    "WHERE t.hash = :hash"
).bindparams(bindparam("names", expanding=True, type_=String()))
_ANONYMOUS = text("SELECT n.name, n.private FROM namespaces n WHERE n.name IN :names").bindparams(
    bindparam("names", expanding=True, type_=String())
)
_TOUCH = text("UPDATE access_tokens SET last_used = :now WHERE id = :id")


def _aware(moment: datetime | str) -> datetime:
    return aware(datetime.fromisoformat(moment) if isinstance(moment, str) else moment)  # SQLite: text


def _json_list(value: Any) -> list[str] | None:
    if isinstance(value, str):  # SQLite through text() returns the JSON unparsed
        value = json.loads(value)
    return None if value is None else [str(v) for v in value]


def lookup(engine: Engine, credential: tuple[str, str] | None, names: list[str]) -> tuple[Viewer, dict[str, Claimed]]:
    """The viewer (narrowed to `names`) and the claimed namespaces among `names`; Unauthorized when
    the credential does not hold. Mirrors rigging_indexer.access.viewer_for_token, in one query."""
    if credential is None:
        if not names:
            return Viewer(), {}
        with engine.connect() as conn:
            rows = conn.execute(_ANONYMOUS, {"names": names}).all()
        return Viewer(), {name: Claimed(bool(private), None) for name, private in rows}
    username, password = credential
    if not password.startswith(TOKEN_PREFIX):
        raise Unauthorized
    with engine.connect() as conn:
        rows = conn.execute(_WITH_TOKEN, {"names": names, "hash": hash_token(password)}).all()
        if not rows:
            raise Unauthorized
        first = rows[0]
        now = datetime.now(UTC)
        if first.revoked is not None or _aware(first.expires) <= now:
            raise Unauthorized
        if first.user_id is None:  # a CI token (trusted publishing) answers only to __token__
            if username != CI_USERNAME:
                raise Unauthorized
        elif first.username is None or first.disabled or username not in (first.username, CI_USERNAME):
            raise Unauthorized
        if first.last_used is None or _aware(first.last_used) < now - LAST_USED_EVERY:
            conn.execute(_TOUCH, {"now": now, "id": first.id})
            conn.commit()
    scopes = frozenset(_json_list(first.scopes) or [])
    only = _json_list(first.namespaces)
    claimed: dict[str, Claimed] = {}
    roles: dict[str, str] = {}
    for row in rows:
        if row.name is None:
            continue
        role = "owner" if first.user_id is not None and row.owner_user_id == first.user_id else row.role
        claimed[row.name] = Claimed(bool(row.private), role)
        if role is not None and first.user_id is not None and (only is None or row.name in only):
            roles[row.name] = role
    if first.user_id is None:
        allowed = frozenset(only or [])
        return Viewer(scopes=scopes, readable=allowed, publishable=allowed, token_id=first.id), claimed
    return (
        Viewer(
            user_id=first.user_id,
            username=first.username,
            admin=bool(first.admin) and only is None,
            scopes=scopes,
            readable=frozenset(roles) if scopes & {"read", "publish"} else frozenset(),
            publishable=frozenset(ns for ns, role in roles.items() if role in PUBLISH_ROLES),
            token_id=first.id,
            roles=roles,
        ),
        claimed,
    )


def lookup_retrying(
    engine: Engine, credential: tuple[str, str] | None, names: list[str]
) -> tuple[Viewer, dict[str, Claimed]]:
    return retrying(lambda: lookup(engine, credential, names))


def basic_credential(header: str | None) -> tuple[str, str] | None:
    """(user, password) from a Basic Authorization header; None without one; Unauthorized when it
    is malformed (a client that sent credentials meant to be someone)."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        raise Unauthorized
    try:
        user, colon, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthorized from None
    if not colon or not user or not password:
        raise Unauthorized
    return user, password


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps({"errors": [{"code": code, "message": message}]})
    return Response(body, status_code=status, media_type="application/json", headers=headers)


class TokenService:
    def __init__(self, settings: Any) -> None:
        self.config = TokenServiceSettings.from_settings(settings)
        self.engine = reading_engine(settings.sessions.kw["bind"])
        self.keys = SigningKeys(self.config.keys) if self.config.keys else None

    def token(self, subject: str, access: list[dict[str, Any]]) -> tuple[str, int, int]:
        """A signed JWT, the epoch second it was issued and the one it expires."""
        assert self.keys is not None
        leaf = self.keys.current()
        now = int(time.time())
        if leaf.not_after <= now:  # the registry would refuse its tokens: say why here instead
            raise KeyFolderError(f"the newest signing key, {leaf.name}, has expired; run `rigging-indexer keys rotate`")
        expires = min(now + self.config.lifetime, int(leaf.not_after))
        header = {"typ": "JWT", "alg": "ES256", "x5c": [leaf.x5c]}
        claims = {
            "iss": self.config.issuer,
            "sub": subject,
            "aud": self.config.service,
            "exp": expires,
            "nbf": now - 5,  # a registry whose clock runs a little behind still accepts it at once
            "iat": now,
            "jti": secrets.token_urlsafe(16),
            "access": access,
        }
        signing_input = (
            _b64url(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + _b64url(json.dumps(claims, separators=(",", ":")).encode())
        )
        return f"{signing_input}.{leaf.sign(signing_input.encode())}", now, expires

    async def endpoint(self, request: Request) -> Response:
        if self.keys is None:
            return _error(503, "UNAVAILABLE", "the registry token service is off: no signing keys are configured")
        try:
            if request.method == "POST":
                form = {k: v[-1] for k, v in parse_qs((await request.body()).decode(errors="replace")).items()}
                credential = self._oauth_credential(form)
                service, scopes = form.get("service"), [form.get("scope", "")]
            else:
                credential = basic_credential(request.headers.get("authorization"))
                service, scopes = request.query_params.get("service"), request.query_params.getlist("scope")
            if service is not None and service != self.config.service:
                return _error(400, "INVALID_REQUEST", f"this token service issues tokens for {self.config.service!r}")
            requested = parse_scopes(scopes)
            names = sorted({ns for r in requested if r.type == "repository" for ns in repository_namespaces(r.name)})
            # On the event loop, not in a worker thread: the lookup is one indexed read of well
            # under a millisecond, and the thread hand-off cost more than the query (measured:
            # 835 -> 1,387 push tokens/s, 1,021 -> 2,414 pull tokens/s, 2 workers, 50 clients);
            # the engine's timeouts bound how long a stalled database can hold the loop.
            viewer, claimed = lookup_retrying(self.engine, credential, names)
            access = decide(viewer, claimed, requested)
            subject = viewer.username or ("" if credential is None else CI_USERNAME)
            token, issued, expires = self.token(subject, access)
        except Unauthorized:
            return _error(401, "UNAUTHORIZED", REFUSED, {"WWW-Authenticate": 'Basic realm="rigging"'})
        except KeyFolderError as exc:  # its message names files, never key material
            return _error(503, "UNAVAILABLE", f"the registry token service cannot sign: {exc}")
        except DBAPIError as exc:  # the database is away or too slow: say so, and log no statement
            print(f"rigging-indexer: token service: database error ({type(exc.orig).__name__})", file=sys.stderr)
            return _error(503, "UNAVAILABLE", "the token service cannot reach the index database; try again shortly")
        body: dict[str, Any] = {
            "token": token,
            "access_token": token,
            "expires_in": expires - issued,
            "issued_at": datetime.fromtimestamp(issued, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        if request.method == "POST":
            body["scope"] = " ".join(f"{a['type']}:{a['name']}:{','.join(a['actions'])}" for a in access)
        # the answer is a credential: no cache may keep it
        return Response(
            json.dumps(body), media_type="application/json", headers={"Cache-Control": "no-store", "Pragma": "no-cache"}
        )

    @staticmethod
    def _oauth_credential(form: Mapping[str, str]) -> tuple[str, str]:
        """The OAuth2 form (containerd and docker with identity tokens): a password grant carries
        the user and token; a refresh grant carries a token alone. Anonymous OAuth2 is refused,
        as the spec has it."""
        grant = form.get("grant_type")
        if grant == "password" and form.get("username") and form.get("password"):
            return form["username"], form["password"]
        if grant == "refresh_token" and form.get("refresh_token"):
            return CI_USERNAME, form["refresh_token"]
        raise Unauthorized


def router(settings: Any) -> APIRouter:
    service = TokenService(settings)
    routes = APIRouter()
    routes.add_route(PATH, service.endpoint, methods=["GET", "POST"], include_in_schema=False)
    return routes
