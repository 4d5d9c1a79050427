"""A real OpenID Connect provider for tests: panva's `oidc-provider` run by Node (tests/js), and a
browser-less user who signs in through its development login and consent pages."""

from __future__ import annotations

import contextlib
import html
import json
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx

from tests.support.services import free_port, stop, unavailable, wait_http

JS = Path(__file__).resolve().parent.parent / "js"


@dataclass
class Provider:
    issuer: str
    process: subprocess.Popen
    log: Path

    def workload_token(self, client_id: str, secret: str, resource: str) -> str:
        """A JWT access token from the client-credentials grant: what a CI job's ambient OIDC token is."""
        response = httpx.post(
            f"{self.issuer}/token",
            data={"grant_type": "client_credentials", "resource": resource, "scope": "publish"},
            auth=(client_id, secret),
        )
        response.raise_for_status()
        return response.json()["access_token"]


@contextlib.contextmanager
def oidc_provider(config: dict[str, Any], workdir: Path, port: int | None = None) -> Iterator[Provider]:
    """The provider on 127.0.0.1:`port` (a free one by default) with `config`'s clients, accounts,
    resources and CI claims (see tests/js/oidc_provider.js); stopped on leaving."""
    if shutil.which("node") is None or not (JS / "node_modules" / "oidc-provider").is_dir():
        unavailable("oidc-provider needs Node.js and `npm ci --prefix tests/js` (./dev test runs it)")
    port = port or free_port()
    log = workdir / f"oidc-provider-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["node", str(JS / "oidc_provider.js"), str(port), json.dumps(config)], stdout=out, stderr=subprocess.STDOUT
        )
    issuer = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{issuer}/.well-known/openid-configuration", timeout=30)
        yield Provider(issuer, process, log)
    finally:
        stop(process)


FORM = re.compile(r'<form[^>]*action="([^"]+)"[^>]*method="post"[^>]*>(.*?)</form>', re.S)
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')


def sign_in(client: httpx.Client, start: str, login: str, stop_at: str) -> httpx.Response:
    """Start at `start` (the indexer's /auth/login/…) and act as the user: follow redirects, sign
    in to the provider's login page as `login`, consent; the first response to a URL under
    `stop_at` (the indexer's callback) is returned without following it further."""
    response = client.get(start)
    for _ in range(20):
        if str(response.request.url).startswith(stop_at):
            return response
        if response.is_redirect:
            response = client.get(urljoin(str(response.request.url), response.headers["location"]))
            continue
        form = FORM.search(response.text) if response.status_code == 200 else None
        if form is None:
            raise AssertionError(
                f"unexpected page at {response.request.url}: {response.status_code} {response.text[:300]}"
            )
        fields = {name: html.unescape(value) for name, value in HIDDEN.findall(form.group(2))}
        if fields.get("prompt") == "login":
            fields.update(login=login, password="any password")
        response = client.post(urljoin(str(response.request.url), html.unescape(form.group(1))), data=fields)
    raise AssertionError("sign-in did not reach the callback in 20 steps")


@dataclass
class Stack:
    """A real indexer server whose sign-in provider is a real local OIDC provider."""

    provider: Provider
    index: str  # the indexer's base URL
    database: str
    log: Path  # everything the indexer process printed
    secrets: dict[str, str]  # what must never appear in its output


WEB_SECRET = "web-client-secret-0123456789abcdef"
GITHUB_SECRET = "github-client-secret-fedcba9876543210"
SESSION_SECRET = "session-signing-secret-00112233445566778899"


@contextlib.contextmanager
def sign_in_stack(
    workdir: Path,
    provider_config: dict[str, Any],
    auth: Callable[[str], dict[str, Any]],
    database: str | None = None,
    workers: int | None = None,
) -> Iterator[Stack]:
    """The provider (clients "web" and "gh" for the indexer's providers "local" and "github", plus
    `provider_config`'s) and `rigging-indexer serve` with the config file's `auth` = `auth(issuer)`
    plus those providers; secrets reach the indexer only by reference (environment and files). The
    index is `database` (a SQLAlchemy URL), a new SQLite file by default; `workers` server processes."""
    import os

    from tests.support.indexer_server import start_indexer

    port = free_port()
    index = f"http://127.0.0.1:{port}"
    clients = [
        {
            "client_id": "web",
            "client_secret": WEB_SECRET,
            "redirect_uris": [f"{index}/auth/callback/local"],
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
        },
        {
            "client_id": "gh",
            "client_secret": GITHUB_SECRET,
            "redirect_uris": [f"{index}/auth/callback/github"],
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
        },
    ]
    config = {**provider_config, "clients": clients + list(provider_config.get("clients", []))}
    with oidc_provider(config, workdir) as provider:
        (workdir / "github-secret").write_text(GITHUB_SECRET + "\n")
        (workdir / "session-secret").write_text(SESSION_SECRET)
        providers = [
            {"id": "local", "issuer": provider.issuer, "client_id": "web", "client_secret": "env:RIG_TEST_WEB_SECRET"},
            {
                "id": "github",
                "type": "github",
                "client_id": "gh",
                "client_secret": f"file:{workdir / 'github-secret'}",
                # GitHub's endpoints, played by the provider as a plain OAuth 2 server; its
                # userinfo answers GitHub's /user fields, and needs the openid scope to
                "authorize_url": f"{provider.issuer}/auth",
                "token_url": f"{provider.issuer}/token",
                "user_url": f"{provider.issuer}/me",
                "scope": "openid github",
            },
        ]
        settings = {
            "auth": {
                "public_url": index,
                "session_secret": f"file:{workdir / 'session-secret'}",
                "providers": providers,
                **auth(provider.issuer),
            }
        }
        (workdir / "indexer.json").write_text(json.dumps(settings))
        database = database or f"sqlite:///{workdir / 'index.db'}"
        log = workdir / "indexer.log"
        os.environ["RIG_TEST_WEB_SECRET"] = WEB_SECRET
        try:
            with log.open("wb") as out:
                server = start_indexer(
                    port,
                    database,
                    workers=workers,
                    output=out.fileno(),
                    extra=["--config", str(workdir / "indexer.json")],
                )
        finally:
            del os.environ["RIG_TEST_WEB_SECRET"]
        try:
            wait_http(f"{index}/healthz", timeout=30, ok_statuses=(200,))
            yield Stack(
                provider, index, database, log, {"web": WEB_SECRET, "github": GITHUB_SECRET, "session": SESSION_SECRET}
            )
        finally:
            server.terminate()
            server.wait(timeout=10)


def browser_sign_in(stack: Stack, provider: str, login: str) -> tuple[httpx.Client, httpx.Response]:
    """A new browser signed in to the indexer through `provider` as `login`, and the callback's answer."""
    client = httpx.Client(timeout=15)
    done = sign_in(client, f"{stack.index}/auth/login/{provider}", login, f"{stack.index}/auth/callback/")
    return client, done


def stored(stack: Stack, model: type) -> list[Any]:
    """Every row of `model` in the stack's index database, oldest first."""
    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session

    engine = create_engine(stack.database)
    try:
        with Session(engine) as s:
            return list(s.scalars(select(model).order_by(model.id)))
    finally:
        engine.dispose()
