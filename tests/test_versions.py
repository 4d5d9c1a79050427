from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rigging.names import name_problem
from rigging.paths import path_problem
from rigging.versions import Version, is_semver, tag_to_version, version_to_tag


@pytest.mark.parametrize(
    "text",
    [
        "0.0.0",
        "1.2.3",
        "1.0.0-alpha.1",
        "1.0.0+20130313144700",
        "1.0.0-beta+exp.sha.5114f85",
        "10.20.30-rc.1+build.123",
    ],
)
def test_valid_semver(text):
    assert is_semver(text) and str(Version.parse(text)) == text


@pytest.mark.parametrize("text", ["1", "1.0", "v1.0.0", "01.0.0", "1.0.0-", "1.0.0-01", "1.0.0+", "1.0.0 ", " 1.0.0"])
def test_invalid_semver(text):
    assert not is_semver(text)
    with pytest.raises(ValueError, match="not a SemVer"):
        Version.parse(text)


def test_precedence_follows_semver_spec_section_11():
    ordered = [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "2.0.0",
        "2.1.0",
        "2.1.1",
    ]
    parsed = [Version.parse(v) for v in ordered]
    assert sorted(reversed(parsed)) == parsed
    assert Version.parse("1.0.0+a") == Version.parse("1.0.0+b")  # build metadata has no precedence


def test_tags_carry_build_metadata_with_underscore():
    assert version_to_tag("1.0.0+build.7") == "1.0.0_build.7"
    assert tag_to_version("1.0.0_build.7") == Version.parse("1.0.0+build.7")
    assert tag_to_version("latest") is None


@given(st.tuples(st.integers(0, 10**6), st.integers(0, 10**6), st.integers(0, 10**6)))
def test_tag_round_trip(triple):
    text = "{}.{}.{}+b.1".format(*triple)
    assert str(tag_to_version(version_to_tag(text))) == text


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("acme/x", True),
        ("a-b/c.d_e", True),
        ("acme/x--y", True),
        ("Acme/x", False),
        ("acme", False),
        ("a/b/c", False),
        ("acme/-x", False),
        ("acme/x_", False),
        ("a" * 130 + "/x", False),
    ],
)
def test_names(name, ok):
    assert (name_problem(name) is None) == ok


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("rules/a.md", None),
        ("/etc/passwd", "absolute"),
        ("C:/x", "absolute"),
        ("rules/../../x", "traversal"),
        ("..", "traversal"),
        ("rules//a.md", "invalid"),
        ("rules\\a.md", "invalid"),
        ("./a", "invalid"),
    ],
)
def test_paths(path, problem):
    assert path_problem(path) == problem
