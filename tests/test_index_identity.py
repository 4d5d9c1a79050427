"""A package is the one its repository names, never the one its config claims (issue 13's defect).

An impostor packed as `acme/real` 9.9.9 and pushed with skopeo (any OCI client can) into the
repository `evil/fake` must not become a version of `acme/real`: not in the package API, not in
search; it is recorded as a crawl problem. The same holds for a registry's push notification.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from rigging.registry.client import RegistryClient
from rigging_indexer.crawler import Crawler
from rigging_indexer.models import CrawlJob, Package, Version
from rigging_indexer.search import search
from sqlalchemy import select

from tests.catalog_publish import write_package
from tests.conftest import run_cli
from tests.support.index_db import fresh_index


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
