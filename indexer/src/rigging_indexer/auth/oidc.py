"""Sign-in through identity providers: OpenID Connect (authorization code + PKCE S256, found by
discovery from the issuer) and GitHub's OAuth apps, both through authlib's Starlette client.

    GET  /auth/login/{provider}?next=/path  -> the provider's authorization page
    GET  /auth/callback/{provider}          -> a session, then a redirect to `next`
    POST /auth/logout                       (a state-changing request: it needs the CSRF token)
    GET  /api/v1/session                    -> {username, admin, csrf_token} for a signed-in browser
    GET  /api/v1/auth/providers             -> [{id, name, login}] for sign-in pages

A user is who the provider says: (issuer, subject); the username is chosen once, at first
sign-in, from what the provider suggests, and kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx2
from authlib.integrations.base_client import MismatchingStateError, OAuthError
from authlib.integrations.starlette_client import OAuth, StarletteOAuth2App
from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rigging_indexer.auth import audit, sessions
from rigging_indexer.auth.settings import AuthSettings, ProviderSettings
from rigging_indexer.models import Namespace, User

USERNAME_MAX = 39  # GitHub's limit, so a GitHub login always fits as it is
NEXT = "next"  # the session key for where to go after sign-in


@dataclass(frozen=True)
class Identity:
    issuer: str
    subject: str
    suggested: str  # a username hint, not yet valid or unique
    email: str | None
    display_name: str | None


class SignInRefused(Exception):
    """Sign-in is refused for a reason the user may read (never holding a token or a code)."""


def router(settings: Any) -> APIRouter:
    """Routes for `settings.auth` (an AuthSettings); `settings.sessions` opens database sessions."""
    auth: AuthSettings = settings.auth
    oauth = OAuth()
    for provider in auth.providers:
        # PKCE for GitHub too: GitHub accepts it, and it costs a leaked code its use
        kwargs: dict[str, Any] = {"client_kwargs": {"scope": provider.scope, "code_challenge_method": "S256"}}
        if provider.type == "oidc":
            kwargs["server_metadata_url"] = f"{provider.issuer}/.well-known/openid-configuration"
        else:
            kwargs.update(authorize_url=provider.authorize_url, access_token_url=provider.token_url)
        oauth.register(provider.id, client_id=provider.client_id, client_secret=provider.client_secret, **kwargs)
    api = APIRouter()

    def configured(ident: str) -> tuple[ProviderSettings, StarletteOAuth2App]:
        provider = auth.provider(ident)
        if provider is None:
            raise HTTPException(404, f"no sign-in provider is called {ident!r}")
        return provider, oauth.create_client(provider.id)

    @api.get("/api/v1/auth/providers")
    def providers() -> list[dict[str, str]]:
        return [{"id": p.id, "name": p.name, "login": f"/auth/login/{p.id}"} for p in auth.providers]

    @api.get("/auth/login/{ident}")
    async def login(ident: str, request: Request, next: str | None = None) -> Response:
        provider, client = configured(ident)
        if next is not None and _local_path(next):
            request.session[NEXT] = next  # only paths here: an open redirect would lend our name to phishing
        try:
            return await client.authorize_redirect(request, auth.callback_url(provider))
        except (httpx2.HTTPError, ValueError) as exc:
            raise HTTPException(502, f"cannot reach sign-in provider {provider.id}: {type(exc).__name__}") from None

    @api.get("/auth/callback/{ident}")
    async def callback(ident: str, request: Request) -> Response:
        provider, client = configured(ident)
        try:
            identity = await _identity(provider, client, request)
            user_id, username = await run_in_threadpool(sign_in, settings.sessions, auth, identity)
        except SignInRefused as exc:
            refusal = HTTPException(403, f"sign-in refused: {exc}")
        except MismatchingStateError:
            refusal = HTTPException(400, "this sign-in expired or began in another browser; start it again")
        except OAuthError as exc:
            # the error code only: descriptions come from the provider and may repeat what we sent
            code = exc.error if re.fullmatch(r"[a-z_]{1,64}", exc.error or "") else "error"
            refusal = HTTPException(401, f"sign-in with {provider.id} failed: {code}")
        except (httpx2.HTTPError, ValueError, KeyError) as exc:
            refusal = HTTPException(502, f"sign-in provider {provider.id} answered badly: {type(exc).__name__}")
        else:
            audit(f"sign-in: {username} (user {user_id}) through {provider.id}")
            after = request.session.get(NEXT)
            sessions.begin(request.session, user_id)
            return RedirectResponse(after if isinstance(after, str) else auth.after_sign_in, status_code=303)
        audit(f"sign-in through {provider.id} refused: {refusal.detail}")
        raise refusal

    @api.post("/auth/logout", status_code=204)
    def logout(request: Request) -> Response:
        # the CSRF middleware has already checked this request's token if a session signed it
        sessions.end(request.session)
        return Response(status_code=204)

    @api.get("/api/v1/session")
    def current(request: Request) -> dict[str, Any]:
        viewer = request.app.state.viewer(request)
        token = sessions.csrf_token(request.scope)
        if viewer.user_id is None or viewer.token_id is not None or token is None:
            raise HTTPException(401, "not signed in")
        return {"username": viewer.username, "admin": viewer.admin, "csrf_token": token}

    return api


def _local_path(path: str) -> bool:
    return path.startswith("/") and not path.startswith("//") and "\\" not in path and len(path) <= 500


async def _identity(provider: ProviderSettings, client: StarletteOAuth2App, request: Request) -> Identity:
    issuer = request.query_params.get("iss")
    if provider.type == "oidc" and issuer is not None and issuer.rstrip("/") != provider.issuer:
        # RFC 9207: a response from another issuer is a mix-up attack, not this provider's answer
        raise OAuthError(error="issuer_mismatch")
    if provider.type == "github":
        return await _github_identity(provider, client, request)
    token = await client.authorize_access_token(request)
    claims: dict[str, Any] = dict(token.get("userinfo") or {})
    metadata = await client.load_server_metadata()
    if metadata.get("userinfo_endpoint"):
        # providers may keep profile claims out of the ID token when an access token is issued
        extra = await client.userinfo(token=token)
        if claims.get("sub") and extra.get("sub") != claims["sub"]:
            raise OAuthError(error="userinfo_subject_mismatch")
        claims = {**extra, **claims}
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise OAuthError(error="missing_subject")
    email = claims.get("email") if claims.get("email_verified", True) is not False else None
    suggested = claims.get("preferred_username") or claims.get("nickname") or (email or "").split("@")[0]
    return Identity(provider.issuer, subject, str(suggested or ""), _text(email), _text(claims.get("name")))


async def _github_identity(provider: ProviderSettings, client: StarletteOAuth2App, request: Request) -> Identity:
    """GitHub is OAuth 2 without OpenID Connect: the code buys a token, the token buys `/user`.
    authlib's `authorize_access_token` would treat an ID token as OpenID Connect's, so the code is
    exchanged here with the state authlib saved at login."""
    if request.query_params.get("error"):
        raise OAuthError(error=request.query_params["error"])
    state = request.query_params.get("state") or ""
    saved = await client.framework.get_state_data(request.session, state)
    await client.framework.clear_state_data(request.session, state)
    if not saved:
        raise MismatchingStateError()
    token = await client.fetch_access_token(
        code=request.query_params.get("code"),
        code_verifier=saved.get("code_verifier"),
        redirect_uri=saved.get("redirect_uri"),
    )
    response = await client.get(provider.user_url, token=token, headers={"Accept": "application/vnd.github+json"})
    response.raise_for_status()
    user = response.json()
    if not isinstance(user.get("id"), int) or not isinstance(user.get("login"), str):
        raise OAuthError(error="unexpected_user")
    # the numeric id is who they are: a login can be renamed and then taken by someone else
    return Identity(provider.issuer, str(user["id"]), user["login"], _text(user.get("email")), _text(user.get("name")))


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def valid_username(suggested: str) -> str:
    """Lowercase letters, digits and single dashes, at most 39 characters; "user" when nothing is left."""
    name = re.sub(r"[^a-z0-9]+", "-", suggested.lower()).strip("-")[:USERNAME_MAX].rstrip("-")
    return name or "user"


def unique_username(s: Session, suggested: str) -> str:
    """`suggested` made valid, and unique among users and other owners' namespaces (a username is
    also a namespace name): "alice", then "alice-2", "alice-3"…"""
    base = valid_username(suggested)
    taken_users = set(s.scalars(select(User.username).where(User.username.like(f"{base}%"))))
    taken_namespaces = set(s.scalars(select(Namespace.name).where(Namespace.name.like(f"{base}%"))))
    taken = taken_users | taken_namespaces
    candidate, number = base, 1
    while candidate in taken:
        number += 1
        suffix = f"-{number}"
        candidate = base[: USERNAME_MAX - len(suffix)].rstrip("-") + suffix
    return candidate


def sign_in(factory: Any, auth: AuthSettings, identity: Identity) -> tuple[int, str]:
    """The user `identity` is, created at first sign-in: their id and username. Admin rights follow the
    settings at every sign-in, so removing someone from `admins` takes effect when they return."""
    for _attempt in range(5):  # two first sign-ins may race for one username
        with factory() as s:
            user = s.scalar(select(User).where(User.issuer == identity.issuer, User.subject == identity.subject))
            if user is None:
                user = User(issuer=identity.issuer, subject=identity.subject, username="")
                user.username = unique_username(s, identity.suggested)
                s.add(user)
            if user.disabled:
                raise SignInRefused("this account is disabled")
            user.email = identity.email or user.email
            user.display_name = identity.display_name or user.display_name
            user.admin = auth.is_admin(identity.issuer, identity.subject, user.username)
            try:
                s.commit()
            except IntegrityError:
                s.rollback()
                continue
            return user.id, user.username
    raise SignInRefused("could not choose a username; try again")
