"""Trusted publishing against a real OIDC provider: the provider's client-credentials JWT access
tokens (an audience from a resource indicator, and repository claims as GitHub Actions' ambient
token carries) are exchanged with the real indexer server for short publish tokens."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from rigging_indexer.access import hash_token
from rigging_indexer.models import AccessToken, TrustedPublisher

from tests.support.oidc import Provider, Stack, browser_sign_in, oidc_provider, sign_in_stack, stored
from tests.support.postgres import required_database

CI_SECRET = "ci-client-secret-abcdefghijklmnopqrstu"
ACME = {
    "repository": "acme/skills",
    "repository_owner": "acme",
    "workflow_ref": "acme/skills/.github/workflows/release.yml@refs/heads/main",
}
PROVIDER_CONFIG = {
    "clients": [
        {
            "client_id": client_id,
            "client_secret": CI_SECRET,
            "grant_types": ["client_credentials"],
            "response_types": [],
            "redirect_uris": [],
        }
        for client_id in ("ci-acme", "ci-evil")
    ],
    "resources": {
        "urn:rigging": {"audience": "rigging", "ttl": 300},
        "urn:other": {"audience": "other-service", "ttl": 300},
        "urn:brief": {"audience": "rigging", "ttl": 1},
    },
    # the same workflow in another repository: one claim differs
    "ci_claims": {"ci-acme": ACME, "ci-evil": {**ACME, "repository": "evil/skills"}},
    "accounts": {"owner": {"preferred_username": "acme-owner"}, "mallory": {"preferred_username": "mallory"}},
}


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> Iterator[tuple[Stack, Provider]]:
    workdir = tmp_path_factory.mktemp("publishing")
    # a second issuer the settings trust but no publisher names
    with oidc_provider(PROVIDER_CONFIG, workdir) as other:

        def auth(issuer: str) -> dict[str, Any]:
            return {
                "trusted_publishing": {"issuers": [issuer, other.issuer], "leeway_seconds": 0, "token_seconds": 600}
            }

        # on PostgreSQL, as production runs (the sign-in tests use the embedded SQLite store)
        with required_database() as database, sign_in_stack(workdir, PROVIDER_CONFIG, auth, database) as stack:
            yield stack, other


@pytest.fixture(scope="module")
def owner(setup) -> tuple[httpx.Client, str]:
    """acme-owner, signed in, owning the namespaces acme and acme-two, and their CSRF token."""
    stack, _ = setup
    client, _ = browser_sign_in(stack, "local", "owner")
    csrf = client.get(f"{stack.index}/api/v1/session").json()["csrf_token"]
    for name in ("acme", "acme-two"):
        claimed = client.post(f"{stack.index}/api/v1/namespaces", json={"name": name}, headers={"X-CSRF-Token": csrf})
        assert claimed.status_code == 201, claimed.text
    return client, csrf


def publishers_url(stack: Stack, namespace: str) -> str:
    return f"{stack.index}/api/v1/namespaces/{namespace}/trusted-publishers"


def exchange(stack: Stack, token: str, **extra: str) -> httpx.Response:
    return httpx.post(f"{stack.index}/api/v1/trusted-publishing/exchange", json={"token": token, **extra})


def test_only_an_owner_registers_a_publisher(setup, owner):
    stack, _ = setup
    client, csrf = owner
    body = {
        "issuer": stack.provider.issuer,
        "claims": {"repository": "acme/skills", "workflow_ref": ACME["workflow_ref"]},
    }
    assert httpx.post(publishers_url(stack, "acme"), json=body).status_code == 401  # nobody
    assert client.post(publishers_url(stack, "acme"), json=body).status_code == 403  # no CSRF token
    mallory, _ = browser_sign_in(stack, "local", "mallory")
    mallory_csrf = mallory.get(f"{stack.index}/api/v1/session").json()["csrf_token"]
    refused = mallory.post(publishers_url(stack, "acme"), json=body, headers={"X-CSRF-Token": mallory_csrf})
    assert refused.status_code == 403 and "owner" in refused.json()["detail"]
    missing = client.post(publishers_url(stack, "nobody-has-it"), json=body, headers={"X-CSRF-Token": csrf})
    assert missing.status_code == 404
    for wrong in (
        {**body, "issuer": "https://token.actions.example.test"},  # not an issuer the settings trust
        {**body, "claims": {}},  # would let every workload of the issuer publish
        {**body, "claims": {"aud": "rigging"}},  # checked by the exchange itself
    ):
        answer = client.post(publishers_url(stack, "acme"), json=wrong, headers={"X-CSRF-Token": csrf})
        assert answer.status_code == 422, (wrong, answer.text)
    made = client.post(publishers_url(stack, "acme"), json=body, headers={"X-CSRF-Token": csrf})
    assert made.status_code == 201, made.text
    assert made.json()["claims"] == body["claims"] and made.json()["namespace"] == "acme"

    # a personal token with the publish scope may do the same, without CSRF; a read-only one may not
    headers = {"X-CSRF-Token": csrf}
    tokens = {
        scope: client.post(
            f"{stack.index}/api/v1/tokens", json={"name": scope, "scopes": [scope]}, headers=headers
        ).json()["token"]
        for scope in ("read", "publish")
    }
    other_repo = {**body, "claims": {"repository": "acme/other"}}
    read_only = httpx.post(
        publishers_url(stack, "acme"), json=other_repo, headers={"Authorization": f"Bearer {tokens['read']}"}
    )
    assert read_only.status_code == 403
    by_token = httpx.post(
        publishers_url(stack, "acme"), json=other_repo, headers={"Authorization": f"Bearer {tokens['publish']}"}
    )
    assert by_token.status_code == 201, by_token.text
    listed = client.get(publishers_url(stack, "acme")).json()["publishers"]
    assert [p["claims"]["repository"] for p in listed] == ["acme/skills", "acme/other"]
    assert mallory.get(publishers_url(stack, "acme")).status_code == 403
    removed = client.delete(f"{publishers_url(stack, 'acme')}/{by_token.json()['id']}", headers=headers)
    assert removed.status_code == 204
    assert len(client.get(publishers_url(stack, "acme")).json()["publishers"]) == 1


def test_a_matching_workload_token_buys_a_short_publish_token(setup, owner):
    stack, _ = setup
    workload = stack.provider.workload_token("ci-acme", CI_SECRET, "urn:rigging")
    answer = exchange(stack, workload)
    assert answer.status_code == 201, answer.text
    got = answer.json()
    assert got["namespace"] == "acme" and got["scopes"] == ["read", "publish"] and got["token"].startswith("rig_")
    whoami = httpx.get(f"{stack.index}/api/v1/whoami", headers={"Authorization": f"Bearer {got['token']}"}).json()
    assert whoami["kind"] == "ci" and whoami["username"] is None
    assert whoami["namespaces"] == [{"name": "acme", "role": "publisher"}]
    (publisher,) = stored(stack, TrustedPublisher)
    token = next(t for t in stored(stack, AccessToken) if t.kind == "ci")
    assert (token.user_id, token.publisher_id, token.namespaces) == (None, publisher.id, ["acme"])
    assert sorted(token.scopes) == ["publish", "read"] and token.hash == hash_token(got["token"])
    lifetime = token.expires.replace(tzinfo=UTC) - token.created.replace(tzinfo=UTC)
    assert lifetime.total_seconds() <= 600 + 5  # token_seconds: 600 (and never more than 15 minutes)
    assert got["token"] not in json.dumps([str(getattr(token, c.name)) for c in AccessToken.__table__.columns])
    # one workload token buys one publish token: a replayed one (leaked from a log, say) buys nothing
    again = exchange(stack, workload)
    assert again.status_code == 401 and "exchanged already" in again.json()["detail"]

    # and when copies arrive at the same moment, still only one of them buys a token
    from concurrent.futures import ThreadPoolExecutor

    racing = stack.provider.workload_token("ci-acme", CI_SECRET, "urn:rigging")
    with ThreadPoolExecutor(8) as pool:
        statuses = sorted(r.status_code for r in pool.map(lambda _: exchange(stack, racing), range(8)))
    assert statuses == [201] + [401] * 7, statuses


def test_a_token_matching_publishers_of_two_namespaces_must_name_one(setup, owner):
    stack, _ = setup
    client, csrf = owner
    body = {"issuer": stack.provider.issuer, "claims": {"repository_owner": "acme"}}
    made = client.post(publishers_url(stack, "acme-two"), json=body, headers={"X-CSRF-Token": csrf})
    assert made.status_code == 201
    try:
        workload = stack.provider.workload_token("ci-acme", CI_SECRET, "urn:rigging")
        both = exchange(stack, workload)
        assert both.status_code == 409 and "acme, acme-two" in both.json()["detail"]
        assert exchange(stack, workload, namespace="acme-two").json()["namespace"] == "acme-two"
    finally:
        client.delete(f"{publishers_url(stack, 'acme-two')}/{made.json()['id']}", headers={"X-CSRF-Token": csrf})


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _payload(token: str) -> dict:
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def test_refusals_are_one_line_and_never_repeat_the_token(setup, owner):
    stack, other = setup
    good = stack.provider.workload_token("ci-acme", CI_SECRET, "urn:rigging")
    header, _, signature = good.split(".")
    tampered = f"{header}.{_b64({**_payload(good), 'repository': 'acme/skills-fork'})}.{signature}"
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    forged_claims = {**ACME, "aud": "rigging", "iat": now, "exp": now + 300}
    brief = stack.provider.workload_token("ci-acme", CI_SECRET, "urn:brief")
    issued_claims = _payload(good)
    kid = {"kid": jwt.get_unverified_header(good)["kid"]}
    ec_key = ec.generate_private_key(ec.SECP256R1())
    cases = {
        "wrong audience": (stack.provider.workload_token("ci-acme", CI_SECRET, "urn:other"), 401, "audience"),
        "a claim differs": (
            stack.provider.workload_token("ci-evil", CI_SECRET, "urn:rigging"),
            403,
            "no trusted publisher",
        ),
        "trusted issuer, no publisher": (other.workload_token("ci-acme", CI_SECRET, "urn:rigging"), 403, "no trusted"),
        "untrusted issuer": (
            jwt.encode({**forged_claims, "iss": "https://ci.example.test"}, key, algorithm="RS256"),
            401,
            "not one this index trusts",
        ),
        "our issuer, another key": (
            jwt.encode({**forged_claims, "iss": stack.provider.issuer}, key, algorithm="RS256", headers={"kid": "x"}),
            401,
            "not signed with a key its issuer publishes",
        ),
        "tampered signature": (tampered, 401, "signature does not verify"),
        "unsigned": (f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_payload(good))}.", 401, "algorithm"),
        "not a JWT": ("rig_not-a-jwt-at-all", 401, "not a JWT"),
        # the issuer's own key id with another algorithm: HMAC keyed with its public key, or EC
        "HMAC confusion": (jwt.encode(issued_claims, "k" * 32, algorithm="HS256", headers=kid), 401, "algorithm"),
        "EC with an RSA key id": (jwt.encode(issued_claims, ec_key, algorithm="ES256", headers=kid), 401, "algorithm"),
        "RSA-PSS, an RS256 key": (jwt.encode(issued_claims, key, algorithm="PS256", headers=kid), 401, "algorithm"),
    }
    time.sleep(2.1)  # the brief token (1 s) has expired by now; the others live 5 minutes
    cases["expired"] = (brief, 401, "expired")
    for case, (token, status, words) in cases.items():
        answer = exchange(stack, token)
        detail = answer.json()["detail"]
        assert (answer.status_code, words in detail) == (status, True), (case, answer.text)
        tail = token.split(".")[-1] or token  # an unsigned token has no signature
        assert "\n" not in detail and token not in answer.text and tail not in answer.text
    assert exchange(stack, good).status_code == 201  # the refusals changed nothing for the real one

    # neither workload tokens, nor the tokens given for them, nor client secrets reach the log
    issued = exchange(stack, stack.provider.workload_token("ci-acme", CI_SECRET, "urn:rigging")).json()["token"]
    output = Path(stack.log).read_text(encoding="utf-8", errors="replace")
    assert "trusted publishing: publisher" in output and "trusted publishing refused" in output
    for secret in [good, tampered, brief, issued, CI_SECRET, *stack.secrets.values()]:
        assert secret not in output
