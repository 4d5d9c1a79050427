"""Search ranking and visibility, on PostgreSQL and on SQLite, with the same expectations."""

from __future__ import annotations

import pytest
from rigging_indexer import store
from rigging_indexer.models import Version
from rigging_indexer.search import count, search
from sqlalchemy import select

from tests.support.index_db import fresh_index
from tests.support.index_db import index_version as add


@pytest.fixture(params=["postgresql", "sqlite"])
def index(request, tmp_path):
    with fresh_index(request.param, tmp_path) as (_, sessions):  # a missing server is `unavailable`
        yield sessions


def names(hits):
    return [h.name for h in hits]


def test_name_beats_description_and_prefixes_match(index):
    add(index, "acme/linter", description="checks code")
    add(index, "other/tool", description="a linter for everything")
    add(index, "third/readme-only", readme="mentions linter deep in the readme")
    with index() as s:
        assert names(search(s, "linter")) == ["acme/linter", "other/tool", "third/readme-only"]
        assert names(search(s, "lint")) == ["acme/linter", "other/tool", "third/readme-only"], "prefix match"
        assert names(search(s, "lin che")) == ["acme/linter"], "every term must match, each as a prefix"
        assert search(s, "zzz") == []


def test_keywords_rank_between_name_and_description(index):
    add(index, "a/one", keywords=["python"])
    add(index, "b/two", description="python rules")
    add(index, "c/python", description="rules")
    with index() as s:
        assert names(search(s, "python")) == ["c/python", "a/one", "b/two"]


def test_signed_and_downloaded_rank_higher_at_equal_relevance(index):
    add(index, "x/plain", description="formatting rules")
    add(index, "y/signed", description="formatting rules", signed=True)
    add(index, "z/popular", description="formatting rules", downloads=500)
    with index() as s:
        ranked = search(s, "formatting")
        assert names(ranked)[-1] == "x/plain" and set(names(ranked)[:2]) == {"y/signed", "z/popular"}
        plain = next(h for h in ranked if h.name == "x/plain")
        assert all(h.score > plain.score for h in ranked if h.name != "x/plain")


def test_filters(index):
    add(index, "acme/a", description="shell rules", keywords=["shell"], targets=["cursor"], signed=True)
    add(index, "acme/b", description="shell rules", keywords=["bash"], targets=["windsurf"])
    add(index, "other/c", description="shell rules", keywords=["shell"])
    with index() as s:
        assert names(search(s, "shell", namespace="acme")) == ["acme/a", "acme/b"]
        assert names(search(s, "shell", keyword="shell")) == ["acme/a", "other/c"]
        assert names(search(s, "shell", signed=True)) == ["acme/a"]
        assert set(names(search(s, "shell", target="windsurf"))) == {"acme/b", "other/c"}  # no targets = all


def test_only_latest_and_never_quarantined_or_deleted(index):
    add(index, "acme/versions", "1.0.0", description="old words")
    newest = add(index, "acme/versions", "2.0.0", description="new words")
    with index() as s:
        assert [h.version for h in search(s, "words")] == ["2.0.0"], "only the latest version is searched"
        assert search(s, "old") == []
        row = s.scalar(select(Version).where(Version.manifest_digest == newest))
        row.quarantined = True
        store.refresh_latest(s)
        s.commit()
        assert [h.version for h in search(s, "words")] == ["1.0.0"], "a quarantined version is never shown"
        for row in s.scalars(select(Version)):
            row.deleted = True
        store.refresh_latest(s)
        s.commit()
        assert search(s, "words") == [] and search(s, "") == []


@pytest.mark.parametrize("dialect", ["postgresql", "sqlite"])
def test_an_index_made_before_search_documents_upgrades_with_its_search(dialect, tmp_path):
    """Migration 0002 builds the per-package documents from the versions already indexed."""
    from rigging_indexer.db import migrate
    from sqlalchemy import text

    from tests.support.index_db import fresh_index

    with fresh_index(dialect, tmp_path, "0001") as (_, sessions):
        engine = sessions.kw["bind"]
        with engine.begin() as c:  # rows as the 0001 code wrote them
            c.execute(text("INSERT INTO sources (id, url) VALUES (1, 'http://old.test')"))
            c.execute(text("INSERT INTO repositories (id, source_id, path) VALUES (1, 1, 'old/pkg')"))
            c.execute(
                text(
                    "INSERT INTO packages (id, source_id, name, namespace, downloads) "
                    "VALUES (1, 1, 'old/pkg', 'old', 3)"
                )
            )
            for vid, version in ((1, "1.0.0"), (2, "1.1.0")):
                c.execute(
                    text(
                        "INSERT INTO versions (id, package_id, repository_id, version, manifest_digest, "
                        "content_digest, content_size, description, keywords, targets, config, readme, files, "
                        "size, signed_by, quarantined, deleted, downloads) VALUES (:id, 1, 1, :v, :d, :d, 1, "
                        "'kept through upgrades', '[\"legacy\"]', '[]', '{}', '', '[]', 1, '[]', :f, :f, 0)"
                    ),
                    {"id": vid, "v": version, "d": f"sha256:{vid:064x}", "f": False},
                )
        migrate(engine)
        with sessions() as s:
            assert [(h.name, h.version, h.downloads) for h in search(s, "upgrades")] == [("old/pkg", "1.1.0", 3)]
            assert names(search(s, "legacy")) == ["old/pkg"]


