"""A package is the one its repository names, never the one its config claims (issue 13's defect).

An impostor packed as `acme/real` 9.9.9 and pushed with skopeo (any OCI client can) into the
repository `evil/fake` must not become a version of `acme/real`: not in the package API, not in
search; it is recorded as a crawl problem, which admins see. The same holds for a registry's push
notification. A second registry holding its own `acme/real` is a second package, unless the
configuration says it mirrors the first.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from rigging.registry.client import RegistryClient
from rigging.transfer import publish
from rigging_indexer import store
from rigging_indexer.access import ANONYMOUS
from rigging_indexer.crawler import Crawler
from rigging_indexer.models import CrawlJob, Package, Source, Version
from rigging_indexer.search import search
from sqlalchemy import func, select

from tests.catalog_publish import write_package
from tests.conftest import run_cli
from tests.support.index_db import add_token, add_user, fresh_index, index_version
from tests.support.indexer_server import INDEXER, api_get, serving


@pytest.fixture
def pg_index(tmp_path):
    with fresh_index("postgresql", tmp_path) as (url, sessions):
        yield url, sessions


def _impostor(tmp_path: Path, host: str, repository: str) -> None:
    """`acme/real` 9.9.9 packed by rigging, copied by skopeo into a repository of another name."""
    package = write_package(tmp_path / "impostor", "acme/real", "9.9.9")
    assert run_cli("pack", package, "-o", tmp_path / "impostor-layout").returncode == 0
    copied = subprocess.run(
        [
            "skopeo",
            "copy",
            "--dest-tls-verify=false",
            f"oci:{tmp_path / 'impostor-layout'}:9.9.9",
            f"docker://{host}/{repository}:9.9.9",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert copied.returncode == 0, copied.stderr


def _versions(sessions) -> set[tuple[str, str]]:
    with sessions() as s:
        rows = s.execute(select(Package.name, Version.version).join(Version, Version.package_id == Package.id))
        return {(name, version) for name, version in rows}


def test_a_package_claiming_another_name_is_a_crawl_problem_not_a_version(pg_index, own_registry, tmp_path):
    _, sessions = pg_index
    registry = own_registry()
    env = {"RIGGING_CACHE_DIR": str(tmp_path / "cache"), "DOCKER_CONFIG": str(tmp_path / "docker")}
    real = write_package(tmp_path / "real", "acme/real", "1.0.0")
    assert run_cli("publish", real, f"{registry.host}/acme/real", env=env).returncode == 0
    _impostor(tmp_path, registry.host, "evil/fake")

    crawler = Crawler(sessions)
    assert crawler.enqueue(f"http://{registry.host}") == 2
    stats = crawler.run()
    assert _versions(sessions) == {("acme/real", "1.0.0")}, "the impostor is no version of acme/real"
    with sessions() as s:
        assert s.scalar(select(Package).where(Package.name == "evil/fake")) is None
        hits = search(s, "real")
        assert [(h.name, h.version) for h in hits] == [("acme/real", "1.0.0")]
        problems = s.execute(select(CrawlJob.path, CrawlJob.state, CrawlJob.error)).all()
    assert len(stats.errors) == 1 and "evil/fake" in stats.errors[0] and "'acme/real'" in stats.errors[0]
    assert [(path, state) for path, state, _ in problems if state == "failed"] == [("evil/fake", "failed")]
    assert any("it is not indexed" in (error or "") for _, _, error in problems), "recorded for admins"


def test_a_push_notification_for_an_impostor_indexes_nothing(pg_index, own_registry, tmp_path):
    _, sessions = pg_index
    registry = own_registry()
    _impostor(tmp_path, registry.host, "evil/fake")
    crawler = Crawler(sessions)
    with RegistryClient(registry.host) as client:
        digest = client.head_manifest("evil/fake", "9.9.9")
    assert digest is not None
    assert crawler.index_push(f"http://{registry.host}", "evil/fake", "9.9.9", digest) is False
    assert _versions(sessions) == set()
    assert "it is not indexed" in crawler.stats.errors[0]
    with sessions() as s:
        assert search(s, "real") == [] and search(s, "fake") == []
        problems = store.crawl_problems(s)
    assert [(p["repository"], p["registry"]) for p in problems] == [("evil/fake", registry.host)]
    assert "'acme/real'" in problems[0]["error"], "recorded where admins look, as a crawl's would be"


def test_a_package_under_a_registry_prefix_is_named_by_its_last_two_parts(pg_index, own_registry, tmp_path):
    _, sessions = pg_index
    registry = own_registry()
    env = {"RIGGING_CACHE_DIR": str(tmp_path / "cache"), "DOCKER_CONFIG": str(tmp_path / "docker")}
    real = write_package(tmp_path / "real", "acme/real", "1.0.0")
    assert run_cli("publish", real, f"{registry.host}/team/rules/acme/real", env=env).returncode == 0
    crawler = Crawler(sessions)
    crawler.enqueue(f"http://{registry.host}")
    assert crawler.run().errors == []
    assert _versions(sessions) == {("acme/real", "1.0.0")}


def _publish(tmp_path: Path, host: str, name: str, version: str, label: str) -> None:
    publish(str(write_package(tmp_path / label / version, name, version)), f"{host}/{name}")


@pytest.mark.parametrize("dialect", ["postgresql", "sqlite"])
def test_same_named_packages_in_two_sources_stay_two_packages_and_the_impostor_a_problem(
    dialect, own_registry, tmp_path
):
    first, second = own_registry(), own_registry()
    _publish(tmp_path, first.host, "acme/real", "1.0.0", "first")
    for version in ("2.0.0", "2.1.0"):
        _publish(tmp_path, second.host, "acme/real", version, "second")
    _impostor(tmp_path, first.host, "evil/fake")
    sources = [f"http://{first.host}", f"http://{second.host}"]
    with fresh_index(dialect, tmp_path) as (url, sessions):
        crawler = Crawler(sessions)
        assert [crawler.enqueue(source) for source in sources] == [2, 1]
        assert len(crawler.run().errors) == 1
        with sessions() as s:
            packages = {
                store.registry_host(src.url): (p, src)
                for p, src in s.execute(select(Package, Source).join(Source, Source.id == Package.source_id))
            }
            assert sorted(packages) == sorted([first.host, second.host]), "one acme/real per source, no evil/fake"
            assert {host: p.name for host, (p, _) in packages.items()} == {
                first.host: "acme/real",
                second.host: "acme/real",
            }
            mine = {host: [v.version for v, _, _ in store.package_versions(s, p)] for host, (p, _) in packages.items()}
            assert mine == {first.host: ["1.0.0"], second.host: ["2.1.0", "2.0.0"]}, "each its own versions"
            latest = {host: s.get(Version, p.latest_version_id).version for host, (p, _) in packages.items()}
            assert latest == {first.host: "1.0.0", second.host: "2.1.0"}
            hits = search(s, "real")
            assert sorted((h.name, h.version, h.registry, h.ref) for h in hits) == sorted(
                [
                    ("acme/real", "1.0.0", first.host, f"{first.host}/acme/real"),
                    ("acme/real", "2.1.0", second.host, f"{second.host}/acme/real"),
                ]
            ), "search shows both, each with its registry, and never the impostor's 9.9.9"
            assert [(p["repository"], p["registry"]) for p in store.crawl_problems(s)] == [("evil/fake", first.host)]
            admin = add_user(sessions, "root", admin=True)
        token = add_token(sessions, admin)

        with serving(url, *(flag for source in sources for flag in ("--source", source))) as index:
            package = f"{index}/api/v1/packages/acme/real"
            status, chosen = api_get(package)
            assert status == 200 and chosen["registry"] == first.host, "configured source order: the first wins"
            assert chosen["versions"] == ["1.0.0"] and chosen["latest"]["version"] == "1.0.0"
            assert chosen["alternatives"] == [{"registry": second.host, "ref": f"{second.host}/acme/real"}]
            status, other = api_get(f"{package}?registry={second.host}")
            assert status == 200 and other["versions"] == ["2.1.0", "2.0.0"] and other["latest"]["version"] == "2.1.0"
            assert other["alternatives"] == [{"registry": first.host, "ref": f"{first.host}/acme/real"}]
            status, versions = api_get(f"{package}/versions?registry={second.host}")
            assert status == 200 and [(v["version"], v["registry"]) for v in versions["versions"]] == [
                ("2.1.0", second.host),
                ("2.0.0", second.host),
            ]
            # a registry that holds no such package: the 404 of any missing package
            assert api_get(f"{package}?registry=elsewhere.test:5000") == (
                404,
                {"detail": "package acme/real is not in the index"},
            )
            status, found = api_get(f"{index}/api/v1/packages?q=real")
            assert sorted((h["registry"], h["version"]) for h in found["results"]) == sorted(
                [(first.host, "1.0.0"), (second.host, "2.1.0")]
            )
            status, stats = api_get(f"{index}/api/v1/stats")
            assert stats["packages"] == 2 and stats["versions"] == 3
            assert sorted((row["registry"], row["packages"]) for row in stats["sources"]) == sorted(
                [(first.host, 1), (second.host, 1)]
            )
            problems = f"{index}/api/v1/admin/crawl-problems"
            assert api_get(problems) == api_get(f"{index}/api/v1/no-such-page") == (404, {"detail": "Not Found"})
            status, listed = api_get(problems, token)
            assert status == 200 and [p["repository"] for p in listed["problems"]] == ["evil/fake"]
            assert "it is not indexed" in listed["problems"][0]["error"]


def test_a_mirror_holds_the_primarys_packages_until_it_is_configured_otherwise(pg_index, own_registry, tmp_path):
    _, sessions = pg_index
    primary, mirror = own_registry(), own_registry()
    for host in (primary.host, mirror.host):  # the same bytes in both: the same manifest digest
        _publish(tmp_path, host, "acme/real", "1.0.0", "same")
    _publish(tmp_path, mirror.host, "acme/real", "1.1.0", "newer")  # the mirror may run ahead
    urls = {"primary": f"http://{primary.host}", "mirror": f"http://{mirror.host}"}
    with sessions() as s:
        store.configure_mirrors(s, {urls["mirror"]: urls["primary"]})
        s.commit()
    crawler = Crawler(sessions)
    for url in urls.values():
        crawler.enqueue(url)
    assert crawler.run().errors == []
    with sessions() as s:
        found = store.find_package(s, ANONYMOUS, "acme/real")
        assert found is not None and found.registry == primary.host and found.others == []
        versions = [(v.version, store.registry_host(src.url)) for v, _, src in store.package_versions(s, found.package)]
        assert versions == [("1.1.0", mirror.host), ("1.0.0", primary.host)], "listed once, the primary's copy first"
        via_mirror = store.find_package(s, ANONYMOUS, "acme/real", registry=mirror.host)
        assert via_mirror is not None and via_mirror.package.id == found.package.id
        assert s.scalar(select(CrawlJob).where(CrawlJob.state == "failed")) is None
        store.configure_mirrors(s, {})  # no longer a mirror: its repository is a package of its own
        s.commit()
    with sessions() as s:
        apart = {
            store.registry_host(src.url): sorted(v.version for v, _, _ in store.package_versions(s, p))
            for p, src in s.execute(select(Package, Source).join(Source, Source.id == Package.source_id))
        }
        assert apart == {primary.host: ["1.0.0"], mirror.host: ["1.0.0", "1.1.0"]}
        assert sorted(h.registry for h in search(s, "real")) == sorted([primary.host, mirror.host])


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        ("oops", "--mirror 'oops': use MIRROR_URL=PRIMARY_URL"),
        ("http://a.test=http://a.test", "mirror http://a.test names itself as its primary"),
    ],
)
def test_a_bad_mirror_setting_is_one_clear_line(flag, message, tmp_path):
    database = f"sqlite:///{tmp_path / 'index.db'}"
    done = subprocess.run(
        [str(INDEXER), "crawl", "--once", "--database", database, "--source", "http://a.test", "--mirror", flag],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and done.stderr.strip().splitlines() == [f"rigging-indexer: error: {message}"]


def test_an_index_from_before_package_identity_upgrades_with_its_packages_apart():
    """Migrations 0004 and 0005 on an index the 0003 code wrote: one `acme/real` holding versions
    of two sources and an impostor's. It becomes two packages, the impostor is dropped (the next
    crawl records it as a problem), downloads are kept, and a manifest may now live in two places."""
    from rigging_indexer.db import make_engine, migrate, sessions
    from sqlalchemy import text

    from tests.support.postgres import required_database

    with required_database() as url:
        engine = make_engine(url)
        try:
            migrate(engine, "0003")
            with engine.begin() as c:  # 0001 builds today's tables: take them back to the 0003 schema
                for statement in (
                    "ALTER TABLE packages DROP COLUMN source_id",
                    "DROP INDEX ix_packages_name",
                    "ALTER TABLE packages ADD CONSTRAINT packages_name_key UNIQUE (name)",
                    "ALTER TABLE sources DROP COLUMN mirror_of",
                    "ALTER TABLE versions DROP CONSTRAINT uq_versions_repository_digest",
                    "DROP INDEX ix_versions_manifest_digest",
                    "ALTER TABLE versions ADD CONSTRAINT versions_manifest_digest_key UNIQUE (manifest_digest)",
                    "INSERT INTO sources (id, url) VALUES (1, 'http://one.test'), (2, 'http://two.test')",
                    "INSERT INTO repositories (id, source_id, path) VALUES (1, 1, 'acme/real'), (2, 2, 'acme/real'), "
                    "(3, 1, 'evil/fake')",
                    "INSERT INTO packages (id, name, namespace, downloads) VALUES (1, 'acme/real', 'acme', 5)",
                ):
                    c.execute(text(statement))
                for vid, repo, version in ((1, 1, "1.0.0"), (2, 2, "2.0.0"), (3, 3, "9.9.9")):
                    c.execute(
                        text(
                            "INSERT INTO versions (id, package_id, repository_id, version, manifest_digest, "
                            "content_digest, content_size, description, keywords, targets, config, readme, files, "
                            "size, signed_by, quarantined, deleted, downloads) VALUES (:id, 1, :r, :v, :d, :d, 1, "
                            "'real rules', '[]', '[]', '{}', '', '[]', 1, '[]', false, false, 0)"
                        ),
                        {"id": vid, "r": repo, "v": version, "d": f"sha256:{vid:064x}"},
                    )
                    c.execute(
                        text("INSERT INTO tags (repository_id, tag, manifest_digest) VALUES (:r, :v, :d)"),
                        {"r": repo, "v": version, "d": f"sha256:{vid:064x}"},
                    )
                for table in ("sources", "repositories", "packages", "versions"):  # as if the ids were drawn
                    c.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), 100)"))
            migrate(engine)
            factory = sessions(engine)
            with factory() as s:
                apart = {
                    (store.registry_host(src.url), p.downloads): [v.version for v, _, _ in store.package_versions(s, p)]
                    for p, src in s.execute(select(Package, Source).join(Source, Source.id == Package.source_id))
                }
                assert apart == {("one.test", 5): ["1.0.0"], ("two.test", 0): ["2.0.0"]}
                assert store.known_tags(s, 3) == {}, "the impostor's tag is forgotten: the next crawl reads it again"
                assert sorted((h.registry, h.version) for h in search(s, "real")) == [
                    ("one.test", "1.0.0"),
                    ("two.test", "2.0.0"),
                ]
            digest = "sha256:" + "1".zfill(64)  # version 1's manifest, now also in two.test's repository
            index_version(factory, "acme/real", "1.0.0", source="http://two.test")
            with factory() as s:
                repo = store.repository(s, store.source(s, "http://two.test"), "acme/real")
                store.upsert_versions(
                    s,
                    repo.id,
                    [store.IndexedVersion("acme/real", "1.0.0", digest, digest, 1, {"name": "acme/real"})],
                )
                s.commit()
                assert s.scalar(select(func.count()).where(Version.manifest_digest == digest)) == 2
        finally:
            engine.dispose()
