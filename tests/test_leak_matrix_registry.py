"""The registry's side of the leak matrix: (anonymous, member, non-member, expired token, revoked
token) x (pull of a private package, push into the private namespace, pull of a public package),
through the real Debian registry with `auth: token` and our token service, the way docker asks
(request, 401 challenge, token request, request again). Every cell is asserted.

The private namespace `vault` belongs to an organisation whose owner published `vault/pkg`; the
member is a maintainer of it (may pull and push); the non-member has a good token of their own.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli
from tests.packages import make_package
from tests.support.index_db import add_namespace, add_token, add_user, fresh_index
from tests.support.token_registry import TokenRegistry, need_registry_binary

REFUSED_BY_TOKEN_SERVICE = 401
DENIED_BY_REGISTRY = 401  # distribution answers an insufficient token with 401 and a new challenge
ALLOWED_PULL = 200
ALLOWED_PUSH = 202  # an upload session opened

PRIVATE_PULL = ("GET", "/v2/vault/pkg/manifests/1.0.0")
PRIVATE_PUSH = ("POST", "/v2/vault/pkg/blobs/uploads/")
PUBLIC_PULL = ("GET", "/v2/plaza/pkg/manifests/1.0.0")
CELLS = [PRIVATE_PULL, PRIVATE_PUSH, PUBLIC_PULL]

EXPECTED = {
    "anonymous": {PRIVATE_PULL: DENIED_BY_REGISTRY, PRIVATE_PUSH: DENIED_BY_REGISTRY, PUBLIC_PULL: ALLOWED_PULL},
    "member": {PRIVATE_PULL: ALLOWED_PULL, PRIVATE_PUSH: ALLOWED_PUSH, PUBLIC_PULL: ALLOWED_PULL},
    "non-member": {PRIVATE_PULL: DENIED_BY_REGISTRY, PRIVATE_PUSH: DENIED_BY_REGISTRY, PUBLIC_PULL: ALLOWED_PULL},
    # wrong credentials fail outright, even for what anonymous may do: `docker login` must fail
    "expired token": {cell: REFUSED_BY_TOKEN_SERVICE for cell in CELLS},
    "revoked token": {cell: REFUSED_BY_TOKEN_SERVICE for cell in CELLS},
}


@pytest.fixture(scope="module")
def matrix(tmp_path_factory):
    need_registry_binary()
    tmp = tmp_path_factory.mktemp("leak-matrix")
    with fresh_index("postgresql", tmp) as (url, sessions):
        owner, member, outsider = (add_user(sessions, name) for name in ("olga", "mia", "nick"))
        add_namespace(sessions, "vault", owner=owner, private=True, members={member: "maintainer"})
        add_namespace(sessions, "plaza", owner=owner, private=False)
        publish = ("read", "publish")
        owner_token = add_token(sessions, owner, scopes=publish)
        credentials = {
            "anonymous": None,
            "member": ("mia", add_token(sessions, member, scopes=publish)),
            "non-member": ("nick", add_token(sessions, outsider, scopes=publish)),
            "expired token": ("olga", add_token(sessions, owner, scopes=publish, expires_in=-1)),
            "revoked token": ("olga", add_token(sessions, owner, scopes=publish, revoked=True)),
        }
        servers = TokenRegistry(tmp, url).start()
        try:
            env = {"DOCKER_CONFIG": str(tmp / "docker"), "RIGGING_CACHE_DIR": str(tmp / "cache")}
            login = run_cli("login", servers.host, "-u", "olga", "--password-stdin", input=owner_token, env=env)
            assert login.returncode == 0, login.stderr
            for package in ("vault/pkg", "plaza/pkg"):
                folder = make_package(tmp / package.replace("/", "-"), package)
                published = run_cli("publish", folder, f"{servers.host}/{package}", env=env)
                assert published.returncode == 0, published.stderr
            yield servers, credentials
        finally:
            servers.stop()


@pytest.mark.parametrize("who", list(EXPECTED))
@pytest.mark.parametrize("cell", CELLS, ids=["private-pull", "private-push", "public-pull"])
def test_cell(matrix, who, cell):
    servers, credentials = matrix
    user, password = credentials[who] or (None, None)
    status, body = servers.docker_status(*cell, user, password)
    assert status == EXPECTED[who][cell], (who, cell, status, body[:300])
    if password:
        assert password.encode() not in body


def test_refusals_say_nothing_about_what_exists(matrix):
    """To those who may not read it, a private package and a missing one answer alike, and every
    refused credential gets the same words."""
    servers, credentials = matrix
    for who in ("anonymous", "non-member"):
        user, password = credentials[who] or (None, None)
        there = servers.docker_status("GET", "/v2/vault/pkg/manifests/1.0.0", user, password)
        missing = servers.docker_status("GET", "/v2/vault/nothing/manifests/1.0.0", user, password)
        assert there[0] == missing[0] == DENIED_BY_REGISTRY
        assert json.loads(there[1])["errors"][0]["code"] == json.loads(missing[1])["errors"][0]["code"]
    refusals = {
        json.dumps(servers.token_request(["repository:vault/pkg:pull"], *credentials[who]))
        for who in ("expired token", "revoked token")
    }
    refusals.add(json.dumps(servers.token_request(["repository:vault/pkg:pull"], "olga", "rig_" + "0" * 43)))
    assert len(refusals) == 1
