"""The registry token service against the real Debian `docker-registry` (distribution 2.8) with
`auth: token` pointed at a running `rigging-indexer serve`: `rigging login` and `rigging publish`
in one's own namespace, refusals elsewhere, docker-style anonymous pulls, skopeo as a client, a
revoked token refused within a second, and signing keys rotated while everything runs.

Users, namespaces and a first token are rows written straight into the index (sign-in is tested
on its own); everything after that goes through the HTTP API and the registry.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import time
from datetime import timedelta

import pytest
from rigging_indexer.access import viewer_for_token
from rigging_indexer.auth.keys import KeyFolderError, SigningKeys, rotate
from rigging_indexer.auth.registry_token import (
    Claimed,
    Unauthorized,
    decide,
    lookup,
    parse_scopes,
    repository_namespaces,
)
from rigging_indexer.auth.tokens import issue

from tests.conftest import run_cli
from tests.packages import make_package
from tests.support.index_db import add_namespace, add_token, add_user, fresh_index
from tests.support.token_registry import ISSUER, SERVICE, TokenRegistry, jwt_claims, keys_command, need_registry_binary


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """alice owns the private namespace `alice`; bob owns the public `bob`; `carol` is unclaimed."""
    need_registry_binary()
    tmp = tmp_path_factory.mktemp("token-service")
    with fresh_index("postgresql", tmp) as (url, sessions):
        users = {name: add_user(sessions, name) for name in ("alice", "bob")}
        add_namespace(sessions, "alice", owner=users["alice"], private=True)
        add_namespace(sessions, "bob", owner=users["bob"], private=False)
        tokens = {name: add_token(sessions, uid, scopes=("read", "publish")) for name, uid in users.items()}
        servers = TokenRegistry(tmp, url).start()
        try:
            yield servers, sessions, users, tokens, tmp
        finally:
            servers.stop()


def _env(tmp, name):
    return {"DOCKER_CONFIG": str(tmp / f"docker-{name}"), "RIGGING_CACHE_DIR": str(tmp / f"cache-{name}")}


def _login(servers, tmp, name, user, token):
    return run_cli("login", servers.host, "-u", user, "--password-stdin", input=token + "\n", env=_env(tmp, name))


def _publish(servers, tmp, name, package, version="1.0.0"):
    folder = tmp / f"{name}-{package.replace('/', '-')}-{version}"
    if not folder.exists():
        make_package(folder, package, version)
    return run_cli("publish", folder, f"{servers.host}/{package}", env=_env(tmp, name))


def _one_line_error(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_login_and_publish_in_ones_own_namespace_only(world):
    servers, _, _, tokens, tmp = world
    assert _login(servers, tmp, "alice", "alice", tokens["alice"]).returncode == 0
    published = _publish(servers, tmp, "alice", "alice/pkg")
    assert published.returncode == 0, published.stderr
    for other in ("bob/pkg", "carol/pkg"):  # claimed by bob; claimed by nobody
        refused = _one_line_error(_publish(servers, tmp, "alice", other))
        assert servers.host in refused and tokens["alice"] not in refused
        assert f"denied publishing to {other} with this login: it may not publish there" in refused, refused
    # bob publishes into his public namespace; alice pulls it, and her own private package
    assert _login(servers, tmp, "bob", "__token__", tokens["bob"]).returncode == 0
    assert _publish(servers, tmp, "bob", "bob/public").returncode == 0
    for package in ("bob/public", "alice/pkg"):
        pulled = run_cli(
            "pull", f"{servers.host}/{package}:1.0.0", "-o", tmp / f"pulled-{package}", env=_env(tmp, "alice")
        )
        assert pulled.returncode == 0, pulled.stderr


def test_wrong_credentials_fail_login(world):
    servers, _, _, tokens, tmp = world
    for user, password in (("alice", "rig_" + "x" * 43), ("bob", tokens["alice"]), ("alice", "not-a-token")):
        failed = _login(servers, tmp, "wrong", user, password)
        assert failed.returncode == 1 and password not in failed.stdout + failed.stderr
    status, body = servers.token_request([], "alice", "rig_nope")
    assert status == 401 and body["errors"][0]["code"] == "UNAUTHORIZED"


def test_docker_style_anonymous_pull(world):
    servers, _, _, tokens, tmp = world
    assert _login(servers, tmp, "alice", "alice", tokens["alice"]).returncode == 0
    assert _publish(servers, tmp, "alice", "alice/hidden").returncode == 0
    assert _login(servers, tmp, "bob", "bob", tokens["bob"]).returncode == 0
    assert _publish(servers, tmp, "bob", "bob/open").returncode == 0
    assert servers.docker_pull_status("alice/hidden", "1.0.0") == 401  # the token grants nothing
    assert servers.docker_pull_status("bob/open", "1.0.0") == 200
    assert servers.docker_pull_status("alice/hidden", "1.0.0", "alice", tokens["alice"]) == 200
    assert servers.docker_pull_status("alice/hidden", "1.0.0", "bob", tokens["bob"]) == 401
    _, body = servers.token_request(["repository:alice/hidden:pull"])
    assert jwt_claims(body["token"])["access"] == []


def test_skopeo_is_a_client_too(world, skopeo):
    servers, _, _, tokens, tmp = world
    assert _login(servers, tmp, "alice", "alice", tokens["alice"]).returncode == 0
    assert _publish(servers, tmp, "alice", "alice/skopeo").returncode == 0

    def inspect(*creds: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [skopeo, "inspect", "--raw", "--tls-verify=false", *creds, f"docker://{servers.host}/alice/skopeo:1.0.0"],
            capture_output=True,
            text=True,
            timeout=60,
        )

    seen = inspect("--creds", f"alice:{tokens['alice']}")
    assert seen.returncode == 0, seen.stderr
    assert json.loads(seen.stdout)["artifactType"] == "application/vnd.rigging.package.v1"
    assert inspect("--no-creds").returncode != 0
    wrong = inspect("--creds", "alice:rig_wrong")
    assert wrong.returncode != 0 and "rig_wrong" not in wrong.stderr


def test_the_jwt_is_what_distribution_expects(world):
    servers, _, _, tokens, _ = world
    status, body = servers.token_request(
        ["repository:alice/pkg:pull,push,delete", "repository:bob/pkg:pull,push", "registry:catalog:*"],
        "alice",
        tokens["alice"],
    )
    assert status == 200 and body["token"] == body["access_token"] and 0 < body["expires_in"] <= 300
    header = json.loads(base64.urlsafe_b64decode(body["token"].split(".")[0] + "=="))
    assert header["alg"] == "ES256" and len(header["x5c"]) == 1
    claims = jwt_claims(body["token"])
    assert claims["iss"] == ISSUER and claims["aud"] == SERVICE and claims["sub"] == "alice"
    assert claims["exp"] - claims["iat"] <= 300 and claims["nbf"] <= claims["iat"] and claims["jti"]
    assert claims["access"] == [
        {"type": "repository", "name": "alice/pkg", "actions": ["pull", "push", "delete"]},
        {"type": "repository", "name": "bob/pkg", "actions": ["pull"]},
    ]  # no catalog: alice is not an admin
    assert servers.token_request(["repository:alice/pkg:pull"], service="another-registry")[0] == 400


def test_revoked_token_is_refused_within_a_second(world):
    servers, sessions, users, tokens, tmp = world
    with sessions() as s:
        token, plaintext = issue(
            s,
            user_id=users["alice"],
            name="to revoke",
            scopes=["read", "publish"],
            namespaces=None,
            lifetime=timedelta(days=1),
        )
        s.commit()
    assert _login(servers, tmp, "revoked", "alice", plaintext).returncode == 0
    assert _publish(servers, tmp, "revoked", "alice/revoked").returncode == 0
    listed = servers.api("GET", "/api/v1/tokens", plaintext)[1]["tokens"]
    assert [t["id"] for t in listed if t["name"] == "to revoke"] == [token.id]
    assert all("token" not in t and plaintext not in json.dumps(t) for t in listed)
    status, _ = servers.api("DELETE", f"/api/v1/tokens/{token.id}", tokens["alice"])
    revoked_at = time.monotonic()
    assert status == 204
    while servers.token_request(["repository:alice/revoked:push"], "alice", plaintext)[0] != 401:
        assert time.monotonic() - revoked_at < 1.0, "the revoked token still got a token after 1 s"
    elapsed = time.monotonic() - revoked_at
    assert elapsed < 1.0
    refused = _publish(servers, tmp, "revoked", "alice/revoked", "1.0.1")
    assert _one_line_error(refused) and time.monotonic() - revoked_at < 10
    assert servers.api("GET", "/api/v1/whoami", plaintext)[0] == 401
    print(f"revoked token refused {elapsed * 1000:.1f} ms after the DELETE answered")


def test_key_rotation_keeps_pushes_working(world):
    servers, _, _, tokens, tmp = world
    assert _login(servers, tmp, "rotate", "alice", tokens["alice"]).returncode == 0
    assert _publish(servers, tmp, "rotate", "alice/rotating", "1.0.0").returncode == 0
    before = servers.token_request(["repository:alice/rotating:pull"], "alice", tokens["alice"])[1]["token"]
    rotated = keys_command("rotate", servers.keys)
    assert rotated.returncode == 0, rotated.stderr
    time.sleep(1.1)  # the service looks for a newer key at most once a second
    after = servers.token_request(["repository:alice/rotating:pull"], "alice", tokens["alice"])[1]["token"]
    assert before.split(".")[0] != after.split(".")[0], "still signing with the old key"
    assert servers.registry_get("/v2/alice/rotating/manifests/1.0.0", before)[0] == 200  # the old key's token
    assert servers.registry_get("/v2/alice/rotating/manifests/1.0.0", after)[0] == 200
    assert _publish(servers, tmp, "rotate", "alice/rotating", "1.1.0").returncode == 0


# -- the pieces, without servers --------------------------------------------------------------


def test_keys_folder(tmp_path):
    folder = tmp_path / "keys"
    assert keys_command("init", folder).returncode == 0
    assert keys_command("init", folder).returncode == 1  # never replaces the CA registries trust
    assert oct((folder / "ca-key.pem").stat().st_mode & 0o777) == "0o600"
    keys = SigningKeys(folder)
    first = keys.current()
    newer = rotate(folder)
    assert keys.current() is first  # looked again only after a second
    time.sleep(1.05)
    assert keys.current().name == newer.name
    foreign = tmp_path / "foreign"
    assert keys_command("init", foreign).returncode == 0
    shutil.copy(next(foreign.glob("leaf-*.pem")), folder / "leaf-99999999T000000000000Z.pem")
    with pytest.raises(KeyFolderError, match="not issued by"):
        SigningKeys(folder).current()
    with pytest.raises(KeyFolderError, match="keys init"):
        SigningKeys(tmp_path / "missing").current()


def test_scopes_and_repository_namespaces():
    assert parse_scopes(["repository:a/b:pull", "repository:a/b:push repository:c/d:pull", "bad"]) == [
        *parse_scopes(["repository:a/b:pull,push"]),
        *parse_scopes(["repository:c/d:pull"]),
    ]
    assert parse_scopes(["repository:host:5000/a/b:pull"])[0].name == "host:5000/a/b"
    assert repository_namespaces("a/b") == ("a",)
    assert repository_namespaces("x/a/b") == ("x", "a")
    assert repository_namespaces("single") == ("single",)


def test_grants_per_namespace():
    from rigging_indexer.access import Viewer

    claimed = {"mine": Claimed(True, "owner"), "team": Claimed(True, "maintainer"), "pub": Claimed(False, None)}
    member = Viewer(
        user_id=1,
        username="m",
        scopes=frozenset({"read", "publish"}),
        readable=frozenset({"mine", "team"}),
        publishable=frozenset({"mine", "team"}),
        roles={"mine": "owner", "team": "maintainer"},
    )
    reader = Viewer(user_id=2, username="r", scopes=frozenset({"read"}), readable=frozenset({"mine"}))
    anonymous = Viewer()
    asked = parse_scopes(
        [
            "repository:mine/a:pull,push,delete",
            "repository:team/a:pull,push,delete",
            "repository:pub/a:pull,push",
            "repository:free/a:pull,push",
            "repository:mine/x/y:pull,push",  # not namespace/name: never pushable
            "repository:free/mine/a:pull",  # a private namespace deeper in the path still guards it
            "registry:catalog:*",
        ]
    )

    def grants(viewer):
        return {a["name"]: a["actions"] for a in decide(viewer, claimed, asked)}

    assert grants(member) == {
        "mine/a": ["pull", "push", "delete"],
        "team/a": ["pull", "push"],
        "pub/a": ["pull"],
        "free/a": ["pull"],
        "mine/x/y": ["pull"],
        "free/mine/a": ["pull"],
    }
    pulls = ("mine/a", "pub/a", "free/a", "mine/x/y", "free/mine/a")
    assert grants(reader) == {name: ["pull"] for name in pulls}
    assert grants(anonymous) == {"pub/a": ["pull"], "free/a": ["pull"]}
    admin = Viewer(user_id=3, username="root", admin=True, scopes=frozenset({"read", "publish"}))
    assert grants(admin)["catalog"] == ["*"] and "push" not in grants(admin)["mine/a"]


@pytest.mark.parametrize("dialect", ["postgresql", "sqlite"])
def test_one_query_lookup_agrees_with_the_viewer(dialect, tmp_path):
    """The token service's own query decides as rigging_indexer.access does, token by token."""
    with fresh_index(dialect, tmp_path) as (_, sessions):
        owner, member, outsider = (add_user(sessions, n) for n in ("owner", "member", "outsider"))
        add_namespace(sessions, "solo", owner=owner, private=True)
        add_namespace(sessions, "org", owner=owner, private=True, members={member: "maintainer"})
        add_namespace(sessions, "readers", owner=owner, private=True, members={member: "reader"})
        add_namespace(sessions, "open", owner=member, private=False)
        cases = {
            "owner": add_token(sessions, owner, scopes=("read", "publish")),
            "member": add_token(sessions, member, scopes=("read", "publish")),
            "member-read": add_token(sessions, member, scopes=("read",)),
            "outsider": add_token(sessions, outsider, scopes=("read", "publish")),
            "expired": add_token(sessions, owner, expires_in=-1, scopes=("read", "publish")),
            "revoked": add_token(sessions, owner, revoked=True, scopes=("read", "publish")),
        }
        with sessions() as s:
            _, narrowed_plain = issue(
                s,
                user_id=member,
                name="narrow",
                scopes=["publish"],
                namespaces=["open"],
                lifetime=timedelta(hours=1),
            )
            s.commit()
        cases["narrowed"] = narrowed_plain
        asked = parse_scopes([f"repository:{ns}/pkg:pull,push" for ns in ("solo", "org", "readers", "open", "none")])
        names = sorted({ns for r in asked for ns in repository_namespaces(r.name)})
        engine = sessions.kw["bind"]
        for label, plaintext in cases.items():
            with sessions() as s:
                reference = viewer_for_token(s, plaintext)
            if reference is None:
                with pytest.raises(Unauthorized):
                    lookup(engine, ("__token__", plaintext), names)
                continue
            fast, claimed = lookup(engine, ("__token__", plaintext), names)
            private = {n: c.private for n, c in claimed.items()}
            for ns in names:
                assert fast.may_read(ns, private.get(ns, False)) == reference.may_read(ns, private.get(ns, False)), (
                    label,
                    ns,
                )
                assert fast.may_publish(ns) == reference.may_publish(ns), (label, ns)
            assert decide(fast, claimed, asked) == decide(reference, claimed, asked), label


