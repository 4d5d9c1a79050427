"""The resolver in memory: the algorithm's cases, quickly and exhaustively."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rigging.catalog_memory import MemoryCatalog
from rigging.ranges import Range
from rigging.resolver import Resolution, ResolutionError, resolve
from rigging.versions import Version


def versions(resolution):
    return {name: str(v) for name, v in resolution.versions.items()}


def _allows(text: str, version: Version) -> bool:
    return Range.parse(text).allows(version)


def assert_solution(catalog: MemoryCatalog, root: dict[str, str], resolution: Resolution) -> None:
    """Every range holds, and every chosen package is needed by the project or a chosen package."""
    chosen = resolution.versions
    needed = set(root)
    for name, wanted in root.items():
        assert name in chosen and _allows(wanted, chosen[name]), (name, wanted, chosen.get(name))
    for name, version in chosen.items():
        assert version in catalog.versions(name), f"{name} {version} is not published"
        for dep, wanted in catalog.dependencies(name, version).items():
            needed.add(dep)
            assert dep in chosen and _allows(wanted, chosen[dep]), (name, str(version), dep, wanted, chosen.get(dep))
    assert set(chosen) == needed, f"packages nobody asked for: {set(chosen) - needed}"


def brute_force_solvable(catalog: MemoryCatalog, root: dict[str, str]) -> bool:
    """Whether any choice (each package left out or at one published version) satisfies every range."""
    names = sorted(catalog.packages)
    options = [[None, *catalog.versions(name)] for name in names]
    for choice in itertools.product(*options):
        picked = {name: v for name, v in zip(names, choice, strict=True) if v is not None}

        def holds(deps: dict[str, str], picked: dict[str, Version] = picked) -> bool:
            return all(dep in picked and _allows(wanted, picked[dep]) for dep, wanted in deps.items())

        if holds(root) and all(holds(catalog.dependencies(n, v)) for n, v in picked.items()):
            return True
    return False


def test_backtracks_to_an_older_version_when_the_newest_conflicts():
    catalog = MemoryCatalog(
        {
            "a/a": {"1.0.0": {"a/b": "^1"}, "2.0.0": {"a/b": "^2"}},
            "a/b": {"1.0.0": {}, "2.0.0": {}},
            "a/c": {"1.0.0": {"a/b": "^1"}},
        }
    )
    assert versions(resolve(catalog, {"a/a": "*", "a/c": "^1"})) == {"a/a": "1.0.0", "a/b": "1.0.0", "a/c": "1.0.0"}


def test_backjumps_over_many_versions():
    catalog = MemoryCatalog(
        {
            "a/a": {f"{i}.0.0": {"a/b": f"^{i}"} for i in range(1, 30)},
            "a/b": {f"{i}.0.0": {} for i in range(1, 30)},
            "a/c": {"1.0.0": {"a/b": "<=2"}},
        }
    )
    assert versions(resolve(catalog, {"a/a": "*", "a/c": "^1"})) == {"a/a": "2.0.0", "a/b": "2.0.0", "a/c": "1.0.0"}


def test_preferred_versions_are_kept_when_they_still_fit():
    catalog = MemoryCatalog({"a/a": {"1.0.0": {}, "1.1.0": {}, "1.2.0": {}}})
    assert versions(resolve(catalog, {"a/a": "^1"}, preferred={"a/a": Version.parse("1.1.0")})) == {"a/a": "1.1.0"}
    assert versions(resolve(catalog, {"a/a": "^1.2"}, preferred={"a/a": Version.parse("1.1.0")})) == {"a/a": "1.2.0"}


def test_conflict_explains_the_chain_of_causes():
    catalog = MemoryCatalog(
        {
            "x/a": {"2.0.0": {"x/b": "^3"}},
            "x/c": {"1.0.0": {"x/b": "^2"}},
            "x/b": {"2.0.0": {}, "3.0.0": {}},
        }
    )
    with pytest.raises(ResolutionError) as failure:
        resolve(catalog, {"x/a": "^2", "x/c": "^1"})
    message = str(failure.value)
    assert "because x/a 2.0.0 needs x/b ^3 and x/c 1.0.0 needs x/b ^2" in message
    assert "x/a 2.0.0 and x/c 1.0.0 cannot be used together" in message
    assert "the project depends on x/a ^2" in message and "the project depends on x/c ^1" in message


def test_missing_package_and_unmatched_range_are_explained():
    with pytest.raises(ResolutionError, match="x/zz, which the registry does not have"):
        resolve(MemoryCatalog({"x/a": {"1.0.0": {"x/zz": "^1"}}}), {"x/a": "^1"})
    with pytest.raises(ResolutionError, match=r"x/a \^2, which no published version matches \(1.0.0\)"):
        resolve(MemoryCatalog({"x/a": {"1.0.0": {}}}), {"x/a": "^2"})


@given(st.data())
@settings(max_examples=200, deadline=None)
def test_any_answer_satisfies_every_constraint(data):
    """Random catalogues: whatever resolve returns honours every range; a failure is a ResolutionError."""
    names = [f"p/p{i}" for i in range(5)]
    packages = {}
    for name in names:
        count = data.draw(st.integers(1, 4))
        packages[name] = {}
        for major in range(1, count + 1):
            later = [n for n in names if n > name]
            deps = (
                data.draw(
                    st.dictionaries(
                        st.sampled_from(later),
                        st.sampled_from(["^1", "^2", ">=1, <3", "*", "^3 || ^1", "1.0.0 - 2"]),
                        max_size=2,
                    )
                )
                if later
                else {}
            )
            packages[name][f"{major}.0.0"] = deps
    root = data.draw(st.dictionaries(st.sampled_from(names), st.sampled_from(["*", "^1", "^2", ">=2"]), min_size=1))
    catalog = MemoryCatalog(packages)
    try:
        resolution = resolve(catalog, root)
    except ResolutionError as failure:
        # a refusal is right only when no choice of versions at all would do (checked exhaustively)
        assert not brute_force_solvable(catalog, root), f"refused a solvable catalogue: {failure}"
        assert str(failure).startswith("cannot resolve dependencies: ")
        return
    assert_solution(catalog, root, resolution)


@given(st.data())
@settings(max_examples=100, deadline=None)
def test_a_satisfiable_catalogue_is_always_solved(data):
    """Plant one valid assignment; the resolver must find a solution (not necessarily that one).

    The project asks for any version of the first two packages, so the resolver starts from the
    newest versions, whose dependencies are random: most catalogues make it backtrack out of a
    conflict it finds only after deciding other packages (about two in three here)."""
    names = [f"q/q{i}" for i in range(6)]
    planted = {name: data.draw(st.integers(1, 4)) for name in names}
    packages = {}
    for name in names:
        packages[name] = {}
        for major in range(1, 5):
            deps = {}
            for other in names:
                if other > name and data.draw(st.booleans()):
                    # the planted version of `name` accepts the planted version of `other`
                    deps[other] = f"^{planted[other]}" if major == planted[name] else f"^{data.draw(st.integers(1, 4))}"
            packages[name][f"{major}.0.0"] = deps
    root = {name: "*" for name in names[:2]}
    catalog = MemoryCatalog(packages)
    assert_solution(catalog, root, resolve(catalog, root))
