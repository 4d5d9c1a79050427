"""Nothing of a private namespace leaks through the index's API (issue 13, done-when 3).

Viewers by what they ask, every cell asserted, against a real PostgreSQL through a real
`rigging-indexer serve` process:

- viewers: anonymous; a member of the private namespace (valid token); a signed-up user who is not
  a member (valid token); a member's expired token; a member's revoked token (and an admin);
- asked: search, the package page, its versions, the dependencies of a public package that
  depends on the private one, stats, and the wording of what is refused.

To an outsider a private package is exactly a package the index does not have: the same 404 and
body, no version, registry or hint in a dependency edge, nothing in counts. A dead token is 401
with one fixed message everywhere, whether the package exists or not. (Registry pull and push are
the token service's cells, in its own test.)
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from tests.support.index_db import add_namespace, add_token, add_user, fresh_index, index_version
from tests.support.indexer_server import api_get, serving

REGISTRY = "registry.test"
SOURCE = f"http://{REGISTRY}"
OUTSIDERS = ("anonymous", "non-member")
DEAD = ("expired", "revoked")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The index, its server, and one token per viewer (None: anonymous)."""
    tmp_path = tmp_path_factory.mktemp("leaks")
    with fresh_index("postgresql", tmp_path) as (url, sessions):
        index_version(sessions, "pub/util", description="shared helpers", downloads=5)
        index_version(sessions, "secret/lib", description="secret helpers", downloads=7)
        index_version(
            sessions,
            "pub/app",
            description="an app with helpers",
            downloads=11,
            dependencies={"secret/lib": "^1", "pub/util": "^1", "gone/none": "^1"},
        )
        alice, bob, carol = (add_user(sessions, name) for name in ("alice", "bob", "carol"))
        root = add_user(sessions, "root", admin=True)
        add_namespace(sessions, "secret", owner=alice, private=True, members={bob: "reader"})
        add_namespace(sessions, "pub", owner=carol, private=False)
        tokens = {
            "anonymous": None,
            "member": add_token(sessions, bob),
            "non-member": add_token(sessions, carol),
            "expired": add_token(sessions, bob, expires_in=-1),
            "revoked": add_token(sessions, bob, revoked=True),
            "admin": add_token(sessions, root),
        }
        with serving(url, "--source", SOURCE) as index:
            yield index, tokens, sessions


def ask(world, viewer: str, path: str) -> tuple[int, object]:
    index, tokens, _ = world
    return api_get(index + path, tokens[viewer])


def missing(world, viewer: str, path: str, name: str) -> tuple[int, object]:
    """What `viewer` gets for the same request about a package that is not in the index at all,
    reworded for `name`: the answer a hidden package must give, byte for byte."""
    status, body = ask(world, viewer, path.replace(name, "secret/nothing"))
    assert status == 404
    return status, {"detail": body["detail"].replace("secret/nothing", name)}  # type: ignore[index]


# -- search ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["secret", "helpers", ""])
def test_search(world, query):
    # the member asks first: a result cache keyed without the viewer would now serve outsiders
    seen = {}
    for viewer in ("member", "admin", *OUTSIDERS, "member"):
        status, body = ask(world, viewer, f"/api/v1/packages?q={query}&limit=100")
        assert status == 200
        seen[viewer] = sorted(hit["name"] for hit in body["results"])  # type: ignore[index]
    everything = {"secret": ["secret/lib"], "helpers": ["pub/app", "pub/util", "secret/lib"]}.get(
        query, ["pub/app", "pub/util", "secret/lib"]
    )
    assert seen["member"] == seen["admin"] == everything
    for viewer in OUTSIDERS:
        assert seen[viewer] == [name for name in everything if not name.startswith("secret/")], viewer


def test_search_filtered_by_the_private_namespace_finds_nothing_for_outsiders(world):
    assert [h["name"] for h in ask(world, "member", "/api/v1/packages?namespace=secret")[1]["results"]] == [
        "secret/lib"
    ]
    for viewer in OUTSIDERS:
        assert ask(world, viewer, "/api/v1/packages?namespace=secret") == (
            200,
            {"query": "", "total": 0, "results": []},
        ), viewer


# -- the package page and its versions --------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/packages/secret/lib",
        "/api/v1/packages/secret/lib/versions",
        f"/api/v1/packages/secret/lib?registry={REGISTRY}",
        f"/api/v1/packages/secret/lib/versions?registry={REGISTRY}",
    ],
)
def test_package_page_and_versions(world, path):
    for viewer in ("member", "admin"):
        status, body = ask(world, viewer, path)
        assert status == 200 and body["name"] == "secret/lib" and body["registry"] == REGISTRY, viewer  # type: ignore[index]
        versions = body["versions"]  # type: ignore[index]
        assert [v if isinstance(v, str) else v["version"] for v in versions] == ["1.0.0"]
    for viewer in OUTSIDERS:
        got = ask(world, viewer, path)
        assert got == missing(world, viewer, path, "secret/lib"), f"{viewer}: 404, worded as for a missing one"
        assert got[0] != 403 and "private" not in str(got[1]) and "permission" not in str(got[1])


def test_public_packages_are_public(world):
    for viewer in ("member", "admin", *OUTSIDERS):
        status, body = ask(world, viewer, "/api/v1/packages/pub/util")
        assert status == 200 and body["versions"] == ["1.0.0"], viewer  # type: ignore[index]


# -- dependency edges --------------------------------------------------------------------------------