# -- facets, sorts and totals (the portal's search page, and the API's) -----------------------------


def holding(sessions, name: str, files: list[str], *, docs: tuple[str, ...] = (), **fields) -> int:
    """A package whose latest version holds `files`, and a docs layer whose files its scan read;
    the version's id."""
    from rigging_indexer.models import ScanResult
    from rigging_indexer.scanning import now

    digest = add(sessions, name, **fields)
    with sessions() as s:
        row = s.scalar(select(Version).where(Version.manifest_digest == digest))
        row.files = files
        if docs:  # where the index keeps a docs layer's paths: the inline scan's file digests
            digests = {f"docs/{path}": "0" * 64 for path in docs}
            s.add(ScanResult(version_id=row.id, rules_version="t", verdict="pass", file_digests=digests, scanned=now()))
        store.refresh_latest(s, {row.package_id})
        s.commit()
        return row.id


def test_kinds_facet_from_the_latest_versions_files(index):
    holding(index, "k/everything", ["README.md", "rules/a.md", "workflows/w.md", "skills/s/SKILL.md"], docs=("g.md",))
    holding(index, "k/rules", ["rules/a.md", "rules/b.md", "README.md"])
    holding(index, "k/skill-parts", ["skills/s/scripts/run.sh", "skills/s/references/r.md"])  # no SKILL.md
    holding(index, "k/skills", ["skills/one/SKILL.md", "skills/one/scripts/x.py"])
    with index() as s:
        kinds = {h.name: h.kinds for h in search(s, "")}
        assert kinds == {
            "k/everything": ["docs", "rules", "skills", "workflows"],
            "k/rules": ["rules"],
            "k/skill-parts": [],
            "k/skills": ["skills"],
        }
        assert names(search(s, "", kind="skills")) == ["k/everything", "k/skills"]
        assert names(search(s, "", kind=["rules"])) == ["k/everything", "k/rules"]
        assert names(search(s, "", kind=["rules", "skills"])) == ["k/everything"], "every kind asked for"
        assert names(search(s, "k", kind="docs")) == ["k/everything"], "with words too"
        assert search(s, "", kind="binaries") == [] and count(s, "", kind=["rules", "binaries"]) == 0
        assert count(s, "", kind="rules") == 2 and count(s, "k", kind=["workflows", "docs"]) == 1


def test_kinds_follow_the_latest_version(index):
    holding(index, "k/grows", ["rules/a.md"])
    with index() as s:
        assert [h.kinds for h in search(s, "grows")] == [["rules"]]
    digest = add(index, "k/grows", "2.0.0")
    with index() as s:
        row = s.scalar(select(Version).where(Version.manifest_digest == digest))
        row.files = ["rules/a.md", "workflows/ship.md"]
        store.refresh_latest(s, {row.package_id})
        s.commit()
        assert [(h.version, h.kinds) for h in search(s, "grows", kind="workflows")] == [
            ("2.0.0", ["rules", "workflows"])
        ]


def test_a_crawled_layout_records_what_its_layers_hold(index, tmp_path, cli):
    """Through the crawler: files from the content layer, docs from the docs layer the inline scan reads."""
    from rigging_indexer.crawler import Crawler

    from tests.packages import make_package

    layout = tmp_path / "layout"
    full = make_package(tmp_path / "full", "lay/full", docs=True)  # `rigging new`: a rule and a workflow
    (full / "skills" / "review-guide").mkdir(parents=True)
    (full / "skills" / "review-guide" / "SKILL.md").write_text(
        "---\nname: review-guide\ndescription: Review a change. Use when asked to review code.\n---\n\n# Review\n"
    )
    plain = make_package(tmp_path / "plain", "lay/plain")
    (plain / "workflows" / "release.md").unlink()
    crawler = Crawler(index)
    for folder in (full, plain):  # a layout is one repository: one each
        assert cli("pack", folder, "-o", layout / folder.name).returncode == 0
        crawler.enqueue(f"oci:{layout / folder.name}")
    assert crawler.run().indexed == 2
    with index() as s:
        assert {h.name: h.kinds for h in search(s, "lay")} == {
            "lay/full": ["docs", "rules", "skills", "workflows"],
            "lay/plain": ["rules"],
        }