def test_oauth2_form_as_containerd_posts_it(world):
    """The spec's OAuth2 variant: a password grant (user + token) or a refresh grant (the token
    alone) answers an access_token; without credentials it is refused, as the spec says."""
    import urllib.parse

    from tests.support.indexer_server import send_request

    servers, _, _, tokens, _ = world

    def post(form: dict[str, str]) -> tuple[int, dict]:
        data = urllib.parse.urlencode({"service": SERVICE, "scope": "repository:alice/pkg:pull,push", **form})
        return send_request(urllib.request.Request(servers.realm, data=data.encode(), method="POST"))  # noqa: S310

    status, body = post({"grant_type": "password", "username": "alice", "password": tokens["alice"]})
    assert status == 200 and body["scope"] == "repository:alice/pkg:pull,push"
    assert jwt_claims(body["access_token"])["sub"] == "alice"
    status, body = post({"grant_type": "refresh_token", "refresh_token": tokens["bob"]})
    assert status == 200 and body["scope"] == ""  # bob may not even pull alice's private package
    assert post({"grant_type": "password", "username": "alice", "password": tokens["bob"]})[0] == 401
    assert post({"grant_type": "client_credentials"})[0] == 401


def test_catalog_is_for_admins_only(world):
    servers, sessions, _, tokens, _ = world
    root = add_user(sessions, "root", admin=True)
    admin_token = add_token(sessions, root, scopes=("read",))
    status, body = servers.docker_status("GET", "/v2/_catalog", "root", admin_token)
    assert status == 200 and "repositories" in json.loads(body)
    assert servers.docker_status("GET", "/v2/_catalog", "alice", tokens["alice"])[0] == 401
    assert servers.docker_status("GET", "/v2/_catalog")[0] == 401


def test_a_database_that_does_not_answer_is_a_503_without_secrets(tmp_path, monkeypatch, capfd):
    """The token service's own route on an engine whose database refuses connections."""
    from types import SimpleNamespace

    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from rigging_indexer.auth import registry_token
    from rigging_indexer.db import make_engine
    from sqlalchemy.orm import sessionmaker

    from tests.support.services import free_port

    assert keys_command("init", tmp_path / "keys").returncode == 0
    monkeypatch.setenv("RIGGING_INDEXER_REGISTRY_KEYS", str(tmp_path / "keys"))
    engine = make_engine(f"postgresql://nobody@127.0.0.1:{free_port()}/none")  # nothing listens there
    app = FastAPI()
    app.include_router(registry_token.router(SimpleNamespace(sessions=sessionmaker(engine), auth=None)))
    secret = "rig_" + "S" * 43
    with TestClient(app) as client:
        answer = client.get(registry_token.PATH, params={"scope": "repository:a/b:pull"}, auth=("a", secret))
    assert answer.status_code == 503 and "database" in answer.json()["errors"][0]["message"]
    assert secret not in answer.text + "".join(capfd.readouterr())
