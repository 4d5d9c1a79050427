"""Dependency resolution: PubGrub (as in Dart's pub and uv), over bitsets of each package's
known versions.

Version sets are masks over the versions a registry actually has, so set algebra is exact and
cheap; a range is turned into a mask once per package. Failures are explained from the
derivation graph as a chain of causes. pip's resolvelib took 4.3 s on the 2,000-package
benchmark catalogue; this takes milliseconds (bench/install.py, part a).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from rigging.errors import RiggingError
from rigging.ranges import RangeError, parse_range
from rigging.versions import Version

ROOT = "<project>"
DEFAULT_MAX_DEPTH = 20


class Catalog(Protocol):
    def versions(self, name: str) -> list[Version]:
        """Every version the registry has, ascending (pre-releases included)."""
        ...

    def dependencies(self, name: str, version: Version) -> dict[str, str]:
        """name -> range text of one version's dependencies."""
        ...

    def prefetch(self, names: Iterable[str]) -> None:
        """A hint that these packages will be asked about soon (fetch them concurrently)."""
        ...

    def ready(self, name: str) -> bool:
        """Whether asking about `name` now would not wait for the network."""
        ...


class ResolutionError(RiggingError):
    pass


@dataclass(frozen=True)
class Term:
    package: str
    mask: int
    positive: bool
    text: str | None = None  # the range as the user wrote it, when mask is exactly that range

    def inverse(self) -> Term:
        return Term(self.package, self.mask, not self.positive, self.text)


@dataclass(eq=False)
class Incompatibility:
    terms: list[Term]
    kind: str  # root | dependency | no-versions | derived
    left: Incompatibility | None = None
    right: Incompatibility | None = None

    def term(self, package: str) -> Term | None:
        return next((t for t in self.terms if t.package == package), None)


@dataclass(eq=False)
class Assignment:
    term: Term
    level: int
    index: int
    cause: Incompatibility | None  # None for a decision
    version: Version | None = None


@dataclass
class Resolution:
    versions: dict[str, Version]
    dependencies: dict[str, dict[str, str]]  # package -> {dep: range}
    parents: dict[str, str] = field(default_factory=dict)


class _Universe:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.versions: dict[str, list[Version]] = {}
        self.index: dict[str, dict[Version, int]] = {}
        self.full: dict[str, int] = {}
        self._masks: dict[tuple[str, str], int] = {}

    def load(self, name: str) -> None:
        if name in self.versions:
            return
        versions = [Version(0, 0, 0)] if name == ROOT else sorted(set(self.catalog.versions(name)))
        self.versions[name] = versions
        self.index[name] = {v: i for i, v in enumerate(versions)}
        self.full[name] = (1 << len(versions)) - 1

    def mask(self, name: str, text: str, requirer: str) -> int:
        key = (name, text)
        if key not in self._masks:
            self.load(name)
            try:
                allowed = parse_range(text)
            except RangeError as exc:
                raise ResolutionError(f"{requirer} depends on {name} {text!r}: {exc}") from None
            mask = 0
            for i, v in enumerate(self.versions[name]):
                if allowed.allows(v):
                    mask |= 1 << i
            self._masks[key] = mask
        return self._masks[key]

    def exact(self, name: str, version: Version) -> int:
        return 1 << self.index[name][version]

    def render(self, term: Term) -> str:
        if term.text is not None and self._masks.get((term.package, term.text)) == term.mask:
            return term.text
        versions = self.versions.get(term.package, [])
        mask = term.mask & self.full.get(term.package, 0)
        if mask == self.full.get(term.package) and len(versions) > 1:
            return "any version"
        runs: list[tuple[int, int]] = []
        for i in range(len(versions)):
            if mask >> i & 1:
                if runs and runs[-1][1] == i - 1:
                    runs[-1] = (runs[-1][0], i)
                else:
                    runs.append((i, i))
        parts = []
        for lo, hi in runs:
            if lo == hi:
                parts.append(str(versions[lo]))
            elif hi == len(versions) - 1:
                parts.append(f">={versions[lo]}")
            elif lo == 0:
                parts.append(f"<={versions[hi]}")
            else:
                parts.append(f">={versions[lo]}, <={versions[hi]}")
        return " || ".join(parts) if parts else "no version"


