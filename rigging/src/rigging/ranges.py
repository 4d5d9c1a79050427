"""SemVer ranges in npm's grammar (which Cargo's comparators are a subset of):
`^1.2.3`, `~1.2`, `=1.2.3`, `>=1.0, <2` (comma or space), `1.x`, `*`, `1.2.3 - 2.0`, `a || b`.

A bare version means exactly that version, as in npm. Pre-releases match only when a
comparator in the same set names the same MAJOR.MINOR.PATCH with a pre-release (npm's rule), so
`^1.0.0` never picks `1.1.0-beta` but `^1.1.0-beta.1` may pick `1.1.0-beta.2`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from rigging.versions import Version

_PARTIAL = re.compile(
    r"^v?(?P<major>0|[1-9]\d*|[xX*])"
    r"(?:\.(?P<minor>0|[1-9]\d*|[xX*]))?"
    r"(?:\.(?P<patch>0|[1-9]\d*|[xX*]))?"
    r"(?:-(?P<pre>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
    r"(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$"
)
_OPERATOR = re.compile(r"^(\^|~>?|>=|<=|>|<|=)?\s*(.*)$")
_WILD = ("x", "X", "*", None)


class RangeError(ValueError):
    pass


@dataclass(frozen=True)
class Comparator:
    op: str  # one of >=, >, <=, <, =
    version: Version

    def test(self, v: Version) -> bool:
        if self.op == ">=":
            return v >= self.version
        if self.op == ">":
            return v > self.version
        if self.op == "<=":
            return v <= self.version
        if self.op == "<":
            return v < self.version
        return v == self.version and v.prerelease == self.version.prerelease


def _partial(text: str) -> tuple[int | None, int | None, int | None, tuple[str, ...]]:
    m = _PARTIAL.match(text)
    if m is None:
        raise RangeError(f"{text!r} is not a version or partial version")
    parts: list[int | None] = []
    for key in ("major", "minor", "patch"):
        value = m.group(key)
        parts.append(None if value in _WILD else int(value))
    # anything after a wildcard is a wildcard too (1.x.3 means 1.x)
    for i in range(1, 3):
        if parts[i - 1] is None:
            parts[i] = None
    pre = tuple(m.group("pre").split(".")) if m.group("pre") and parts[2] is not None else ()
    return parts[0], parts[1], parts[2], pre


def _v(major: int, minor: int = 0, patch: int = 0, pre: tuple[str, ...] = ()) -> Version:
    return Version(major, minor, patch, pre)


def _expand(op: str | None, text: str) -> list[Comparator]:
    major, minor, patch, pre = _partial(text)
    if major is None:
        return [] if op in (None, "=", ">=", "<=", "^", "~", "~>") else [Comparator("<", _v(0))]
    if op in ("~", "~>"):
        low = _v(major, minor or 0, patch or 0, pre)
        high = _v(major + 1) if minor is None else _v(major, minor + 1)
        return [Comparator(">=", low), Comparator("<", high)]
    if op == "^":
        low = _v(major, minor or 0, patch or 0, pre)
        if major > 0 or minor is None:
            high = _v(major + 1)
        elif minor > 0 or patch is None:
            high = _v(0, minor + 1)
        else:
            high = _v(0, 0, patch + 1)
        return [Comparator(">=", low), Comparator("<", high)]
    if op in (None, "="):
        if minor is None:
            return [Comparator(">=", _v(major)), Comparator("<", _v(major + 1))]
        if patch is None:
            return [Comparator(">=", _v(major, minor)), Comparator("<", _v(major, minor + 1))]
        return [Comparator("=", _v(major, minor, patch, pre))]
    # >, >=, <, <= with partial versions, as npm reads them
    if op == ">":
        if minor is None:
            return [Comparator(">=", _v(major + 1))]
        if patch is None:
            return [Comparator(">=", _v(major, minor + 1))]
        return [Comparator(">", _v(major, minor, patch, pre))]
    if op == ">=":
        return [Comparator(">=", _v(major, minor or 0, patch or 0, pre))]
    if op == "<":
        return [Comparator("<", _v(major, minor or 0, patch or 0, pre))]
    # <=
    if minor is None:
        return [Comparator("<", _v(major + 1))]
    if patch is None:
        return [Comparator("<", _v(major, minor + 1))]
    return [Comparator("<=", _v(major, minor, patch, pre))]


def _hyphen(low: str, high: str) -> list[Comparator]:
    lo = _expand(">=", low)
    major, minor, patch, pre = _partial(high)
    if major is None:
        hi: list[Comparator] = []
    elif minor is None:
        hi = [Comparator("<", _v(major + 1))]
    elif patch is None:
        hi = [Comparator("<", _v(major, minor + 1))]
    else:
        hi = [Comparator("<=", _v(major, minor, patch, pre))]
    return lo + hi


@dataclass(frozen=True)
class Range:
    text: str
    sets: tuple[tuple[Comparator, ...], ...]

    @classmethod
    def parse(cls, text: str) -> Range:
        source = text.strip()
        if not source:
            raise RangeError("empty range (use * for any version)")
        sets = []
        for alternative in source.split("||"):
            part = alternative.strip()
            hyphen = re.match(r"^(\S+)\s+-\s+(\S+)$", part)
            if hyphen:
                sets.append(tuple(_hyphen(hyphen.group(1), hyphen.group(2))))
                continue
            comparators: list[Comparator] = []
            tokens = re.sub(r"(\^|~>?|>=|<=|>|<|=)\s+", r"\1", part.replace(",", " ")).split()
            if not tokens:
                tokens = ["*"]
            for token in tokens:
                m = _OPERATOR.match(token)
                assert m is not None  # the pattern matches any string
                op, rest = m.group(1), m.group(2)
                comparators.extend(_expand(op, rest))
            sets.append(tuple(comparators))
        return cls(source, tuple(sets))

    def allows(self, v: Version) -> bool:
        for comparators in self.sets:
            if not all(c.test(v) for c in comparators):
                continue
            if not v.prerelease:
                return True
            if any(
                c.version.prerelease
                and (c.version.major, c.version.minor, c.version.patch) == (v.major, v.minor, v.patch)
                for c in comparators
            ):
                return True
        return False

    def __str__(self) -> str:
        return self.text


@lru_cache(maxsize=4096)
def parse_range(text: str) -> Range:
    """Parsed once per distinct text: catalogues repeat the same few ranges many times."""
    return Range.parse(text)
