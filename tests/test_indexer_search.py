"""Search ranking and visibility, on PostgreSQL and on SQLite, with the same expectations."""

from __future__ import annotations

import pytest
from rigging_indexer import store
from rigging_indexer.models import Version
from rigging_indexer.search import search
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
    import contextlib
    from pathlib import Path

    from alembic import command
    from alembic.config import Config
    from rigging_indexer.db import make_engine, migrate, sessions
    from sqlalchemy import text

    from tests.support.postgres import required_database

    with contextlib.ExitStack() as stack:
        url = f"sqlite:///{tmp_path / 'old.db'}" if dialect == "sqlite" else stack.enter_context(required_database())
        engine = make_engine(url)
        stack.callback(engine.dispose)
        config = Config()
        config.set_main_option("script_location", str(Path(store.__file__).parent / "migrations"))
        config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
        config.attributes["engine"] = engine
        command.upgrade(config, "0001")
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
        with sessions(engine)() as s:
            assert [(h.name, h.version, h.downloads) for h in search(s, "upgrades")] == [("old/pkg", "1.1.0", 3)]
            assert names(search(s, "legacy")) == ["old/pkg"]