def test_verified_publishers_are_claimed_namespaces_read_as_search_runs(index):
    from tests.support.index_db import add_namespace, add_user

    add(index, "acme/lint", description="lint rules", downloads=5)
    add(index, "acme/fmt", description="format rules")
    add(index, "loose/lint", description="lint rules", downloads=9)
    with index() as s:
        assert {h.name: h.verified for h in search(s, "rules")} == {
            "acme/lint": False,
            "acme/fmt": False,
            "loose/lint": False,
        }
        assert search(s, "rules", verified=True) == [] and count(s, "rules", verified=False) == 3
    add_namespace(index, "acme", owner=add_user(index, "ann"), private=False)  # no document rewritten
    with index() as s:
        assert {h.name: h.verified for h in search(s, "rules")} == {
            "acme/lint": True,
            "acme/fmt": True,
            "loose/lint": False,
        }
        assert names(search(s, "rules", verified=True)) == ["acme/lint", "acme/fmt"]
        assert names(search(s, "", verified=False)) == ["loose/lint"]
        assert count(s, "rules", verified=True) == 2 and count(s, "lint", verified=True) == 1
        assert [h.namespace for h in search(s, "rules", verified=True)] == ["acme", "acme"]


def test_sort_orders(index):
    from datetime import UTC, datetime

    from rigging_indexer.models import Package

    add(index, "s/alpha", description="sorting words", downloads=10)
    add(index, "s/beta", description="sorting words", downloads=50)
    add(index, "s/gamma", description="sorting", downloads=50)
    add(index, "s/sorting", description="words")  # the name matches: most relevant, fewest downloads
    when = {"s/alpha": 3, "s/beta": 1, "s/gamma": 2, "s/sorting": 1}  # days into 2024
    with index() as s:
        for name, day in when.items():
            package = s.scalar(select(Package).where(Package.name == name))
            s.get(Version, package.latest_version_id).indexed = datetime(2024, 1, day, 12, tzinfo=UTC)
        store.refresh_latest(s)
        s.commit()
        assert names(search(s, "sorting")) == names(search(s, "sorting", sort="relevance"))
        assert names(search(s, "sorting"))[0] == "s/sorting"
        assert names(search(s, "sorting", sort="downloads")) == ["s/beta", "s/gamma", "s/alpha", "s/sorting"]
        assert names(search(s, "sorting", sort="updated")) == ["s/alpha", "s/gamma", "s/beta", "s/sorting"]
        assert names(search(s, "", sort="updated", limit=2, offset=1)) == ["s/gamma", "s/beta"]
        assert {h.name: h.updated for h in search(s, "sorting")}["s/alpha"] == "2024-01-03T12:00:00+00:00"
        with pytest.raises(ValueError, match="sort must be one of"):
            search(s, "sorting", sort="name")


def test_pages_and_total_agree_and_respect_visibility(index):
    from rigging_indexer.access import ANONYMOUS, Viewer

    from tests.support.index_db import add_namespace, add_user

    for i in range(7):
        add(index, f"open/pkg{i}", description="paged rules", keywords=["odd"] if i % 2 else [])
    add(index, "secret/pkg", description="paged rules", keywords=["odd"])
    add_namespace(index, "secret", owner=add_user(index, "owner"), private=True)
    member, admin = Viewer(readable=frozenset({"secret"})), Viewer(admin=True)
    with index() as s:
        for query in ("paged", ""):
            assert count(s, query) == 7 and count(s, query, viewer=member) == count(s, query, viewer=admin) == 8
            assert count(s, query, keyword="odd") == 3 and count(s, query, keyword="odd", viewer=member) == 4
            assert count(s, query, namespace="secret") == 0 and count(s, query, namespace="secret", viewer=member) == 1
            assert count(s, query, verified=True) == 0 and count(s, query, verified=True, viewer=member) == 1
            pages = [search(s, query, limit=3, offset=offset, viewer=ANONYMOUS) for offset in (0, 3, 6)]
            assert [len(page) for page in pages] == [3, 3, 1]
            assert sorted(h.name for page in pages for h in page) == [f"open/pkg{i}" for i in range(7)]
            assert "secret/pkg" in names(search(s, query, limit=20, viewer=member))
        assert count(s, "nothing") == 0 and count(s, "paged", signed=True) == 0
        # counting may stop early (the portal's "more than N"), never past what the viewer may see
        assert count(s, "paged", at_most=5) == 5 and count(s, "paged", at_most=50) == 7
        assert count(s, "paged", namespace="secret", at_most=5) == 0
        assert count(s, "paged", namespace="secret", at_most=5, viewer=member) == 1


