"""Tokens and secrets never reach a log: the indexer runs as a real server process with every log
on at DEBUG (uvicorn's access log, SQLAlchemy's statements and their parameters), the registry
at debug; tokens are made, used, refused and revoked, keys rotated, and then both logs and every
answer are searched for each secret, plain and in the encodings a header would carry them."""

from __future__ import annotations

import base64
from pathlib import Path

from tests.conftest import run_cli
from tests.packages import make_package
from tests.support.index_db import add_namespace, add_token, add_user, fresh_index
from tests.support.token_registry import TokenRegistry, keys_command, need_registry_binary


def _forms(secret: str, users: tuple[str, ...]) -> set[str]:
    """The secret and how it travels: alone, base64, and inside Basic credentials."""
    forms = {secret, base64.b64encode(secret.encode()).decode()}
    for user in users:
        forms.add(base64.b64encode(f"{user}:{secret}".encode()).decode())
    return forms


def _key_material(folder: Path) -> set[str]:
    """The base64 bodies of every private key in the key folder."""
    found = set()
    for path in folder.glob("*.pem"):
        text = path.read_text()
        if "PRIVATE KEY" in text:
            body = text.split("-----BEGIN PRIVATE KEY-----")[1].split("-----END PRIVATE KEY-----")[0]
            found.add("".join(body.split()))
    return found


def test_no_token_or_key_appears_in_any_log(tmp_path):
    need_registry_binary()
    with fresh_index("postgresql", tmp_path) as (url, sessions):
        user = add_user(sessions, "sam")
        add_namespace(sessions, "sam", owner=user, private=True)
        first = add_token(sessions, user, scopes=("read", "publish"))
        servers = TokenRegistry(tmp_path, url, verbose=True).start()
        secrets = {first}
        answers: list[str] = []
        try:
            # tokens made through the API, one of them revoked
            for name in ("laptop", "ci", "revoked"):
                status, made = servers.api("POST", "/api/v1/tokens", first, {"name": name, "scopes": ["publish"]})
                assert status == 201
                secrets.add(made["token"])
                answers.append(str(made | {"token": "(shown once)"}))
                if name == "revoked":
                    assert servers.api("DELETE", f"/api/v1/tokens/{made['id']}", first)[0] == 204
            wrong = ["rig_" + "Z" * 43, "rig_short", "password123", *sorted(secrets)]
            env = {"DOCKER_CONFIG": str(tmp_path / "docker"), "RIGGING_CACHE_DIR": str(tmp_path / "cache")}
            # failed logins: unknown tokens, someone else's name, a revoked token
            for password in wrong[:3]:
                failed = run_cli("login", servers.host, "-u", "sam", "--password-stdin", input=password, env=env)
                assert failed.returncode == 1
                answers += [failed.stdout, failed.stderr]
            for password in sorted(secrets):
                answers.append(str(servers.token_request(["repository:sam/pkg:pull,push"], "mallory", password)))
                answers.append(str(servers.api("GET", "/api/v1/whoami", password + "x")))
            # good requests: login, publish, token service, whoami; a key rotation in between
            assert run_cli("login", servers.host, "-u", "sam", "--password-stdin", input=first, env=env).returncode == 0
            folder = make_package(tmp_path / "pkg", "sam/pkg")
            published = run_cli("publish", folder, f"{servers.host}/sam/pkg", env=env)
            assert published.returncode == 0, published.stderr
            answers += [published.stdout, published.stderr]
            assert keys_command("rotate", servers.keys).returncode == 0
            for password in sorted(secrets):
                status, body = servers.token_request(["repository:sam/pkg:pull"], "__token__", password)
                if status == 200:
                    secrets.add(body["token"])  # the registry tokens we issue are credentials too
                answers.append(str(servers.api("GET", "/api/v1/whoami", password)))
            registry_log = servers.registry_log()  # before stop(), which removes the registry's folder
        finally:
            servers.stop()
        logs = {"indexer": servers.indexer_log.read_text(errors="replace"), "registry": registry_log}
    assert '"GET /auth/registry/token?service=' in logs["indexer"], "requests were not logged"
    assert "INSERT INTO access_tokens" in logs["indexer"], "SQL statements were not logged"
    checked = {form for secret in secrets for form in _forms(secret, ("sam", "mallory", "__token__"))}
    checked |= _key_material(servers.keys)
    for where, text in {**logs, **{f"answer {i}": a for i, a in enumerate(answers)}}.items():
        leaked = sorted(form[:12] + "…" for form in checked if form in text)
        assert not leaked, f"{where} holds secrets: {leaked}"
