"""A portal served with sign-in through a real OpenID Connect provider (oidc-provider, run by Node),
on a given index database and sources: for the console's HTTP tests and the browser tests.

The portal runs in its own process (this module's `__main__`), built by `create_app` from
`PortalSettings`, so that a test can set what the command line does not (the upload cap), and so
that its output goes to `.log` and its registry credentials are its own environment's.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.support.oidc import Provider, oidc_provider, sign_in
from tests.support.services import free_port, stop, wait_http

REPO_ROOT = Path(__file__).resolve().parents[2]
CLIENT_SECRET = "portal-client-secret-0123456789abcdef"
SESSION_SECRET = "portal-session-secret-00112233445566778899"
LOGINS = ("alice", "bob", "carol", "dave", "erin")


@dataclass
class PortalServer:
    url: str
    provider: Provider
    log: Path
    database: str

    def sign_in(self, login: str) -> httpx.Client:
        """A new browser-like client signed in as `login` (its username is `login` when it is one of
        the server's logins): it carries the session cookie. Close it when done."""
        client = httpx.Client(base_url=self.url, timeout=60)
        done = sign_in(client, f"{self.url}/auth/login/local", login, f"{self.url}/auth/callback/")
        if done.status_code != 303:
            client.close()
            raise AssertionError(f"sign-in as {login} failed: {done.status_code} {done.text[:300]}")
        return client

    def csrf(self, client: httpx.Client) -> str:
        """The signed-in session's CSRF token (what pages put in their forms)."""
        response = client.get("/api/v1/session")
        response.raise_for_status()
        return str(response.json()["csrf_token"])


@contextlib.contextmanager
def portal_server(
    workdir: Path,
    database_url: str,
    sources: Sequence[str],
    *,
    moderation: str = "none",
    admins: Sequence[str] = (),
    logins: Sequence[str] = LOGINS,
    max_upload_bytes: int | None = None,
    env: Mapping[str, str] | None = None,
) -> Iterator[PortalServer]:
    """The provider (client "web", accounts `logins` whose preferred_username is the login) and the
    portal on free loopback ports, sign-in provider "local"; both stopped on leaving. `env` is
    added to the portal process's environment (e.g. DOCKER_CONFIG for its registry credentials)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    client = {
        "client_id": "web",
        "client_secret": CLIENT_SECRET,
        "redirect_uris": [f"{url}/auth/callback/local"],
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
    }
    accounts = {login: {"preferred_username": login} for login in logins}
    with oidc_provider({"clients": [client], "accounts": accounts}, workdir) as provider:
        (workdir / "portal-client-secret").write_text(CLIENT_SECRET)
        (workdir / "portal-session-secret").write_text(SESSION_SECRET)
        auth: dict[str, Any] = {
            "public_url": url,
            "session_secret": f"file:{workdir / 'portal-session-secret'}",
            "providers": [
                {
                    "id": "local",
                    "name": "Local",
                    "issuer": provider.issuer,
                    "client_id": "web",
                    "client_secret": f"file:{workdir / 'portal-client-secret'}",
                }
            ],
            "admins": list(admins),
        }
        values = {
            "database": database_url,
            "auth": auth,
            "sources": list(sources),
            "moderation": moderation,
            "port": port,
            "max_upload_bytes": max_upload_bytes,
        }
        config = workdir / f"portal-{port}.json"
        config.write_text(json.dumps(values))
        log = workdir / f"portal-{port}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "tests.support.portal_server", str(config)],
                cwd=REPO_ROOT,
                env={**os.environ, **(env or {})},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            try:
                wait_http(f"{url}/healthz", timeout=30, ok_statuses=(200,))
            except TimeoutError as exc:
                raise AssertionError(f"the portal did not start: {log.read_text()[-2000:]}") from exc
            yield PortalServer(url, provider, log, database_url)
        finally:
            stop(process)


def _serve(config: Path) -> None:
    import uvicorn
    from rigging_portal.app import create_app
    from rigging_portal.settings import from_values

    values = json.loads(config.read_text())
    settings = from_values(values)
    if values.get("max_upload_bytes"):
        settings.max_upload_bytes = int(values["max_upload_bytes"])
    uvicorn.run(create_app(settings), host="127.0.0.1", port=int(values["port"]), log_level="warning")


if __name__ == "__main__":
    _serve(Path(sys.argv[1]))