def _intersect(a: Term, b: Term, full: int) -> Term:
    if a.positive and b.positive:
        return Term(a.package, a.mask & b.mask, True)
    if a.positive:
        return Term(a.package, a.mask & ~b.mask & full, True)
    if b.positive:
        return Term(a.package, b.mask & ~a.mask & full, True)
    return Term(a.package, a.mask | b.mask, False)


def _subset(a: Term, b: Term) -> bool:
    """Every selection a allows, b allows too."""
    if a.positive and b.positive:
        return a.mask & ~b.mask == 0
    if a.positive:
        return a.mask & b.mask == 0
    if b.positive:
        return False
    return b.mask & ~a.mask == 0


def _disjoint(a: Term, b: Term) -> bool:
    if a.positive and b.positive:
        return a.mask & b.mask == 0
    if a.positive:
        return a.mask & ~b.mask == 0
    if b.positive:
        return b.mask & ~a.mask == 0
    return False


class _Solver:
    def __init__(
        self, catalog: Catalog, requirements: dict[str, str], max_depth: int, preferred: dict[str, Version] | None
    ) -> None:
        self.catalog = catalog
        self.universe = _Universe(catalog)
        self.max_depth = max_depth
        self.preferred = preferred or {}
        self.incompatibilities: dict[str, list[Incompatibility]] = {}
        self.assignments: list[Assignment] = []
        self.accumulated: dict[str, Term] = {}
        self.decisions: dict[str, Version] = {}
        self.pending: dict[str, None] = {}  # packages with a positive derivation, in order
        self.dependencies: dict[str, dict[str, str]] = {ROOT: dict(requirements)}
        self.parents: dict[str, str] = {}
        self.depth: dict[str, int] = {ROOT: 0}
        self.derived_by: dict[str, Incompatibility] = {}
        self.universe.load(ROOT)

    # -- partial solution ------------------------------------------------------------------

    def _level(self) -> int:
        return len(self.decisions)

    def _assign(self, term: Term, cause: Incompatibility | None, version: Version | None = None) -> None:
        full = self.universe.full[term.package]
        previous = self.accumulated.get(term.package)
        self.accumulated[term.package] = term if previous is None else _intersect(previous, term, full)
        if cause is None:
            self.decisions[term.package] = version  # type: ignore[assignment]
        elif term.positive:
            self.derived_by[term.package] = cause
        self.assignments.append(Assignment(term, self._level(), len(self.assignments), cause, version))
        if self.accumulated[term.package].positive and term.package not in self.decisions:
            self.pending[term.package] = None

    def _backtrack(self, level: int) -> None:
        """Drop every assignment made above decision `level` and rebuild the bookkeeping."""
        kept = [a for a in self.assignments if a.level <= level]
        self.assignments, self.accumulated, self.decisions, self.pending = [], {}, {}, {}
        for assignment in kept:
            self._assign(assignment.term, assignment.cause, assignment.version)

    def _relation(self, term: Term) -> str:
        have = self.accumulated.get(term.package)
        if have is None:
            return "overlap"
        if _subset(have, term):
            return "satisfied"
        if _disjoint(have, term):
            return "disjoint"
        return "overlap"

    def _satisfier(self, term: Term) -> Assignment:
        full = self.universe.full[term.package]
        have: Term | None = None
        for assignment in self.assignments:
            if assignment.term.package != term.package:
                continue
            have = assignment.term if have is None else _intersect(have, assignment.term, full)
            if _subset(have, term):
                return assignment
        raise AssertionError(f"no satisfier for {term}")

    # -- incompatibilities -----------------------------------------------------------------

    def _make(
        self,
        terms: Iterable[Term],
        kind: str,
        left: Incompatibility | None = None,
        right: Incompatibility | None = None,
    ) -> Incompatibility:
        merged: dict[str, Term] = {}
        for term in terms:
            if term.package in merged:
                merged[term.package] = _intersect(merged[term.package], term, self.universe.full[term.package])
            else:
                merged[term.package] = term
        kept = list(merged.values())
        if kind == "derived":  # "not in the empty set" always holds, so it adds nothing to a derived clause
            kept = [t for t in kept if t.positive or t.mask != 0]
        return Incompatibility(kept, kind, left, right)

    def _add(self, incompatibility: Incompatibility) -> None:
        for term in incompatibility.terms:
            self.incompatibilities.setdefault(term.package, []).append(incompatibility)

    def _is_failure(self, incompatibility: Incompatibility) -> bool:
        terms = incompatibility.terms
        return not terms or (len(terms) == 1 and terms[0].package == ROOT and terms[0].positive)

    # -- the algorithm ---------------------------------------------------------------------

    def solve(self) -> Resolution:
        self._add(Incompatibility([Term(ROOT, 1, False)], "root"))
        self._assign(Term(ROOT, 1, True), None, Version(0, 0, 0))
        self.pending.pop(ROOT, None)
        self._add_dependencies(ROOT, Version(0, 0, 0))
        following: str | None = ROOT
        while following is not None:
            self._propagate(following)
            following = self._decide()
        versions = {p: v for p, v in self.decisions.items() if p != ROOT}
        return Resolution(versions, {p: self.dependencies.get(p, {}) for p in [ROOT, *versions]}, self.parents)

    def _add_dependencies(self, package: str, version: Version) -> list[Incompatibility]:
        deps = self.dependencies[package] if package == ROOT else self.catalog.dependencies(package, version)
        self.dependencies[package] = dict(deps)
        self.catalog.prefetch(deps)
        added = []
        requirer = "the project" if package == ROOT else f"{package} {version}"
        for name, text in sorted(deps.items()):
            self.universe.load(name)
            mask = self.universe.mask(name, text, requirer)
            incompatibility = self._make(
                [Term(package, self.universe.exact(package, version), True), Term(name, mask, False, text)],
                "dependency",
            )
            self._add(incompatibility)
            added.append(incompatibility)
        return added

    def _propagate(self, package: str) -> None:
        changed = [package]
        while changed:
            current = changed.pop()
            for incompatibility in reversed(self.incompatibilities.get(current, [])):
                result = self._propagate_one(incompatibility)
                if result == "conflict":
                    root_cause = self._resolve_conflict(incompatibility)
                    again = self._propagate_one(root_cause)
                    assert again not in ("conflict", None), "a learned clause must propagate"
                    changed = [again]
                    break
                if result is not None:
                    changed.append(result)

    def _propagate_one(self, incompatibility: Incompatibility) -> str | None:
        unsatisfied: Term | None = None
        for term in incompatibility.terms:
            relation = self._relation(term)
            if relation == "disjoint":
                return None
            if relation == "overlap":
                if unsatisfied is not None:
                    return None
                unsatisfied = term
        if unsatisfied is None:
            return "conflict"
        self._assign(unsatisfied.inverse(), incompatibility)
        return unsatisfied.package

    def _resolve_conflict(self, incompatibility: Incompatibility) -> Incompatibility:
        new = False
        while not self._is_failure(incompatibility):
            recent_term: Term | None = None
            recent: Assignment | None = None
            difference: Term | None = None
            previous_level = 1
            for term in incompatibility.terms:
                satisfier = self._satisfier(term)
                if recent is None:
                    recent_term, recent = term, satisfier
                elif recent.index < satisfier.index:
                    previous_level = max(previous_level, recent.level)
                    recent_term, recent, difference = term, satisfier, None
                else:
                    previous_level = max(previous_level, satisfier.level)
                if recent_term is term:
                    full = self.universe.full[term.package]
                    diff = _intersect(recent.term, term.inverse(), full)
                    difference = diff if not (diff.positive and diff.mask == 0) else None
                    if difference is not None:
                        previous_level = max(previous_level, self._satisfier(difference.inverse()).level)
            assert recent is not None and recent_term is not None
            if previous_level < recent.level or recent.cause is None:
                self._backtrack(previous_level)
                if new:
                    self._add(incompatibility)
                return incompatibility
            terms = [t for t in incompatibility.terms if t is not recent_term]
            terms += [t for t in recent.cause.terms if t.package != recent.term.package]
            if difference is not None:
                terms.append(difference.inverse())
            incompatibility = self._make(terms, "derived", incompatibility, recent.cause)
            new = True
        raise ResolutionError(self._explain(incompatibility))

    def _next_pending(self) -> str:
        """The newest pending package whose metadata is at hand, else the newest one.

        Deciding what is already fetched lets the other fetches run meanwhile, so independent
        branches of the graph are read from the registry in parallel rather than one by one.
        """
        for package in reversed(self.pending):
            if self.catalog.ready(package):
                return package
        return next(reversed(self.pending))

    def _decide(self) -> str | None:
        while self.pending:
            package = self._next_pending()
            term = self.accumulated[package]
            if package in self.decisions or not term.positive:
                self.pending.pop(package)
                continue
            versions = self.universe.versions[package]
            allowed = term.mask
            if allowed == 0:
                self._add(self._make([term], "no-versions"))
                return package
            choice = self.preferred.get(package)
            if (
                choice is None
                or choice not in self.universe.index[package]
                or not (allowed >> self.universe.index[package][choice] & 1)
            ):
                choice = self._newest(versions, allowed)
            self._check_depth(package)
            added = self._add_dependencies(package, choice)
            conflict = any(
                all(t.package == package or self._relation(t) == "satisfied" for t in inc.terms) for inc in added
            )
            if not conflict:
                self._assign(Term(package, self.universe.exact(package, choice), True), None, choice)
                self.pending.pop(package, None)
            return package
        return None

    @staticmethod
    def _newest(versions: list[Version], allowed: int) -> Version:
        """The newest allowed release, else the newest allowed pre-release."""
        best_pre = None
        for i in range(len(versions) - 1, -1, -1):
            if allowed >> i & 1:
                if not versions[i].prerelease:
                    return versions[i]
                best_pre = best_pre or versions[i]
        assert best_pre is not None
        return best_pre

    def _check_depth(self, package: str) -> None:
        if package not in self.parents:
            cause = self.derived_by.get(package)
            parent = next((t.package for t in cause.terms if t.package != package), ROOT) if cause else ROOT
            self.parents[package] = parent
            self.depth[package] = self.depth.get(parent, 0) + 1
        if self.depth[package] > self.max_depth:
            chain = [package]
            while chain[-1] != ROOT and len(chain) <= self.max_depth + 1:
                chain.append(self.parents.get(chain[-1], ROOT))
            path = " -> ".join(p for p in reversed(chain) if p != ROOT)
            raise ResolutionError(
                f"dependency chain deeper than {self.max_depth} levels ({path} -> ...); "
                "raise the limit with --max-depth or resolver.maxDepth in rigging.json"
            )

    # -- explanation -----------------------------------------------------------------------

    def _name(self, package: str) -> str:
        return "the project" if package == ROOT else package

    def _term_text(self, term: Term) -> str:
        if term.package == ROOT:
            return "the project"
        return f"{term.package} {self.universe.render(term)}"

    def _describe(self, incompatibility: Incompatibility) -> str:
        terms = incompatibility.terms
        if incompatibility.kind == "dependency":
            depender = next(t for t in terms if t.positive)
            dependee = next(t for t in terms if not t.positive)
            who = "the project" if depender.package == ROOT else self._term_text(depender)
            verb = "depends on" if depender.package == ROOT else "needs"
            wanted = dependee.text or self.universe.render(dependee)
            if dependee.mask == 0:
                if self.universe.full.get(dependee.package, 0) == 0:
                    return f"{who} {verb} {dependee.package}, which the registry does not have"
                published = ", ".join(str(v) for v in self.universe.versions[dependee.package][-5:])
                return f"{who} {verb} {dependee.package} {wanted}, which no published version matches ({published})"
            return f"{who} {verb} {dependee.package} {wanted}"
        if incompatibility.kind == "no-versions":
            term = terms[0]
            if self.universe.full.get(term.package, 0) == 0:
                return f"no versions of {term.package} exist in the registry"
            return f"no versions of {term.package} match {self.universe.render(term)}"
        if self._is_failure(incompatibility):
            return "no set of versions satisfies the project"
        positive = [t for t in terms if t.positive and t.package != ROOT]
        negative = [t for t in terms if not t.positive]
        root = any(t.package == ROOT and t.positive for t in terms)
        if root and len(negative) == 1 and not positive:
            return f"the project needs {negative[0].package} {self.universe.render(negative[0].inverse())}"
        if root and len(positive) == 1 and not negative:
            return f"the project cannot use {self._term_text(positive[0])}"
        if len(positive) == 1 and not negative:
            return f"{self._term_text(positive[0])} cannot be used"
        if len(positive) == 2 and not negative:
            return f"{self._term_text(positive[0])} and {self._term_text(positive[1])} cannot be used together"
        if len(positive) == 1 and len(negative) == 1:
            return f"{self._term_text(positive[0])} needs {negative[0].package} {self.universe.render(negative[0])}"
        return "these cannot all hold: " + ", ".join(("" if t.positive else "not ") + self._term_text(t) for t in terms)

    def _explain(self, failure: Incompatibility) -> str:
        lines: list[str] = []
        seen: set[int] = set()

        def visit(incompatibility: Incompatibility) -> None:
            if incompatibility.kind != "derived" or id(incompatibility) in seen:
                return
            seen.add(id(incompatibility))
            assert incompatibility.left is not None and incompatibility.right is not None
            visit(incompatibility.left)
            visit(incompatibility.right)
            left, right = self._describe(incompatibility.left), self._describe(incompatibility.right)
            because = left if left == right else f"{left} and {right}"
            lines.append(f"because {because}, {self._describe(incompatibility)}")

        visit(failure)
        if not lines:
            lines.append(self._describe(failure))
        return "cannot resolve dependencies: " + "; ".join(lines)


def resolve(
    catalog: Catalog,
    requirements: dict[str, str],
    *,
    max_depth: int = DEFAULT_MAX_DEPTH,
    preferred: dict[str, Version] | None = None,
) -> Resolution:
    """The newest versions satisfying every constraint, one per package, or ResolutionError."""
    resolution = _Solver(catalog, requirements, max_depth, preferred).solve()
    _check_cycles(resolution)
    return resolution


def _check_cycles(resolution: Resolution) -> None:
    state: dict[str, int] = {}  # 1 on the path, 2 done
    path: list[str] = []

    def visit(package: str) -> None:
        state[package] = 1
        path.append(package)
        for dep in sorted(resolution.dependencies.get(package, {})):
            if dep not in resolution.versions:
                continue
            if state.get(dep) == 1:
                cycle = [*path[path.index(dep) :], dep]
                shown = " -> ".join(
                    f"{p} {resolution.versions[p]}" if i < len(cycle) - 1 else p for i, p in enumerate(cycle)
                )
                raise ResolutionError(f"dependency cycle: {shown}; remove one of these dependencies")
            if dep not in state:
                visit(dep)
        path.pop()
        state[package] = 2

    for package in sorted(resolution.versions):
        if package not in state:
            visit(package)
