"""The CLI's side of owned namespaces: `rigging login --index`, `rigging whoami`, and search and
installs through an indexer carrying the caller's token (RIGGING_TOKEN or the stored login), so
a member finds their private packages and an installer asks for the package of its own registry."""

from __future__ import annotations

import json
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.catalog_publish import publish_catalogue
from tests.support.index_db import add_namespace, add_token, add_user, fresh_index, index_version
from tests.support.indexer_server import INDEXER, start_indexer
from tests.support.services import free_port, wait_http


@pytest.fixture
def index(tmp_path) -> Iterator[tuple[str, str, object]]:
    """(indexer URL, database URL, sessions) of a real server on a fresh PostgreSQL index."""
    with fresh_index("postgresql", tmp_path) as (database, sessions):
        port = free_port()
        server = start_indexer(port, database)
        try:
            wait_http(f"http://127.0.0.1:{port}/healthz", timeout=30, ok_statuses=(200,))
            yield f"http://127.0.0.1:{port}", database, sessions
        finally:
            server.terminate()
            server.wait(timeout=10)


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"DOCKER_CONFIG": str(tmp_path / "docker"), "RIGGING_CACHE_DIR": str(tmp_path / "cache"), **extra}


def test_whoami_login_and_search_carry_the_token(index, tmp_path, cli):
    url, _, sessions = index
    alice = add_user(sessions, "alice")
    add_namespace(sessions, "alice", owner=alice, private=True)
    token = add_token(sessions, alice, scopes=("read", "publish"))
    index_version(sessions, "alice/secret-tool", description="zebra helper, private")
    index_version(sessions, "pub/open-tool", description="zebra helper, public")
    env = _env(tmp_path, RIGGING_INDEX_URL=url)

    anonymous = cli("search", "zebra", "--json", env=env)
    assert anonymous.returncode == 0, anonymous.stderr
    assert [hit["name"] for hit in json.loads(anonymous.stdout)] == ["pub/open-tool"]
    not_logged_in = cli("whoami", env=env)
    assert not_logged_in.returncode == 1
    assert not_logged_in.stderr.strip() == (
        f"rigging: error: not logged in to {url}: set RIGGING_TOKEN or run `rigging login --index {url}`"
    )

    member = cli("search", "zebra", "--json", env={**env, "RIGGING_TOKEN": token})
    assert sorted(hit["name"] for hit in json.loads(member.stdout)) == ["alice/secret-tool", "pub/open-tool"]
    who = cli("whoami", "--json", env={**env, "RIGGING_TOKEN": token})
    assert who.returncode == 0, who.stderr
    assert json.loads(who.stdout)["username"] == "alice"

    # a wrong token is refused in one line that never repeats it, and nothing is stored
    wrong = "rig_" + secrets.token_urlsafe(32)
    refused = cli("login", "--index", url, "-u", "alice", "--password-stdin", env=env, input=wrong + "\n")
    assert refused.returncode == 1 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    assert "HTTP 401" in refused.stderr and wrong not in refused.stderr + refused.stdout
    assert not (tmp_path / "docker" / "config.json").exists()

    logged = cli("login", "--index", url, "-u", "alice", "--password-stdin", env=env, input=token + "\n")
    assert logged.returncode == 0, logged.stderr
    assert token not in logged.stdout + logged.stderr
    stored = json.loads(cli("whoami", "--json", env=env).stdout)  # the stored login, no RIGGING_TOKEN
    assert stored["username"] == "alice"
    found = json.loads(cli("search", "zebra", "--json", env=env).stdout)
    assert "alice/secret-tool" in {hit["name"] for hit in found}
    assert cli("logout", url.split("://", 1)[1], env=env).returncode == 0
    assert cli("whoami", env=env).returncode == 1


def test_an_install_through_the_index_takes_the_versions_of_its_own_registry(registry, index, tmp_path, cli):
    """Another source holds a package of the same name with newer versions: the installer asks
    the index for its registry's package, not for whichever package has that name."""
    url, database, sessions = index
    # indexed first, so that an index asked by name alone would answer with this one
    index_version(sessions, "same-name/pkg", "9.9.9", source="http://elsewhere.test")
    publish_catalogue(tmp_path / "pub", registry.host, {"same-name/pkg": {"1.0.0": {}}})
    crawled = subprocess.run(
        [str(INDEXER), "crawl", "--once", "--database", database, "--source", f"http://{registry.host}/same-name/pkg"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert crawled.returncode == 0, crawled.stderr
    project = tmp_path / "project"
    project.mkdir()
    (project / "rigging.json").write_text(
        json.dumps({"registry": registry.host, "dependencies": {"same-name/pkg": "*"}, "targets": ["agents"]})
    )
    installed = cli("install", "-C", project, "--json", env=_env(tmp_path, RIGGING_INDEX_URL=url))
    assert installed.returncode == 0, installed.stderr
    assert json.loads(installed.stdout)["packages"] == {"same-name/pkg": "1.0.0"}