def test_a_search_by_relevance_counts_its_matches_as_it_ranks_them(index):
    from rigging_indexer.access import Viewer
    from rigging_indexer.search import search_counted

    from tests.support.index_db import add_namespace, add_user

    for i in range(7):
        add(index, f"open/pkg{i}", description="paged rules", keywords=["odd"] if i % 2 else [])
    add(index, "secret/pkg", description="paged rules", keywords=["odd"])
    add_namespace(index, "secret", owner=add_user(index, "owner"), private=True)
    member = Viewer(readable=frozenset({"secret"}))
    with index() as s:
        counts_there = s.get_bind().dialect.name == "postgresql"  # SQLite's bm25() takes no window beside it
        for asked in ({}, {"keyword": "odd"}, {"viewer": member}, {"keyword": "odd", "viewer": member}):
            for sort in ("relevance", "downloads", "updated"):
                hits, total = search_counted(s, "paged", **asked, sort=sort, limit=2, offset=2)
                assert names(hits) == names(search(s, "paged", **asked, sort=sort, limit=2, offset=2))
                ranked = counts_there and sort == "relevance"  # the others may stop at the page: count tells
                assert total == (count(s, "paged", **asked) if ranked else None)
        assert search_counted(s, "paged", limit=2, offset=50) == ([], None)  # past the end: count tells
        assert search_counted(s, "", limit=2)[1] is None  # no words: the sorted index stops at the page
        with pytest.raises(TypeError, match="unexpected arguments: colour"):
            search_counted(s, "paged", colour="red")


@pytest.fixture(params=["postgresql", "sqlite"])
def served(request, tmp_path):
    """An index of facet-rich packages, its server, and a member's token for its private namespace."""
    from datetime import UTC, datetime

    from tests.support.index_db import add_namespace, add_token, add_user
    from tests.support.indexer_server import serving

    with fresh_index(request.param, tmp_path) as (url, sessions):
        holding(sessions, "acme/skills", ["skills/a/SKILL.md"], description="facet tools", downloads=3)
        holding(sessions, "acme/rules", ["rules/r.md"], description="facet tools", downloads=8)
        holding(sessions, "free/both", ["rules/r.md", "skills/b/SKILL.md"], description="facet tools", downloads=1)
        holding(sessions, "hidden/skills", ["skills/c/SKILL.md"], description="facet tools", downloads=100)
        owner = add_user(sessions, "owner")
        add_namespace(sessions, "acme", owner=owner, private=False)
        add_namespace(sessions, "hidden", owner=owner, private=True)
        with sessions() as s:  # acme/skills the newest, free/both the oldest
            for day, vid in zip((3, 2, 1, 4), s.scalars(select(Version.id).order_by(Version.id)), strict=True):
                s.get(Version, vid).indexed = datetime(2024, 1, day, tzinfo=UTC)
            store.refresh_latest(s)
            s.commit()
        with serving(url) as base:
            yield base, add_token(sessions, owner)


def test_api_takes_the_same_facets_sorts_and_gives_the_total(served):
    from tests.support.indexer_server import api_get

    base, token = served

    def get(query: str, as_member: bool = False):
        status, body = api_get(f"{base}/api/v1/packages?{query}", token if as_member else None)
        assert status == 200, body
        return body

    every = get("q=facet")
    assert every["total"] == 3 and every["results"][0]["name"] == "acme/rules"
    hit = next(r for r in every["results"] if r["name"] == "acme/skills")
    assert hit["namespace"] == "acme" and hit["kinds"] == ["skills"] and hit["verified"] is True
    assert hit["updated"] == "2024-01-03T00:00:00+00:00" and hit["ref"] == "registry.test/acme/skills"
    assert {
        "name",
        "version",
        "description",
        "keywords",
        "targets",
        "signed",
        "downloads",
        "score",
        "ref",
        "registry",
    } < set(hit)
    skills = get("q=facet&kind=skills")
    assert skills["total"] == 2 and {r["name"] for r in skills["results"]} == {"acme/skills", "free/both"}
    assert [r["name"] for r in get("kind=skills&kind=rules")["results"]] == ["free/both"]
    assert [r["name"] for r in get("q=facet&verified=false")["results"]] == ["free/both"]
    assert [r["name"] for r in get("sort=downloads")["results"]] == ["acme/rules", "acme/skills", "free/both"]
    assert [r["name"] for r in get("sort=updated")["results"]] == ["acme/skills", "acme/rules", "free/both"]
    page = get("sort=updated&limit=1&offset=1")
    assert page["total"] == 3 and [r["name"] for r in page["results"]] == ["acme/rules"], "a full page is counted"
    assert get("sort=updated&limit=2&offset=5") == {"query": "", "total": 3, "results": []}
    member = get("q=facet&kind=skills&sort=downloads", as_member=True)
    assert member["total"] == 3 and [r["name"] for r in member["results"]] == [
        "hidden/skills",
        "acme/skills",
        "free/both",
    ]
    assert get("q=facet&kind=skills&sort=downloads")["total"] == 2, "the member's answer is not the anonymous one"
    for bad in ("kind=binaries", "sort=name", "verified=maybe"):
        assert api_get(f"{base}/api/v1/packages?{bad}")[0] == 422


