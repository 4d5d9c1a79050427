"""Resolution against packages published to the real Debian registry: tag lists and package
configs are read over the OCI API, concurrently."""

from __future__ import annotations

import json

import pytest
from rigging.cache import BlobCache
from rigging.catalog_registry import RegistryCatalog
from rigging.reference import parse_ref
from rigging.resolver import ResolutionError, resolve

from tests.catalog_publish import publish_catalogue, unique_namespace


@pytest.fixture
def ns(tmp_path, monkeypatch):
    monkeypatch.setenv("RIGGING_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    return unique_namespace()


def _catalog(registry, tmp_path):
    return RegistryCatalog(lambda name: parse_ref(f"{registry.host}/{name}"), BlobCache(tmp_path / "cache"))


def _chain(ns: str, depth: int) -> dict:
    return {f"{ns}/c{i}": {"1.0.0": ({f"{ns}/c{i + 1}": "^1.0.0"} if i + 1 < depth else {})} for i in range(depth)}


@pytest.mark.parametrize("depth", [3, 10])
def test_chains_resolve(depth, ns, tmp_path, registry):
    publish_catalogue(tmp_path, registry.host, _chain(ns, depth))
    with _catalog(registry, tmp_path) as catalog:
        resolution = resolve(catalog, {f"{ns}/c0": "^1"})
    assert {name: str(v) for name, v in resolution.versions.items()} == {f"{ns}/c{i}": "1.0.0" for i in range(depth)}
    assert resolution.dependencies[f"{ns}/c0"] == ({f"{ns}/c1": "^1.0.0"} if depth > 1 else {})


def test_a_chain_of_50_needs_a_raised_depth_limit(ns, tmp_path, registry, cli):
    publish_catalogue(tmp_path, registry.host, _chain(ns, 50))
    with _catalog(registry, tmp_path) as catalog, pytest.raises(ResolutionError) as failure:
        resolve(catalog, {f"{ns}/c0": "^1"})
    assert "deeper than 20 levels" in str(failure.value) and "--max-depth" in str(failure.value)
    assert f"{ns}/c0 -> {ns}/c1" in str(failure.value)
    with _catalog(registry, tmp_path) as catalog:
        assert len(resolve(catalog, {f"{ns}/c0": "^1"}, max_depth=60).versions) == 50
    # and through the CLI, with the limit on the command line
    project = tmp_path / "project"
    project.mkdir()
    (project / "rigging.json").write_text(
        json.dumps({"registry": registry.host, "dependencies": {f"{ns}/c0": "^1"}, "targets": ["agents"]})
    )
    refused = cli("install", "-C", project, env={"RIGGING_CACHE_DIR": str(tmp_path / "cache")})
    assert refused.returncode == 1 and "deeper than 20" in refused.stderr and len(refused.stderr.splitlines()) == 1
    assert not (project / "rigging.lock").exists() and not (project / "AGENTS.md").exists(), "refused: nothing written"
    done = cli(
        "install", "-C", project, "--max-depth", "60", "--json", env={"RIGGING_CACHE_DIR": str(tmp_path / "cache")}
    )
    assert done.returncode == 0, done.stderr
    chain = {f"{ns}/c{i}": "1.0.0" for i in range(50)}
    assert json.loads(done.stdout)["packages"] == chain
    lock = json.loads((project / "rigging.lock").read_text())
    assert {name: entry["version"] for name, entry in lock["packages"].items()} == chain
    assert list(lock["managed"]) == ["AGENTS.md"]
    agents = (project / "AGENTS.md").read_text()
    assert [name for name in chain if f"## {name} 1.0.0\n" not in agents] == [], "every rule reached AGENTS.md"


def test_a_cycle_names_its_path(ns, tmp_path, registry):
    publish_catalogue(
        tmp_path,
        registry.host,
        {
            f"{ns}/a": {"1.0.0": {f"{ns}/b": "^1"}},
            f"{ns}/b": {"1.0.0": {f"{ns}/c": "^1"}},
            f"{ns}/c": {"1.0.0": {f"{ns}/a": "^1"}},
        },
    )
    with _catalog(registry, tmp_path) as catalog, pytest.raises(ResolutionError) as failure:
        resolve(catalog, {f"{ns}/a": "^1"})
    assert f"dependency cycle: {ns}/a 1.0.0 -> {ns}/b 1.0.0 -> {ns}/c 1.0.0 -> {ns}/a" in str(failure.value)


def test_a_diamond_with_compatible_ranges_unifies(ns, tmp_path, registry):
    publish_catalogue(
        tmp_path,
        registry.host,
        {
            f"{ns}/left": {"1.0.0": {f"{ns}/base": "^1.1.0"}},
            f"{ns}/right": {"1.0.0": {f"{ns}/base": ">=1.0.0, <1.3.0"}},
            f"{ns}/base": {"1.0.0": {}, "1.1.0": {}, "1.2.0": {}, "1.3.0": {}, "2.0.0": {}},
        },
    )
    with _catalog(registry, tmp_path) as catalog:
        resolution = resolve(catalog, {f"{ns}/left": "^1", f"{ns}/right": "^1"})
    assert str(resolution.versions[f"{ns}/base"]) == "1.2.0"


def test_an_impossible_set_explains_itself(ns, tmp_path, registry):
    publish_catalogue(
        tmp_path,
        registry.host,
        {
            f"{ns}/a": {"2.0.0": {f"{ns}/b": "^3"}, "2.1.0": {f"{ns}/b": "^3"}},
            f"{ns}/c": {"1.0.0": {f"{ns}/b": "^2"}},
            f"{ns}/b": {"2.0.0": {}, "3.0.0": {}},
        },
    )
    with _catalog(registry, tmp_path) as catalog, pytest.raises(ResolutionError) as failure:
        resolve(catalog, {f"{ns}/a": "^2", f"{ns}/c": "^1"})
    message = str(failure.value)
    assert f"needs {ns}/b ^3" in message and f"{ns}/c 1.0.0 needs {ns}/b ^2" in message
    assert "cannot be used together" in message and message.startswith("cannot resolve dependencies: because")


def test_prerelease_rules(ns, tmp_path, registry):
    publish_catalogue(
        tmp_path, registry.host, {f"{ns}/p": {"1.0.0": {}, "1.1.0-beta.1": {}, "1.1.0-beta.2": {}, "2.0.0-rc.1": {}}}
    )
    cases = {
        "^1.0.0": "1.0.0",
        "^1.1.0-beta.1": "1.1.0-beta.2",
        "*": "1.0.0",
        ">=2.0.0-rc.1": "2.0.0-rc.1",
        "1.1.0-beta.1": "1.1.0-beta.1",
    }
    with _catalog(registry, tmp_path) as catalog:
        for wanted, expected in cases.items():
            assert str(resolve(catalog, {f"{ns}/p": wanted}).versions[f"{ns}/p"]) == expected, wanted
        with pytest.raises(ResolutionError, match=r"\^2, which no published version matches"):
            resolve(catalog, {f"{ns}/p": "^2"})  # 2.0.0-rc.1 is a pre-release; ^2 does not name one


def test_or_and_hyphen_ranges(ns, tmp_path, registry):
    publish_catalogue(
        tmp_path, registry.host, {f"{ns}/r": {v: {} for v in ("1.0.0", "1.5.0", "2.0.0", "2.4.0", "3.0.0", "4.1.0")}}
    )
    cases = {
        "^1 || ^3": "3.0.0",
        "1.2 - 2.3": "2.0.0",
        "1.0.0 - 2": "2.4.0",
        "~1.5 || 4.x": "4.1.0",
        ">=1.0, <2.1": "2.0.0",
    }
    with _catalog(registry, tmp_path) as catalog:
        for wanted, expected in cases.items():
            assert str(resolve(catalog, {f"{ns}/r": wanted}).versions[f"{ns}/r"]) == expected, wanted


def test_non_semver_tags_are_ignored_and_build_metadata_maps_back(ns, tmp_path, registry):
    from rigging.transfer import publish

    from tests.catalog_publish import write_package

    folder = write_package(tmp_path / "m", f"{ns}/m", "1.0.0+build.5")
    publish(str(folder), f"{registry.host}/{ns}/m", extra_tags=["latest", "stable"])
    with _catalog(registry, tmp_path) as catalog:
        assert [str(v) for v in catalog.versions(f"{ns}/m")] == ["1.0.0+build.5"]
        assert str(resolve(catalog, {f"{ns}/m": "^1"}).versions[f"{ns}/m"]) == "1.0.0+build.5"
