"""Sign-in against a real OpenID Connect provider (oidc-provider, run by Node), through the real
indexer server: the browser's part is played by an httpx client that keeps cookies, follows the
redirects and fills in the provider's login and consent pages."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from rigging_indexer.auth.oidc import valid_username
from rigging_indexer.auth.settings import AuthConfigError, AuthSettings, is_loopback_http
from rigging_indexer.models import User

from tests.support.indexer_server import INDEXER
from tests.support.oidc import Stack, browser_sign_in, sign_in, sign_in_stack, stored

ACCOUNTS = {
    "alice": {"preferred_username": "Alice.Smith", "email": "alice@example.test", "email_verified": True},
    "alice2": {"preferred_username": "alice.smith"},  # asks for the same username
    "carol": {"nickname": "carol", "name": "Carol"},
    "dave": {"preferred_username": "dave"},
    "octo": {"id": 4242, "login": "Octo-Cat", "name": "The Octocat"},  # a GitHub user, for /me
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("signin")
    settings = {"admins": ["carol"], "session_hours": 1}
    # two server processes: a sign-in begun in one may end in the other, as behind a load balancer
    with sign_in_stack(workdir, {"accounts": ACCOUNTS}, lambda issuer: settings, workers=2) as found:
        yield found


def users(stack: Stack) -> dict[str, User]:
    return {u.username: u for u in stored(stack, User)}


def test_oidc_sign_in_makes_a_session_with_safe_cookie_and_csrf(stack):
    client = httpx.Client(timeout=15)
    start = client.get(f"{stack.index}/auth/login/local", params={"next": "/welcome"})
    assert start.status_code == 302
    authorize = urlsplit(start.headers["location"])
    query = parse_qs(authorize.query)
    assert f"{authorize.scheme}://{authorize.netloc}" == stack.provider.issuer
    # authorization code + PKCE S256 (the provider also requires PKCE, so the flow proves the verifier)
    assert query["response_type"] == ["code"] and query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) >= 43 and "openid" in query["scope"][0].split()
    assert query["redirect_uri"] == [f"{stack.index}/auth/callback/local"]

    done = sign_in(client, start.headers["location"], "alice", f"{stack.index}/auth/callback/")
    assert done.status_code == 303 and done.headers["location"] == "/welcome", done.text
    cookie = next(c for c in done.headers.get_list("set-cookie") if c.startswith("rigging_session="))
    flags = [part.strip().lower() for part in cookie.split(";")]
    assert "httponly" in flags and "samesite=lax" in flags and "path=/" in flags
    assert "secure" not in flags  # plain http on loopback: a browser would drop a Secure cookie
    assert "max-age=3600" in flags  # session_hours: 1

    session = client.get(f"{stack.index}/api/v1/session")
    assert session.status_code == 200, session.text
    body = session.json()
    assert body["username"] == "alice-smith" and body["admin"] is False and len(body["csrf_token"]) >= 32
    alice = users(stack)["alice-smith"]
    assert (alice.issuer, alice.subject, alice.email) == (stack.provider.issuer, "alice", "alice@example.test")

    # a state-changing request the cookie authenticates needs the CSRF token
    token = {"name": "laptop", "scopes": ["read"]}
    refused = client.post(f"{stack.index}/api/v1/tokens", json=token)
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    wrong = client.post(f"{stack.index}/api/v1/tokens", json=token, headers={"X-CSRF-Token": "x" * 43})
    assert wrong.status_code == 403
    made = client.post(f"{stack.index}/api/v1/tokens", json=token, headers={"X-CSRF-Token": body["csrf_token"]})
    assert made.status_code == 201, made.text
    # a Bearer token authenticates itself: no CSRF token, no cookie needed
    bearer = httpx.get(f"{stack.index}/api/v1/whoami", headers={"Authorization": f"Bearer {made.json()['token']}"})
    assert bearer.json()["username"] == "alice-smith" and bearer.json()["via"] == "token"

    # sign-out is state-changing too; a form without JavaScript sends the token as a field
    assert client.post(f"{stack.index}/auth/logout").status_code == 403
    out = client.post(f"{stack.index}/auth/logout", data={"csrf_token": body["csrf_token"]})
    assert out.status_code == 204
    assert client.get(f"{stack.index}/api/v1/session").status_code == 401


def test_a_tampered_or_foreign_cookie_is_anonymous(stack):
    client, _ = browser_sign_in(stack, "local", "alice")
    value = client.cookies["rigging_session"]
    assert client.get(f"{stack.index}/api/v1/session").status_code == 200
    payload, _, signature = value.rpartition(".")
    for forged in (
        f"{payload}.{signature[:-2]}{'AA' if not signature.endswith('AA') else 'BB'}",  # signature changed
        f"{payload[:-4]}AAAA.{signature}",  # payload changed
        value.replace(payload, payload[::-1]),
    ):
        stranger = httpx.Client(cookies={"rigging_session": forged})
        answer = stranger.get(f"{stack.index}/api/v1/session")
        assert answer.status_code == 401, forged
        assert stranger.get(f"{stack.index}/api/v1/whoami").status_code == 401
        # and with no session, there is nothing for CSRF to protect: the route's own 401 answers
        assert stranger.post(f"{stack.index}/api/v1/tokens", json={"name": "x", "scopes": ["read"]}).status_code == 401


def test_usernames_are_valid_unique_and_kept(stack):
    browser_sign_in(stack, "local", "alice")
    client, done = browser_sign_in(stack, "local", "alice2")
    assert done.status_code == 303 and done.headers["location"] == "/"
    assert client.get(f"{stack.index}/api/v1/session").json()["username"] == "alice-smith-2"
    again, _ = browser_sign_in(stack, "local", "alice")  # a returning user keeps their name
    assert again.get(f"{stack.index}/api/v1/session").json()["username"] == "alice-smith"
    nameless, _ = browser_sign_in(stack, "local", "Zed_No Claims!")  # no claims: nothing suggested
    assert nameless.get(f"{stack.index}/api/v1/session").json()["username"] == "user"
    assert valid_username("--Ünïcode__Name..x--") == "n-code-name-x"
    assert valid_username("a" * 60) == "a" * 39 and valid_username("x" * 38 + "-y") == "x" * 38


def test_admins_come_from_the_settings(stack):
    client, _ = browser_sign_in(stack, "local", "carol")
    assert client.get(f"{stack.index}/api/v1/session").json() | {"csrf_token": ""} == {
        "username": "carol",
        "admin": True,
        "csrf_token": "",
    }
    assert users(stack)["carol"].display_name == "Carol"


def test_disabling_a_user_ends_their_sessions_and_refuses_sign_in(stack):
    from sqlalchemy import create_engine, update

    client, _ = browser_sign_in(stack, "local", "dave")
    assert client.get(f"{stack.index}/api/v1/session").status_code == 200
    engine = create_engine(stack.database)
    with engine.begin() as connection:
        connection.execute(update(User).where(User.username == "dave").values(disabled=True))
    engine.dispose()
    assert client.get(f"{stack.index}/api/v1/session").status_code == 401  # the same cookie, now worthless
    _, again = browser_sign_in(stack, "local", "dave")
    assert again.status_code == 403 and again.json() == {"detail": "sign-in refused: this account is disabled"}


def test_github_sign_in_through_a_plain_oauth2_server(stack):
    client = httpx.Client(timeout=15)
    start = client.get(f"{stack.index}/auth/login/github")
    query = parse_qs(urlsplit(start.headers["location"]).query)
    assert query["code_challenge_method"] == ["S256"] and query["client_id"] == ["gh"]
    done = sign_in(client, start.headers["location"], "octo", f"{stack.index}/auth/callback/")
    assert done.status_code == 303, done.text
    assert client.get(f"{stack.index}/api/v1/session").json()["username"] == "octo-cat"
    octo = users(stack)["octo-cat"]
    # GitHub's numeric id is who they are (a login may be renamed and reused), under github.com
    assert (octo.issuer, octo.subject, octo.display_name) == ("https://github.com", "4242", "The Octocat")


def test_failed_callbacks_are_one_line_refusals(stack):
    client = httpx.Client(timeout=15)
    forged = client.get(f"{stack.index}/auth/callback/local", params={"code": "stolen-code", "state": "guess"})
    assert forged.status_code == 400 and "start it again" in forged.json()["detail"]
    assert "stolen-code" not in forged.text
    # a real sign-in the provider answers with an error (the user declined, say)
    start = client.get(f"{stack.index}/auth/login/local")
    state = parse_qs(urlsplit(start.headers["location"]).query)["state"][0]
    declined = client.get(
        f"{stack.index}/auth/callback/local",
        params={"error": "access_denied", "error_description": "<b>echo me</b>", "state": state},
    )
    assert declined.status_code == 401 and declined.json() == {"detail": "sign-in with local failed: access_denied"}
    # a response claiming another issuer is a mix-up attack (RFC 9207)
    start = client.get(f"{stack.index}/auth/login/local")
    state = parse_qs(urlsplit(start.headers["location"]).query)["state"][0]
    mixed = client.get(
        f"{stack.index}/auth/callback/local", params={"code": "c", "state": state, "iss": "https://evil.example.test"}
    )
    assert mixed.status_code == 401 and mixed.json()["detail"].endswith("issuer_mismatch")
    assert client.get(f"{stack.index}/auth/login/nobody").status_code == 404
    assert client.get(f"{stack.index}/auth/login/local", params={"next": "//evil.example.test"}).status_code == 302
    assert client.get(f"{stack.index}/api/v1/session").status_code == 401


def test_providers_are_listed_for_sign_in_pages(stack):
    listed = httpx.get(f"{stack.index}/api/v1/auth/providers").json()
    assert [(p["id"], p["login"]) for p in listed] == [("local", "/auth/login/local"), ("github", "/auth/login/github")]


def test_secure_cookies_everywhere_but_loopback_http(stack, tmp_path):
    assert is_loopback_http("http://127.0.0.1:8700") and is_loopback_http("http://localhost:1")
    assert not is_loopback_http("https://127.0.0.1") and not is_loopback_http("http://index.example.test")
    # the same app, served under an https public URL: its session cookie is Secure
    from fastapi.testclient import TestClient
    from rigging_indexer.app import Settings, create_app
    from rigging_indexer.db import make_engine, migrate, sessions

    (tmp_path / "secret").write_text("another-session-secret-for-https")
    auth = {
        "public_url": "https://index.example.test",
        "session_secret": f"file:{tmp_path / 'secret'}",
        "providers": [
            {
                "id": "local",
                "issuer": stack.provider.issuer,
                "client_id": "web",
                "client_secret": f"file:{tmp_path / 'secret'}",
            }
        ],
    }
    engine = make_engine(f"sqlite:///{tmp_path / 'index.db'}")
    migrate(engine)
    try:
        with TestClient(
            create_app(Settings(sessions(engine), auth=auth)), base_url="https://index.example.test"
        ) as app:
            start = app.get("/auth/login/local", follow_redirects=False)
            assert start.status_code == 302
            assert parse_qs(urlsplit(start.headers["location"]).query)["redirect_uri"] == [
                "https://index.example.test/auth/callback/local"
            ]
            flags = [p.strip().lower() for p in start.headers["set-cookie"].split(";")]
            assert "secure" in flags and "httponly" in flags and "samesite=lax" in flags
    finally:
        engine.dispose()


def test_secrets_are_references_and_wrong_settings_say_which(tmp_path, monkeypatch):
    provider = {"id": "p", "issuer": "https://id.example.test", "client_id": "c"}
    with pytest.raises(AuthConfigError, match="reference") as inline:
        AuthSettings.load({"session_secret": "env:S", "providers": [{**provider, "client_secret": "hunter2-inline"}]})
    assert "hunter2" not in str(inline.value)
    with pytest.raises(AuthConfigError, match="RIG_UNSET_VARIABLE is not set"):
        AuthSettings.load(
            {"session_secret": "env:S", "providers": [{**provider, "client_secret": "env:RIG_UNSET_VARIABLE"}]}
        )
    monkeypatch.setenv("RIG_SECRET", "s3cret-value-xyz")
    with pytest.raises(AuthConfigError, match="public_url"):
        AuthSettings.load(
            {"session_secret": "env:RIG_SECRET", "providers": [{**provider, "client_secret": "env:RIG_SECRET"}]}
        )
    url = {"public_url": "https://index.example.test"}
    with pytest.raises(AuthConfigError, match="session_secret is required"):
        AuthSettings.load({**url, "providers": [{**provider, "client_secret": "env:RIG_SECRET"}]})
    loaded = AuthSettings.load(
        {**url, "session_secret": "env:RIG_SECRET", "providers": [{**provider, "client_secret": "env:RIG_SECRET"}]}
    )
    assert loaded.providers[0].client_secret == "s3cret-value-xyz" and "s3cret" not in repr(loaded)
    assert AuthSettings.load(None).sign_in is False


def test_no_secret_or_cookie_reaches_the_server_output(stack):
    client, _ = browser_sign_in(stack, "local", "alice")
    gh, _ = browser_sign_in(stack, "github", "octo")
    cookies = [client.cookies["rigging_session"], gh.cookies["rigging_session"]]
    csrf = client.get(f"{stack.index}/api/v1/session").json()["csrf_token"]
    client.post(f"{stack.index}/api/v1/tokens", json={"name": "x", "scopes": ["read"]})  # refused: no CSRF
    client.get(f"{stack.index}/auth/callback/local", params={"code": "c", "state": "s"})
    output = Path(stack.log).read_text(encoding="utf-8", errors="replace")
    for secret in [*stack.secrets.values(), *cookies, csrf]:
        assert secret not in output
    # and none in the settings the server hands its worker processes (the environment), either
    assert stack.secrets["web"] not in Path(stack.log).parent.joinpath("indexer.json").read_text()


def test_serve_refuses_wrong_auth_settings_at_start(tmp_path):
    inline = "an-inline-client-secret-value"
    provider = {"id": "p", "issuer": "https://id.example.test", "client_id": "c", "client_secret": inline}
    config = tmp_path / "indexer.json"
    config.write_text(json.dumps({"auth": {"public_url": "https://i.example.test", "providers": [provider]}}))
    started = subprocess.run(
        [str(INDEXER), "serve", "--database", f"sqlite:///{tmp_path / 'index.db'}", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert started.returncode == 2 and "client_secret must be a reference" in started.stderr
    assert inline not in started.stderr + started.stdout and len(started.stderr.strip().splitlines()) == 1


def test_a_session_ends_its_lifetime_after_sign_in_however_busy():
    import time

    from rigging_indexer.auth import sessions

    fresh: dict = {}
    sessions.begin(fresh, 7)
    assert sessions.user_id({"session": fresh}, lifetime=3600) == 7
    old = {**fresh, sessions.SINCE: int(time.time()) - 3601}
    assert sessions.user_id({"session": old}, lifetime=3600) is None
    assert sessions.user_id({"session": {sessions.USER_ID: "7", sessions.SINCE: int(time.time())}}, 3600) is None
    assert sessions.user_id({}, lifetime=3600) is None  # no session middleware: sign-in is off


def test_a_new_session_secret_keeps_sessions_the_previous_one_signed(tmp_path, monkeypatch):
    import base64
    import time

    import itsdangerous
    from fastapi.testclient import TestClient
    from rigging_indexer.app import Settings, create_app
    from rigging_indexer.db import make_engine, migrate, sessions

    engine = make_engine(f"sqlite:///{tmp_path / 'index.db'}")
    migrate(engine)
    factory = sessions(engine)
    with factory() as s:
        user = User(issuer="https://id.example.test", subject="s1", username="rotated")
        s.add(user)
        s.commit()
        user_id = user.id
    for name in ("old", "new", "other"):
        (tmp_path / name).write_text(f"{name}-session-secret-0123456789")

    def cookie(secret: str) -> dict[str, str]:
        data = json.dumps({"uid": user_id, "since": int(time.time()), "csrf": "t" * 43}).encode()
        signed = itsdangerous.TimestampSigner(secret).sign(base64.b64encode(data)).decode()
        return {"Cookie": f"rigging_session={signed}"}

    def answers(auth: dict, secret: str) -> int:
        provider = {"id": "p", "issuer": "https://id.example.test", "client_id": "c", "client_secret": "env:RIG_C"}
        settings = Settings(factory, auth={"public_url": "https://i.example.test", "providers": [provider], **auth})
        with TestClient(create_app(settings), base_url="https://i.example.test") as app:
            return app.get("/api/v1/session", headers=cookie(f"{secret}-session-secret-0123456789")).status_code

    rotated = {"session_secret": f"file:{tmp_path / 'new'}", "previous_session_secrets": [f"file:{tmp_path / 'old'}"]}
    monkeypatch.setenv("RIG_C", "client-secret")
    try:
        assert [answers(rotated, s) for s in ("new", "old", "other")] == [200, 200, 401]
        assert answers({"session_secret": f"file:{tmp_path / 'new'}"}, "old") == 401  # once dropped, gone
    finally:
        engine.dispose()