@pytest.mark.parametrize("dialect", ["postgresql", "sqlite"])
def test_an_index_from_before_facets_gets_them_by_migration(dialect, tmp_path):
    """Migration 0007 adds kinds and updated and rebuilds every document with them."""
    from rigging_indexer.db import migrate
    from sqlalchemy import text

    from tests.support.index_db import fresh_index

    with fresh_index(dialect, tmp_path, "0006") as (_, sessions):
        engine = sessions.kw["bind"]
        at = "2023-05-06 07:08:09" + ("+00" if dialect == "postgresql" else "")  # SQLite keeps UTC, without zone
        with engine.begin() as c:  # rows as the 0006 code wrote them (documents rebuilt by 0007)
            c.execute(text("INSERT INTO sources (id, url) VALUES (1, 'http://old.test')"))
            c.execute(text("INSERT INTO repositories (id, source_id, path) VALUES (1, 1, 'old/pkg')"))
            c.execute(
                text(
                    "INSERT INTO packages (id, source_id, name, namespace, downloads) "
                    "VALUES (1, 1, 'old/pkg', 'old', 3)"
                )
            )
            c.execute(
                text(
                    "INSERT INTO versions (id, package_id, repository_id, version, manifest_digest, content_digest, "
                    "content_size, description, keywords, targets, config, readme, files, size, signed_by, "
                    "quarantined, deleted, downloads, review, indexed) VALUES (1, 1, 1, '1.0.0', :d, :d, 1, "
                    "'from before facets', '[]', '[]', '{}', '', :files, 1, '[]', :f, :f, 0, 'none', :at)"
                ),
                {
                    "d": "sha256:" + "1" * 64,
                    "files": '["rules/a.md", "skills/s/SKILL.md"]',
                    "f": False,
                    "at": at,
                },
            )
            c.execute(
                text(
                    'INSERT INTO scan_results (version_id, rules_version, "full", semgrep, verdict, counts, findings, '
                    "capabilities, file_digests, scanned) VALUES (1, 't', :f, :f, 'pass', '{}', '[]', '{}', :docs, :at)"
                ),
                {"f": False, "docs": '{"docs/guide.md": "00"}', "at": at},
            )
        migrate(engine)
        with sessions() as s:
            [hit] = search(s, "before", kind="docs", sort="updated")
            assert (hit.name, hit.kinds, hit.updated) == (
                "old/pkg",
                ["docs", "rules", "skills"],
                "2023-05-06T07:08:09+00:00",
            )


def test_a_restore_with_an_empty_search_path_still_bumps_the_search_generation(tmp_path):
    """pg_restore runs with search_path '': the namespaces trigger (0005) must still find
    search_state, or a data-only restore of the accounts fails (migration 0010)."""
    from sqlalchemy import text

    from tests.support.index_db import fresh_index

    with fresh_index("postgresql", tmp_path) as (_, sessions):
        engine = sessions.kw["bind"]
        with engine.begin() as c:
            schema = c.execute(text("SELECT current_schema()")).scalar_one()
            before = c.execute(text("SELECT generation FROM search_state WHERE id = 1")).scalar_one()
        with engine.begin() as c:
            c.execute(text("SELECT pg_catalog.set_config('search_path', '', true)"))
            restored = f"INSERT INTO {schema}.namespaces (name, private) VALUES ('restored', false)"  # noqa: S608
            c.execute(text(restored))  # schema: the database's own, from current_schema()
        with engine.begin() as c:
            assert c.execute(text("SELECT generation FROM search_state WHERE id = 1")).scalar_one() == before + 1