def test_dependencies_of_a_public_package_on_a_private_one(world):
    for viewer in ("member", "admin", *OUTSIDERS):
        status, body = ask(world, viewer, "/api/v1/packages/pub/app")
        assert status == 200, viewer
        latest = body["latest"]  # type: ignore[index]
        # what the public package's own config says is public, as the registry serves it
        assert latest["dependencies"] == {"gone/none": "^1", "pub/util": "^1", "secret/lib": "^1"}
        edges = {edge["name"]: edge for edge in latest["requires"]}
        assert edges["gone/none"] == {"name": "gone/none", "range": "^1", "indexed": False}
        assert edges["pub/util"] == {
            "name": "pub/util",
            "range": "^1",
            "indexed": True,
            "registry": REGISTRY,
            "ref": f"{REGISTRY}/pub/util",
            "latest": "1.0.0",
        }
        if viewer in OUTSIDERS:  # exactly like a dependency on a package not in the index
            assert edges["secret/lib"] == {"name": "secret/lib", "range": "^1", "indexed": False}, viewer
            assert "1.0.0" not in str(edges["secret/lib"]) and REGISTRY not in str(edges["secret/lib"])
        else:
            assert edges["secret/lib"]["indexed"] is True and edges["secret/lib"]["latest"] == "1.0.0", viewer
        status, versions = ask(world, viewer, "/api/v1/packages/pub/app/versions")
        assert versions["versions"][0]["dependencies"] == latest["dependencies"]  # type: ignore[index]


# -- stats -----------------------------------------------------------------------------------------------


def test_stats(world):
    for viewer in ("member", "admin"):
        status, stats = ask(world, viewer, "/api/v1/stats")
        assert status == 200 and stats["packages"] == 3 and stats["versions"] == 3, viewer  # type: ignore[index]
        assert stats["downloads"] == 23 and stats["top"][1]["name"] == "secret/lib"  # type: ignore[index]
        assert stats["sources"] == [{"registry": REGISTRY, "source": SOURCE, "packages": 3}]  # type: ignore[index]
    for viewer in OUTSIDERS:
        status, stats = ask(world, viewer, "/api/v1/stats")
        assert status == 200, viewer
        assert (stats["packages"], stats["versions"], stats["downloads"]) == (2, 2, 16), viewer  # type: ignore[index]
        assert [row["name"] for row in stats["top"]] == ["pub/app", "pub/util"], viewer  # type: ignore[index]
        assert stats["sources"] == [{"registry": REGISTRY, "source": SOURCE, "packages": 2}]  # type: ignore[index]
        assert "secret" not in str(stats)


def test_metrics_are_totals_without_names(world):
    index, _, _ = world
    status, metrics = api_get(index + "/metrics")
    assert status == 200 and "rigging_index_packages 3.0" in str(metrics)
    assert "secret" not in str(metrics) and "pub/" not in str(metrics), "no package or namespace labels"


# -- dead tokens and the wording of refusals -----------------------------------------------------------

EVERY = [
    "/api/v1/packages?q=lib",
    "/api/v1/packages/secret/lib",
    "/api/v1/packages/secret/lib/versions",
    "/api/v1/packages/secret/nothing",
    "/api/v1/packages/pub/app",
    "/api/v1/packages/pub/app/versions",
    "/api/v1/stats",
    "/api/v1/admin/crawl-problems",
]


def test_expired_and_revoked_tokens_get_one_fixed_401_everywhere(world):
    index, _, _ = world
    answers = {(viewer, path): ask(world, viewer, path) for viewer in DEAD for path in EVERY}
    answers[("made-up", "/api/v1/packages/secret/lib")] = api_get(index + "/api/v1/packages/secret/lib", "rig_nope")
    assert {status for status, _ in answers.values()} == {401}
    bodies = {str(body) for _, body in answers.values()}
    assert len(bodies) == 1, f"one message, whatever was asked and whichever token: {bodies}"
    (body,) = bodies
    assert not any(word in body for word in ("secret", "lib", "nothing", "pub/", "1.0.0")), body


def test_404_never_403(world):
    """Every refusal an outsider meets is the 404 of something that is not there."""
    for viewer in OUTSIDERS:
        for path in EVERY[1:3]:
            assert ask(world, viewer, path)[0] == 404
        assert ask(world, viewer, "/api/v1/admin/crawl-problems") == ask(world, viewer, "/api/v1/no-such-page")
        assert ask(world, viewer, "/api/v1/admin/crawl-problems") == (404, {"detail": "Not Found"})
    assert ask(world, "member", "/api/v1/admin/crawl-problems") == (404, {"detail": "Not Found"}), "members too"
    assert ask(world, "admin", "/api/v1/admin/crawl-problems") == (200, {"problems": []})


# -- visibility changes reach cached answers at once --------------------------------------------------


def test_making_a_namespace_private_hides_it_from_cached_search_at_once(world):
    _, _, sessions = world
    query = "/api/v1/packages?q=util"
    for _ in range(3):  # computed, then served from the server's cache
        assert [h["name"] for h in ask(world, "anonymous", query)[1]["results"]] == ["pub/util"]  # type: ignore[index]
    with sessions() as s:  # as any writer would: a plain UPDATE, not through the API's code
        s.execute(text("UPDATE namespaces SET private = true WHERE name = 'pub'"))
        s.commit()
    try:
        time.sleep(0.1)  # the servers read the search generation every 20 ms
        assert ask(world, "anonymous", query) == (200, {"query": "util", "total": 0, "results": []})
        assert ask(world, "anonymous", "/api/v1/packages/pub/util")[0] == 404
    finally:
        with sessions() as s:
            s.execute(text("UPDATE namespaces SET private = false WHERE name = 'pub'"))
            s.commit()
    time.sleep(0.1)
    assert [h["name"] for h in ask(world, "anonymous", query)[1]["results"]] == ["pub/util"]  # type: ignore[index]
