"""A CHANGELOG section drafted from the git commits that touched a package folder.

The commits since the package's previous release tag, grouped by Conventional Commits type into
Keep a Changelog's headings, so an author edits a draft rather than writing one from memory. git
runs as a program (argument lists, never a shell): the author's own git reads the repository
exactly as they see it, with their configuration (safe.directory, worktrees, alternates).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rigging.errors import RiggingError, UsageError
from rigging.versions import Version

BREAKING = "Breaking"
CHANGED = "Changed"
# Conventional Commits type -> heading; any other type, and a message without one, is Changed
TYPE_GROUPS = {"feat": "Added", "fix": "Fixed", "perf": "Performance"}
GROUP_ORDER = (BREAKING, "Added", CHANGED, "Fixed", "Performance")

# type(scope)!: summary — lenient on the spaces after the colon, as people type them
_SUBJECT = re.compile(r"^(?P<type>[A-Za-z][\w-]*)(?:\((?P<scope>[^()]*)\))?(?P<bang>!)?:\s+(?P<summary>\S.*)$")
# the spec's footer token, upper case as it requires (BREAKING-CHANGE is its synonym)
_BREAKING_FOOTER = re.compile(r"^BREAKING[ -]CHANGE:\s", re.MULTILINE)
# %x1e ends a record and %x1f separates fields: neither turns up in a commit message
_LOG_FORMAT = "%h%x1f%s%x1f%b%x1e"


@dataclass(frozen=True)
class Commit:
    hash: str  # abbreviated, as git abbreviates in this repository
    type: str | None  # the Conventional Commits type, lower case; None for a free-form message
    scope: str | None
    summary: str  # the subject without type and scope
    breaking: bool

    @property
    def group(self) -> str:
        if self.breaking:
            return BREAKING
        return TYPE_GROUPS.get(self.type or "", CHANGED)

    def as_dict(self) -> dict[str, Any]:
        return {
            "hash": self.hash,
            "type": self.type,
            "scope": self.scope,
            "summary": self.summary,
            "breaking": self.breaking,
            "group": self.group,
        }


def parse_commit(short_hash: str, subject: str, body: str) -> Commit:
    breaking = _BREAKING_FOOTER.search(body) is not None
    m = _SUBJECT.match(subject.strip())
    if m is None:
        return Commit(short_hash, None, None, subject.strip(), breaking)
    scope = (m.group("scope") or "").strip() or None
    return Commit(short_hash, m.group("type").lower(), scope, m.group("summary").strip(), breaking or bool(m["bang"]))


@dataclass(frozen=True)
class ReleaseNotes:
    name: str | None
    version: str | None
    unreleased: bool
    date: str | None  # UTC, ISO 8601; None for an Unreleased section
    since: str | None  # the tag (or revision) the commits follow; None: the whole history
    commits: tuple[Commit, ...]  # oldest first

    @property
    def heading(self) -> str:
        return "## Unreleased" if self.unreleased else f"## {self.version} - {self.date}"

    def groups(self) -> dict[str, list[Commit]]:
        """The non-empty groups, in GROUP_ORDER."""
        found: dict[str, list[Commit]] = {title: [] for title in GROUP_ORDER}
        for commit in self.commits:
            found[commit.group].append(commit)
        return {title: commits for title, commits in found.items() if commits}

    def markdown(self) -> str:
        lines = [self.heading, ""]
        groups = self.groups()
        if not groups:
            lines += [f"No changes since {self.since}." if self.since else "No commits touch this package yet.", ""]
        for title, commits in groups.items():
            lines += [f"### {title}", "", *(f"- {c.summary} ({c.hash})" for c in commits), ""]
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "unreleased": self.unreleased,
            "date": self.date,
            "since": self.since,
            "heading": self.heading,
            "commits": [c.as_dict() for c in self.commits],
            "groups": {title: [c.hash for c in commits] for title, commits in self.groups().items()},
            "markdown": self.markdown(),
        }


def draft(root: Path, *, since: str | None = None, unreleased: bool = False) -> ReleaseNotes:
    """The section for the package in `root`: its commits since `since`, or else since the newest
    release tag before its version that HEAD contains (all of them if there is none)."""
    name, version = _name_and_version(root, unreleased)
    git = _Git(root)
    if since is not None:
        start: str | None = git.revision(since)
    elif git.has_commits():
        since = previous_release(git.tags_in_head(), name, None if unreleased else version)
        start = git.revision(since) if since else None
    else:  # a repository with no commit yet: nothing to log, and `git log` would fail
        return ReleaseNotes(name, version, unreleased, None if unreleased else _today(), None, ())
    commits = git.log(start)
    return ReleaseNotes(name, version, unreleased, None if unreleased else _today(), since, commits)


def previous_release(tags: list[str], name: str | None, version: str | None) -> str | None:
    """The newest tag (by SemVer) that names a release of this package older than `version` (any
    release when None): `<last part of name>-v1.2.3` or `-1.2.3`, else `v1.2.3` or `1.2.3`.

    The package's own prefixed tags win whenever there are any: in a repository holding several
    packages, the bare `v…` tags belong to something else."""
    ceiling = Version.parse(version) if version else None
    prefix = f"{name.rsplit('/', 1)[-1]}-" if name else None
    own: list[tuple[Version, str]] = []
    plain: list[tuple[Version, str]] = []
    for tag in tags:
        if prefix and tag.startswith(prefix):
            found, into = _tag_version(tag[len(prefix) :]), own
        else:
            found, into = _tag_version(tag), plain
        if found is not None and (ceiling is None or found < ceiling):
            into.append((found, tag))
    candidates = own or plain
    return max(candidates, key=lambda pair: pair[0])[1] if candidates else None


def _tag_version(text: str) -> Version | None:
    try:
        return Version.parse(text.removeprefix("v"))
    except ValueError:
        return None


def _today() -> str:
    return datetime.now(UTC).date().isoformat()


def _name_and_version(root: Path, unreleased: bool) -> tuple[str | None, str | None]:
    path = root / "rigging.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RiggingError(f"{root}: no rigging.json here; give the package folder (or `rigging new` one)") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RiggingError(f"{path}: not valid JSON ({exc}); `rigging validate {root}` shows where") from None
    if not isinstance(manifest, dict):
        raise RiggingError(f"{path}: not a JSON object; `rigging validate {root}` explains the format")
    name, version = manifest.get("name"), manifest.get("version")
    name = name if isinstance(name, str) and name else None
    if not isinstance(version, str) or not version:
        if not unreleased:
            raise RiggingError(f'{path}: no "version"; add one (SemVer, e.g. 1.0.0) or draft with --unreleased')
        return name, None
    try:
        Version.parse(version)
    except ValueError:
        raise RiggingError(
            f"{path}: version {version!r} is not SemVer 2.0 (e.g. 1.2.0); fix it in rigging.json"
        ) from None
    return name, version


class _Git:
    """git run in the package folder, which is where its pathspec `.` points."""

    def __init__(self, root: Path) -> None:
        self.root = root
        program = shutil.which("git")
        if program is None:
            raise RiggingError("git not found on PATH; release notes are drafted from git history: install git")
        self.program = program
        # git's messages in English, so that "not a git repository" is recognised in any locale
        self.env = {**os.environ, "LC_ALL": "C"}
        inside = self._run("rev-parse", "--is-inside-work-tree", check=False)
        if inside.returncode != 0 or inside.stdout.strip() != "true":
            said = _first_line(inside.stderr)
            if inside.returncode == 0 or "not a git repository" in said:
                raise RiggingError(
                    f"{root}: not in a git repository; release notes come from the commits that touched "
                    "the package folder: run this in a clone of its repository"
                )
            raise RiggingError(f"{root}: git failed: {said}")

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        try:
            done = subprocess.run(
                # a signature check (log.showSignature) would print into the log's records
                [self.program, "-C", str(self.root), "-c", "log.showSignature=false", *args],
                capture_output=True,
                text=True,
                encoding="utf-8",
                errors="replace",
                env=self.env,
                timeout=60,
                check=False,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise RiggingError(f"{self.root}: could not run git ({exc})") from None
        if check and done.returncode != 0:
            raise RiggingError(f"{self.root}: git {args[0]} failed: {_first_line(done.stderr)}")
        return done

    def has_commits(self) -> bool:
        return self._run("rev-parse", "--verify", "--quiet", "HEAD^{commit}", check=False).returncode == 0

    def tags_in_head(self) -> list[str]:
        """The tags whose commits HEAD contains (an unmerged branch's tags are not this line's releases)."""
        out = self._run("for-each-ref", "--merged", "HEAD", "--format=%(refname:strip=2)", "refs/tags")
        return out.stdout.split()

    def revision(self, since: str) -> str:
        """The commit `since` names: a tag first (so a branch of the same name does not win), else
        any revision git knows, e.g. a commit of a release that was never tagged."""
        if not since or since.startswith("-"):  # never let it reach git as an option
            raise UsageError(f"--since {since!r}: give a tag, e.g. --since v1.2.0")
        for candidate in (f"refs/tags/{since}^{{commit}}", f"{since}^{{commit}}"):
            found = self._run("rev-parse", "--verify", "--quiet", candidate, check=False)
            if found.returncode == 0:
                return found.stdout.strip()
        raise UsageError(
            f"--since {since}: no such tag or commit in the repository of {self.root} (`git tag` lists the tags)"
        )

    def log(self, start: str | None) -> tuple[Commit, ...]:
        span = f"{start}..HEAD" if start else "HEAD"
        out = self._run(
            "log", "--no-merges", "--reverse", "--encoding=UTF-8", f"--format={_LOG_FORMAT}", span, "--", "."
        )
        commits = []
        for record in out.stdout.split("\x1e"):
            fields = record.lstrip("\n").split("\x1f")
            if len(fields) == 3:
                commits.append(parse_commit(*fields))
        return tuple(commits)


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "no message")


# -- CHANGELOG.md ------------------------------------------------------------------------------


def has_section(changelog: str, notes: ReleaseNotes) -> bool:
    """Whether the text already has a level-2 heading for this version (`## 1.2.0`, `## [1.2.0]`)."""
    title = "Unreleased" if notes.unreleased else re.escape(notes.version or "")
    return re.search(rf"^##\s+\[?v?{title}\]?(?=[\s\]]|$)", changelog, re.MULTILINE | re.IGNORECASE) is not None


def with_section(changelog: str | None, notes: ReleaseNotes) -> str:
    """The changelog with the section above its newest one: after the title and any preamble
    (a section above `# Changelog` would read as the title's predecessor)."""
    section = notes.markdown()
    if changelog is None:
        return f"# Changelog\n\n{section}"
    lines = changelog.splitlines(keepends=True)
    at = next((i for i, line in enumerate(lines) if line.startswith("## ")), None)
    if at is None:  # no section yet: after whatever there is
        return changelog.rstrip("\n") + "\n\n" + section if changelog.strip() else f"# Changelog\n\n{section}"
    return "".join(lines[:at]) + section + "\n" + "".join(lines[at:])


def add_to_changelog(root: Path, notes: ReleaseNotes) -> bool:
    """Write the section into root/CHANGELOG.md (made if absent); False, writing nothing, when the
    file already has a section for this version: the author's own words are never replaced."""
    from rigging.atomic_files import write_atomic

    path = root / "CHANGELOG.md"
    try:
        existing: str | None = path.read_text(encoding="utf-8")
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        existing, mode = None, 0o666 & ~_umask()
    except UnicodeDecodeError:
        raise RiggingError(f"{path}: not UTF-8 text; a package's files must be (fix its encoding)") from None
    if existing is not None and has_section(existing, notes):
        return False
    write_atomic(path, with_section(existing, notes).encode("utf-8"))
    os.chmod(path, mode)  # write_atomic's temp file is private (0600); the changelog keeps its mode
    return True


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
