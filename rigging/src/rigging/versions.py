"""Strict SemVer 2.0.0 versions and the version <-> OCI tag mapping.

The grammar is semver.org's; it is small and fixed, and parsing it here keeps the CLI's start-up
free of a 25 ms library import on every command that reads a manifest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from rigging.version_syntax import SEMVER
from rigging.version_syntax import is_semver as is_semver
from rigging.version_syntax import version_to_tag as version_to_tag


@dataclass(frozen=True, order=False)
class Version:
    major: int
    minor: int
    patch: int
    prerelease: tuple[str, ...] = ()
    build: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def parse(cls, text: str) -> Version:
        m = SEMVER.match(text)
        if m is None:
            raise ValueError(f"{text!r} is not a SemVer 2.0 version")
        pre = tuple(m.group(4).split(".")) if m.group(4) else ()
        build = tuple(m.group(5).split(".")) if m.group(5) else ()
        return cls(int(m.group(1)), int(m.group(2)), int(m.group(3)), pre, build)

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += "-" + ".".join(self.prerelease)
        if self.build:
            text += "+" + ".".join(self.build)
        return text

    @cached_property
    def _key(self) -> tuple:
        # SemVer §11: a pre-release sorts before its release; numeric identifiers sort
        # numerically and before alphanumeric ones.
        if not self.prerelease:
            pre_key: tuple = (1,)
        else:
            pre_key = (0, *((0, int(p), "") if p.isdigit() else (1, 0, p) for p in self.prerelease))
        return (self.major, self.minor, self.patch, pre_key)

    def __lt__(self, other: Version) -> bool:
        return self._key < other._key

    def __le__(self, other: Version) -> bool:
        return self._key <= other._key

    def __gt__(self, other: Version) -> bool:
        return self._key > other._key

    def __ge__(self, other: Version) -> bool:
        return self._key >= other._key


def tag_to_version(tag: str) -> Version | None:
    """The version a tag names, or None for a tag that is not one of ours (e.g. 'latest')."""
    try:
        return Version.parse(tag.replace("_", "+", 1))
    except ValueError:
        return None
