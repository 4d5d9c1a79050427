"""Access tokens, namespaces, organisations and whoami through the indexer's HTTP API, against a
running `rigging-indexer serve` on PostgreSQL. Users are rows (sign-in has its own tests); every
call after that is a Bearer-token request as the CLI and CI make them."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta

import pytest
from rigging_indexer import store
from rigging_indexer.auth.tokens import issue
from rigging_indexer.models import AccessToken
from sqlalchemy import select

from tests.support.index_db import add_namespace, add_token, add_user, fresh_index
from tests.support.indexer_server import start_indexer
from tests.support.services import free_port, wait_http
from tests.support.token_registry import api_call

BAD_TOKEN = "the token is unknown, expired or revoked; create a new one"


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("access-tokens")
    with fresh_index("postgresql", tmp) as (url, sessions):
        users = {name: add_user(sessions, name, admin=name == "root") for name in ("ann", "ben", "cat", "root")}
        add_namespace(sessions, "ann", owner=users["ann"], private=True)
        add_namespace(sessions, "ben", owner=users["ben"], private=False)
        tokens = {name: add_token(sessions, uid, scopes=("read", "publish")) for name, uid in users.items()}
        port = free_port()
        server = start_indexer(port, url)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_http(f"{base}/healthz", timeout=60, ok_statuses=(200,))

            def call(method, path, token=None, body=None):
                return api_call(base, method, path, token, body)

            yield call, sessions, users, tokens
        finally:
            server.terminate()
            server.wait(timeout=10)


def _new_token(call, token, **body):
    return call("POST", "/api/v1/tokens", token, {"name": "t", "scopes": ["read", "publish"], **body})


def test_a_token_is_shown_once_and_kept_only_as_its_hash(index):
    call, sessions, _, tokens = index
    status, made = _new_token(call, tokens["ann"], name="laptop", expires_in_days=30)
    assert status == 201, made
    plaintext = made["token"]
    assert re.fullmatch(r"rig_[0-9A-Za-z]{43}", plaintext) and made["hint"] == plaintext[:8] + "…"
    assert made["scopes"] == ["publish", "read"] and made["namespaces"] is None
    with sessions() as s:
        row = s.get(AccessToken, made["id"])
        assert row.hash == hashlib.sha256(plaintext.encode()).hexdigest()
        assert plaintext not in repr([getattr(row, c.name) for c in AccessToken.__table__.columns])
        # made with a token that expires in an hour: the new one cannot outlive it
        assert row.expires <= datetime.now(UTC) + timedelta(hours=1, seconds=5)
    listed = call("GET", "/api/v1/tokens", plaintext)[1]["tokens"]
    assert {t["name"] for t in listed} >= {"laptop"} and plaintext not in repr(listed)
    assert all("token" not in t for t in listed)
    assert call("GET", "/api/v1/whoami", plaintext) == (
        200,
        {
            "username": "ann",
            "kind": "user",
            "admin": False,
            "scopes": ["publish", "read"],
            "namespaces": [{"name": "ann", "role": "owner"}],
            "via": "token",
        },
    )


def test_expiry_defaults_to_90_days_and_stops_at_365(index):
    call, sessions, users, _ = index
    with sessions() as s:
        _, long_lived = issue(
            s, user_id=users["ann"], name="long", scopes=["publish"], namespaces=None, lifetime=timedelta(days=400)
        )
        s.commit()
    status, made = call("POST", "/api/v1/tokens", long_lived, {"name": "default", "scopes": ["publish"]})
    assert status == 201
    expires = datetime.fromisoformat(made["expires"].replace("Z", "+00:00"))
    assert abs(expires - (datetime.now(UTC) + timedelta(days=90))) < timedelta(minutes=1)
    assert _new_token(call, long_lived, scopes=["publish"], expires_in_days=366)[0] == 422
    assert _new_token(call, long_lived, scopes=["publish"], expires_in_days=0)[0] == 422
    assert _new_token(call, long_lived, scopes=["admin"])[0] == 422


def test_a_token_never_gives_more_than_its_maker(index):
    call, sessions, users, tokens = index
    read_only = add_token(sessions, users["ann"], scopes=("read",))
    assert _new_token(call, read_only, scopes=["read"])[0] == 403  # read tokens change nothing
    narrow_status, narrow = _new_token(call, tokens["ann"], scopes=["publish"], namespaces=["ann"])
    assert narrow_status == 201 and narrow["namespaces"] == ["ann"]
    assert _new_token(call, narrow["token"], scopes=["read", "publish"])[0] == 403  # read it does not have
    child = _new_token(call, narrow["token"], scopes=["publish"])[1]
    assert child["namespaces"] == ["ann"]  # inherits the narrowing
    # someone else's, unclaimed and nonexistent namespaces all answer alike
    answers = {ns: _new_token(call, tokens["ann"], namespaces=[ns]) for ns in ("ben", "ghost")}
    assert {status for status, _ in answers.values()} == {403}
    assert answers["ben"][1]["detail"].replace("ben", "X") == answers["ghost"][1]["detail"].replace("ghost", "X")
    # a narrowed token cannot claim namespaces or found organisations
    assert call("POST", "/api/v1/namespaces", narrow["token"], {"name": "ann-more"})[0] == 403
    assert call("POST", "/api/v1/organisations", narrow["token"], {"name": "ann-org"})[0] == 403
    assert call("GET", "/api/v1/whoami", narrow["token"])[1]["namespaces"] == [{"name": "ann", "role": "owner"}]


def test_revoking(index):
    call, sessions, users, tokens = index
    mine = _new_token(call, tokens["cat"])[1]
    other = _new_token(call, tokens["ben"])[1]
    assert call("DELETE", f"/api/v1/tokens/{other['id']}", tokens["cat"])[0] == 404  # not cat's
    read_only = add_token(sessions, users["cat"], scopes=("read",))
    assert call("DELETE", f"/api/v1/tokens/{mine['id']}", read_only)[0] == 403
    assert call("DELETE", f"/api/v1/tokens/{mine['id']}", tokens["cat"])[0] == 204
    assert call("DELETE", f"/api/v1/tokens/{mine['id']}", tokens["cat"])[0] == 204  # idempotent
    assert call("GET", "/api/v1/whoami", mine["token"]) == (401, {"detail": BAD_TOKEN})
    listed = {t["id"]: t for t in call("GET", "/api/v1/tokens", tokens["cat"])[1]["tokens"]}
    assert listed[mine["id"]]["revoked"] is not None
    with sessions() as s:  # a token may always revoke itself, read-only or not
        read_id = s.scalar(
            select(AccessToken.id).where(AccessToken.hash == hashlib.sha256(read_only.encode()).hexdigest())
        )
    assert call("DELETE", f"/api/v1/tokens/{read_id}", read_only)[0] == 204
    assert call("GET", "/api/v1/whoami", read_only)[0] == 401


def test_whoami_refusals_and_ci_tokens(index):
    call, sessions, users, _ = index
    status, body = call("GET", "/api/v1/whoami")
    assert status == 401 and "Bearer" in body["detail"]
    expired = add_token(sessions, users["ann"], expires_in=-5)
    for wrong in ("rig_" + "0" * 43, expired, "not-even-a-token"):
        assert call("GET", "/api/v1/whoami", wrong) == (401, {"detail": BAD_TOKEN})
    with sessions() as s:
        _, ci = issue(
            s, user_id=None, name="ci", kind="ci", scopes=["publish"], namespaces=["ben"], lifetime=timedelta(minutes=5)
        )
        s.commit()
    assert call("GET", "/api/v1/whoami", ci) == (
        200,
        {
            "username": None,
            "kind": "ci",
            "admin": False,
            "scopes": ["publish"],
            "namespaces": [{"name": "ben", "role": "publisher"}],
            "via": "token",
        },
    )
    assert _new_token(call, ci)[0] == 403 and call("GET", "/api/v1/tokens", ci)[0] == 403


def test_claiming_namespaces(index):
    call, sessions, _, tokens = index
    status, claimed = call("POST", "/api/v1/namespaces", tokens["cat"], {"name": "cat-tools", "private": True})
    assert (status, claimed) == (201, {"name": "cat-tools", "owner": {"kind": "user", "name": "cat"}, "private": True})
    assert call("POST", "/api/v1/namespaces", tokens["ben"], {"name": "cat-tools"})[0] == 409
    assert call("POST", "/api/v1/namespaces", tokens["ben"], {"name": "Bad/Name"})[0] == 400
    assert call("POST", "/api/v1/namespaces", None, {"name": "anon"})[0] == 401
    # private: outsiders get the words an unclaimed namespace gets
    hidden = call("GET", "/api/v1/namespaces/cat-tools", tokens["ben"])
    missing = call("GET", "/api/v1/namespaces/nobody-here", tokens["ben"])
    assert hidden[0] == missing[0] == 404
    assert hidden[1]["detail"].replace("cat-tools", "X") == missing[1]["detail"].replace("nobody-here", "X")
    assert call("GET", "/api/v1/namespaces/cat-tools", tokens["cat"])[1]["role"] == "owner"
    assert call("PATCH", "/api/v1/namespaces/cat-tools", tokens["ben"], {"private": False})[0] == 404
    assert call("PATCH", "/api/v1/namespaces/cat-tools", tokens["cat"], {"private": False})[1]["private"] is False
    assert call("GET", "/api/v1/namespaces/cat-tools")[0] == 200  # public now, to anybody
    # a namespace the index already holds packages in is an admin's to assign
    with sessions() as s:
        source = store.source_id(s, "http://crawled.test")
        store.upsert_versions(
            s,
            store.repository_id(s, source, "legacy/pkg"),
            [
                store.IndexedVersion(
                    name="legacy/pkg",
                    version="1.0.0",
                    manifest_digest="sha256:" + "a" * 64,
                    content_digest="sha256:" + "b" * 64,
                    content_size=1,
                    config={"name": "legacy/pkg", "version": "1.0.0"},
                    readme="",
                    signed_by=[],
                )
            ],
        )
        s.commit()
    assert call("POST", "/api/v1/namespaces", tokens["cat"], {"name": "legacy"})[0] == 409
    assert call("POST", "/api/v1/namespaces", tokens["root"], {"name": "legacy"})[0] == 201


def test_organisations_and_roles(index):
    call, _, _, tokens = index
    assert call("POST", "/api/v1/organisations", tokens["ann"], {"name": "acme"})[0] == 201
    assert call("POST", "/api/v1/organisations", tokens["ben"], {"name": "acme"})[0] == 409
    assert call("POST", "/api/v1/namespaces", tokens["ben"], {"name": "acme-x", "organisation": "acme"})[0] == 404
    made = call("POST", "/api/v1/namespaces", tokens["ann"], {"name": "acme", "organisation": "acme", "private": True})
    assert made[1]["owner"] == {"kind": "organisation", "name": "acme"}
    assert call("PUT", "/api/v1/organisations/acme/members/ben", tokens["ann"], {"role": "maintainer"})[0] == 200
    assert call("PUT", "/api/v1/organisations/acme/members/nobody", tokens["ann"], {"role": "reader"})[0] == 404
    assert call("PUT", "/api/v1/organisations/acme/members/cat", tokens["ben"], {"role": "reader"})[0] == 403
    assert call("PUT", "/api/v1/organisations/acme/members/cat", tokens["ann"], {"role": "boss"})[0] == 422
    assert {"name": "acme", "role": "maintainer"} in call("GET", "/api/v1/whoami", tokens["ben"])[1]["namespaces"]
    # a maintainer publishes but neither claims for the organisation nor changes visibility
    assert call("POST", "/api/v1/namespaces", tokens["ben"], {"name": "acme-y", "organisation": "acme"})[0] == 403
    assert call("PATCH", "/api/v1/namespaces/acme", tokens["ben"], {"private": False})[0] == 403
    assert call("GET", "/api/v1/organisations/acme", tokens["cat"])[0] == 404  # outsiders see nothing
    members = call("GET", "/api/v1/organisations/acme", tokens["ben"])[1]
    assert members == {
        "name": "acme",
        "members": [{"username": "ann", "role": "owner"}, {"username": "ben", "role": "maintainer"}],
        "namespaces": ["acme"],
    }
    assert call("DELETE", "/api/v1/organisations/acme/members/ann", tokens["ann"])[0] == 409  # the last owner
    assert call("DELETE", "/api/v1/organisations/acme/members/ben", tokens["ben"])[0] == 204  # leaving
    assert all(ns["name"] != "acme" for ns in call("GET", "/api/v1/whoami", tokens["ben"])[1]["namespaces"])
    assert call("GET", "/api/v1/namespaces/acme", tokens["ben"])[0] == 404
