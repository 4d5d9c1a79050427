"""Owned namespaces end to end (issue 13, Done-when 2), with every part real: a user signs in to
`rigging-indexer serve` through a local OpenID provider (oidc-provider, run by Node), claims a
private namespace and makes a token through the API as a browser does (session cookie + CSRF),
then `rigging login` and `rigging publish` against Debian's `docker-registry` configured with
`auth: token` pointing at the same indexer. Publishing works in the user's namespace and is
refused in another's; a docker-style anonymous pull of the private package is refused; a token
revoked through the API stops working within a second."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import run_cli
from tests.packages import make_package
from tests.support.index_db import fresh_index
from tests.support.oidc import Stack, browser_sign_in, sign_in_stack
from tests.support.registry import Registry, RegistryServer
from tests.support.token_registry import ISSUER, SERVICE, keys_command, need_registry_binary

ACCOUNTS = {"ada": {"preferred_username": "ada"}, "bo": {"preferred_username": "bo"}}


@dataclass
class World:
    stack: Stack
    registry: Registry
    tmp: Path


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[World]:
    need_registry_binary()
    tmp = tmp_path_factory.mktemp("owned-e2e")
    keys = tmp / "token-keys"
    made = keys_command("init", keys)
    assert made.returncode == 0, made.stderr
    registry_token = {"keys": str(keys), "service": SERVICE, "issuer": ISSUER, "lifetime_seconds": 300}
    with (
        fresh_index("postgresql", tmp) as (database, _),
        sign_in_stack(
            tmp, {"accounts": ACCOUNTS}, lambda issuer: {"registry_token": registry_token}, database
        ) as stack,
    ):
        server = RegistryServer(
            {
                "auth": {
                    "token": {
                        "realm": f"{stack.index}/auth/registry/token",
                        "service": SERVICE,
                        "issuer": ISSUER,
                        "rootcertbundle": str(keys / "ca.pem"),
                    }
                }
            }
        )
        registry = server.start()
        try:
            yield World(stack, registry, tmp)
        finally:
            server.stop()


class Browser:
    """A signed-in browser: its cookie, and the CSRF token its pages would carry."""

    def __init__(self, world: World, login: str) -> None:
        self.index = world.stack.index
        self.client, done = browser_sign_in(world.stack, "local", login)
        assert done.status_code == 303, done.text
        session = self.client.get(f"{self.index}/api/v1/session").json()
        assert session["username"] == login
        self.csrf = session["csrf_token"]

    def send(self, method: str, path: str, body: object = None, *, csrf: bool = True) -> httpx.Response:
        headers = {"X-CSRF-Token": self.csrf} if csrf else {}
        return self.client.request(method, f"{self.index}{path}", json=body, headers=headers)


def _env(world: World, who: str) -> dict[str, str]:
    return {"DOCKER_CONFIG": str(world.tmp / f"docker-{who}"), "RIGGING_CACHE_DIR": str(world.tmp / f"cache-{who}")}


def _publish(world: World, who: str, package: str, version: str = "1.0.0"):
    folder = world.tmp / f"src-{who}-{package.replace('/', '-')}-{version}"
    if not folder.exists():
        make_package(folder, package, version)
    return run_cli("publish", folder, f"{world.registry.host}/{package}", env=_env(world, who))


def _anonymous_pull(world: World, repository: str, reference: str) -> int:
    """A manifest GET as docker makes it with no login: 401, the challenge's realm asked for a
    token without credentials, the GET again with whatever token came back."""
    from rigging.registry.auth import parse_challenge

    url = f"http://{world.registry.host}/v2/{repository}/manifests/{reference}"
    accept = {"Accept": "application/vnd.oci.image.manifest.v1+json"}
    first = httpx.get(url, headers=accept)
    if first.status_code != 401:
        return first.status_code
    _, challenge = parse_challenge(first.headers["www-authenticate"])
    granted = httpx.get(challenge["realm"], params={"service": challenge["service"], "scope": challenge["scope"]})
    assert granted.status_code == 200, granted.text  # anonymous callers get a token, holding only what they may
    again = httpx.get(url, headers={**accept, "Authorization": f"Bearer {granted.json()['token']}"})
    return again.status_code


def test_sign_in_claim_publish_refuse_and_revoke(world):
    ada, bo = Browser(world, "ada"), Browser(world, "bo")
    # a state-changing request from the session needs its CSRF token
    assert ada.send("POST", "/api/v1/namespaces", {"name": "ada-tools", "private": True}, csrf=False).status_code == 403
    assert ada.send("POST", "/api/v1/namespaces", {"name": "ada-tools", "private": True}).status_code == 201
    assert bo.send("POST", "/api/v1/namespaces", {"name": "bo-tools"}).status_code == 201
    made = ada.send("POST", "/api/v1/tokens", {"name": "laptop", "scopes": ["read", "publish"]})
    assert made.status_code == 201, made.text
    token, token_id = made.json()["token"], made.json()["id"]
    assert token.startswith("rig_")
    assert all(token not in str(t) for t in ada.send("GET", "/api/v1/tokens").json()["tokens"])  # shown once

    login = run_cli(
        "login", world.registry.host, "-u", "ada", "--password-stdin", input=token + "\n", env=_env(world, "ada")
    )
    assert login.returncode == 0, login.stderr
    published = _publish(world, "ada", "ada-tools/skills")
    assert published.returncode == 0, published.stderr
    refused = _publish(world, "ada", "bo-tools/skills")
    assert refused.returncode == 1 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    assert "denied publishing to bo-tools/skills with this login" in refused.stderr and token not in refused.stderr

    # the private package: refused to an anonymous docker-style pull, served to its owner's login
    assert _anonymous_pull(world, "ada-tools/skills", "1.0.0") == 401
    pulled = run_cli(
        "pull", f"{world.registry.host}/ada-tools/skills:1.0.0", "-o", world.tmp / "pulled", env=_env(world, "ada")
    )
    assert pulled.returncode == 0, pulled.stderr

    # revoked in the browser: within a second the token gets nothing from the token service
    assert ada.send("DELETE", f"/api/v1/tokens/{token_id}").status_code == 204
    revoked_at = time.monotonic()
    realm = f"{world.stack.index}/auth/registry/token"
    scope = {"service": SERVICE, "scope": "repository:ada-tools/skills:pull,push"}
    while httpx.get(realm, params=scope, auth=("ada", token)).status_code != 401:
        assert time.monotonic() - revoked_at < 1.0, "the revoked token still got a registry token after 1 s"
    assert time.monotonic() - revoked_at < 1.0
    after = _publish(world, "ada", "ada-tools/skills", "1.0.1")
    assert after.returncode == 1 and "refused the credentials" in after.stderr, after.stderr
    assert (
        httpx.get(f"{world.stack.index}/api/v1/whoami", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    )


def test_the_crawler_reads_a_token_registry_with_credentials_by_reference(world):
    """The indexer crawls the registry its token service guards with a service account's token,
    found by reference (the docker config DOCKER_CONFIG names), never in its settings; what it
    indexes from a private namespace stays private."""
    from tests.support.indexer_server import INDEXER

    database = world.stack.database
    ada = Browser(world, "ada")
    assert ada.send("POST", "/api/v1/namespaces", {"name": "ada-crawled", "private": True}).status_code == 201
    token = ada.send("POST", "/api/v1/tokens", {"name": "ci", "scopes": ["read", "publish"]}).json()["token"]
    env = _env(world, "crawl-publisher")
    assert (
        run_cli("login", world.registry.host, "-u", "ada", "--password-stdin", input=token + "\n", env=env).returncode
        == 0
    )
    folder = world.tmp / "src-crawled"
    make_package(folder, "ada-crawled/notes", "1.0.0")
    assert run_cli("publish", folder, f"{world.registry.host}/ada-crawled/notes", env=env).returncode == 0

    def admin(*args: str) -> str:
        done = subprocess.run([str(INDEXER), "admin", "--database", database, *args], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def crawl(docker_config: Path) -> subprocess.CompletedProcess[str]:
        source = f"http://{world.registry.host}"
        return subprocess.run(
            [str(INDEXER), "crawl", "--once", "--database", database, "--source", source],
            capture_output=True,
            text=True,
            env={**os.environ, "DOCKER_CONFIG": str(docker_config)},
            timeout=120,
        )

    anonymous = crawl(world.tmp / "crawler-nobody")  # no credentials: the registry's catalog is refused
    assert anonymous.returncode != 0 and "Traceback" not in anonymous.stderr, anonymous.stderr
    assert "refuses _catalog with no credentials for" in anonymous.stderr and "`rigging login" in anonymous.stderr
    admin("user", "add", "crawler", "--admin")
    secret = admin("token", "create", "--user", "crawler", "--scope", "read")
    crawler_config = world.tmp / "crawler-docker"
    login = run_cli(
        "login",
        world.registry.host,
        "-u",
        "crawler",
        "--password-stdin",
        input=secret + "\n",
        env={"DOCKER_CONFIG": str(crawler_config)},
    )
    assert login.returncode == 0, login.stderr
    crawled = crawl(crawler_config)
    assert crawled.returncode == 0, crawled.stderr
    assert json.loads(crawled.stdout.strip().splitlines()[-1])["indexed"] >= 1
    assert secret not in crawled.stdout + crawled.stderr

    def found(headers: dict[str, str]) -> list[str]:
        answer = httpx.get(f"{world.stack.index}/api/v1/packages", params={"q": "notes"}, headers=headers)
        return [hit["name"] for hit in answer.json()["results"]]

    assert "ada-crawled/notes" not in found({})
    assert "ada-crawled/notes" in found({"Authorization": f"Bearer {token}"})
