"""`rigging release-notes` and `publish --release-notes`, against real git repositories: the
commits that touched the package folder since its previous release tag, grouped by Conventional
Commits type; commits elsewhere in the repository, and merges, are not the package's news."""

from __future__ import annotations

import json
import os
import re
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rigging.release_notes import ReleaseNotes, has_section, parse_commit, previous_release, with_section

from tests.packages import make_package


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    """For the helpers' git and the git rigging runs: one identity, no user or system git
    configuration, no folder above tmp_path taken for a repository; and rigging's own state
    kept in tmp_path."""
    return {
        "GIT_AUTHOR_NAME": "Ada Lovelace",
        "GIT_AUTHOR_EMAIL": "ada@example.com",
        "GIT_COMMITTER_NAME": "Ada Lovelace",
        "GIT_COMMITTER_EMAIL": "ada@example.com",
        "GIT_CONFIG_GLOBAL": str(tmp_path / "no-gitconfig"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CEILING_DIRECTORIES": str(tmp_path),
        "RIGGING_CACHE_DIR": str(tmp_path / "cache"),
        "DOCKER_CONFIG": str(tmp_path / "docker"),
        "RIGGING_INDEX_URL": "",
    }


# `-c` as well as the environment: the helpers' commits need no configuration from the machine
IDENTITY = (
    *("-c", "user.name=Ada Lovelace", "-c", "user.email=ada@example.com"),
    *("-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"),
)


class Repo:
    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root, self.env, self.clock = root, env, 1_700_000_000
        root.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str, input: str | None = None) -> str:
        # a minute between commits: git orders by date, and commits in one second tie
        self.clock += 60
        dates = {"GIT_AUTHOR_DATE": f"@{self.clock} +0000", "GIT_COMMITTER_DATE": f"@{self.clock} +0000"}
        done = subprocess.run(
            ["git", *IDENTITY, *args],
            cwd=self.root,
            env={**os.environ, **self.env, **dates},
            input=input,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def commit(self, message: str, *paths: str) -> str:
        """Change each path (relative to the repository), commit them with `message`; the short hash."""
        for rel in paths:
            path = self.root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as out:
                out.write(f"{message.splitlines()[0]}\n")
        self.git("add", "-A", *paths)
        self.git("commit", "-q", "-F", "-", input=message)
        return self.git("rev-parse", "--short", "HEAD")


def _package(repo: Repo, version: str = "1.1.0", rel: str = "packages/style", name: str = "acme/style") -> Path:
    folder = make_package(repo.root / rel, name, version)
    repo.git("add", "-A", rel)
    repo.git("commit", "-q", "-m", "feat: the package")
    return folder


def _today() -> set[str]:
    """Today (UTC), or yesterday if the command ran just before midnight."""
    now = datetime.now(UTC)
    return {now.date().isoformat(), (now - timedelta(days=1)).date().isoformat()}


def _refused(result, code: int, *words: str) -> None:
    """One clear line on stderr, the exit code, nothing on stdout, never a traceback."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert result.stdout == "", result.stdout
    assert result.stderr.startswith("rigging: error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


@pytest.fixture
def history(tmp_path, env):
    """A package released as v1.0.0, then a mix of commits in and outside its folder, and a merge."""
    repo = Repo(tmp_path / "repo", env)
    pkg = _package(repo)
    repo.commit("docs: a note at the top of the repository", "NOTES.md")
    repo.git("tag", "v1.0.0")
    pkg_file = "packages/style/rules/python-conventions.md"
    readme = "packages/style/README.md"
    hashes = {
        "feat": repo.commit("feat(rules): add a rule for imports", pkg_file),
        "outside": repo.commit("feat: a change to another folder", "elsewhere/file.md"),
        "fix": repo.commit("fix: a typo in the README\n\nIt said 'teh'.", readme),
        "free": repo.commit("Tidy up the wording", readme),
        "bang": repo.commit("feat!: drop the legacy trigger", pkg_file),
        "footer": repo.commit("refactor: split the rules\n\nBREAKING CHANGE: rule files moved to rules/", pkg_file),
        "perf": repo.commit("perf(rules): shorter always-on rule", pkg_file),
        "docs": repo.commit("docs: explain the globs", readme),
    }
    repo.git("checkout", "-q", "-b", "topic")
    hashes["branch"] = repo.commit("fix(rules): a rule on a branch", pkg_file)
    repo.git("checkout", "-q", "main")
    repo.commit("chore: unrelated work on main", "elsewhere/other.md")
    repo.git("merge", "-q", "--no-ff", "-m", "Merge branch 'topic' touching the package", "topic")
    return repo, pkg, hashes


# -- drafting -----------------------------------------------------------------------------------


def test_commits_since_the_last_tag_grouped_by_type(cli, history, env):
    _, pkg, h = history
    result = cli("release-notes", pkg, env=env)
    assert result.returncode == 0, result.stderr
    heading, _, body = result.stdout.partition("\n")
    assert re.fullmatch(r"## 1\.1\.0 - (\d{4}-\d{2}-\d{2})", heading) and heading[-10:] in _today(), heading
    assert body == (
        "\n"
        "### Breaking\n\n"
        f"- drop the legacy trigger ({h['bang']})\n"
        f"- split the rules ({h['footer']})\n\n"
        "### Added\n\n"
        f"- add a rule for imports ({h['feat']})\n\n"
        "### Changed\n\n"
        f"- Tidy up the wording ({h['free']})\n"
        f"- explain the globs ({h['docs']})\n\n"
        "### Fixed\n\n"
        f"- a typo in the README ({h['fix']})\n"
        f"- a rule on a branch ({h['branch']})\n\n"
        "### Performance\n\n"
        f"- shorter always-on rule ({h['perf']})\n"
    )
    # outside the folder, before the tag, and the merge commit itself are not this release's news
    for absent in ("another folder", "the package", "top of the repository", "Merge", "unrelated"):
        assert absent not in result.stdout


def test_json_gives_the_commits_and_groups(cli, history, env):
    _, pkg, h = history
    result = cli("release-notes", pkg, "--json", env=env)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["name"], data["version"], data["since"], data["unreleased"]) == (
        "acme/style",
        "1.1.0",
        "v1.0.0",
        False,
    )
    assert data["date"] in _today() and data["heading"] == f"## 1.1.0 - {data['date']}"
    commits = {c["hash"]: c for c in data["commits"]}
    assert list(commits) == [h[k] for k in ("feat", "fix", "free", "bang", "footer", "perf", "docs", "branch")]
    assert commits[h["feat"]] == {
        "hash": h["feat"],
        "type": "feat",
        "scope": "rules",
        "summary": "add a rule for imports",
        "breaking": False,
        "group": "Added",
    }
    assert commits[h["free"]]["type"] is None and commits[h["free"]]["summary"] == "Tidy up the wording"
    assert commits[h["footer"]]["breaking"] and commits[h["footer"]]["type"] == "refactor"
    assert data["groups"] == {
        "Breaking": [h["bang"], h["footer"]],
        "Added": [h["feat"]],
        "Changed": [h["free"], h["docs"]],
        "Fixed": [h["fix"], h["branch"]],
        "Performance": [h["perf"]],
    }
    assert data["markdown"] == cli("release-notes", pkg, env=env).stdout


def test_since_and_unreleased(cli, history, env):
    repo, pkg, h = history
    everything = cli("release-notes", pkg, "--since", "v1.0.0", "--unreleased", env=env)
    assert everything.returncode == 0, everything.stderr
    assert everything.stdout.startswith("## Unreleased\n\n### Breaking\n")
    versioned = cli("release-notes", pkg, env=env).stdout
    assert everything.stdout == "## Unreleased" + versioned[versioned.index("\n") :]
    repo.git("tag", "v1.0.1", h["fix"])
    later = json.loads(cli("release-notes", pkg, "--json", env=env).stdout)
    assert later["since"] == "v1.0.1", "the newest release tag HEAD contains"
    assert later["commits"][0]["hash"] == h["free"]
    # an explicit --since wins over the newest tag; a commit works for an untagged release
    explicit = json.loads(cli("release-notes", pkg, "--since", "v1.0.0", "--json", env=env).stdout)
    assert explicit["since"] == "v1.0.0" and explicit["commits"][0]["hash"] == h["feat"]
    by_commit = json.loads(cli("release-notes", pkg, "--since", h["perf"], "--json", env=env).stdout)
    assert [c["hash"] for c in by_commit["commits"]] == [h["docs"], h["branch"]]


def test_the_default_tag_is_the_newest_earlier_release_head_contains(cli, tmp_path, env):
    repo = Repo(tmp_path / "repo", env)
    pkg = _package(repo, "2.0.0", rel="style")
    repo.git("tag", "v0.9.0")
    repo.git("tag", "latest")  # not a version: ignored
    first = repo.commit("fix: before 1.0", "style/README.md")
    repo.git("tag", "1.0.0")  # the bare SemVer form counts too
    repo.git("checkout", "-q", "-b", "side")
    repo.commit("feat: on a branch never merged", "style/README.md")
    repo.git("tag", "v1.5.0")  # newer, but not in HEAD's history
    repo.git("checkout", "-q", "main")
    after = repo.commit("feat: after 1.0", "style/README.md")
    repo.git("tag", "v2.0.0")  # the version being drafted: its notes run from the release before it
    notes = json.loads(cli("release-notes", pkg, "--json", env=env).stdout)
    assert notes["since"] == "1.0.0" and [c["hash"] for c in notes["commits"]] == [after]
    # --unreleased drafts what came after the newest release, whatever the version says
    unreleased = json.loads(cli("release-notes", pkg, "--unreleased", "--json", env=env).stdout)
    assert unreleased["since"] == "v2.0.0" and unreleased["commits"] == [] and unreleased["date"] is None
    assert unreleased["markdown"] == "## Unreleased\n\nNo changes since v2.0.0.\n"
    assert first not in notes["markdown"]


def test_the_packages_own_prefixed_tags_win_in_a_shared_repository(cli, tmp_path, env):
    repo = Repo(tmp_path / "repo", env)
    pkg = _package(repo, "1.1.0", rel="packages/style")
    repo.git("tag", "style-v1.0.0")
    mine = repo.commit("fix: style only", "packages/style/README.md")
    repo.git("tag", "v3.0.0")  # the repository's (or another package's) own release line
    repo.git("tag", "base-v9.0.0")  # another package's tag: not this one's, not a bare version
    notes = json.loads(cli("release-notes", pkg, "--json", env=env).stdout)
    assert notes["since"] == "style-v1.0.0" and [c["hash"] for c in notes["commits"]] == [mine]


def test_no_tag_means_the_whole_history_and_no_commit_is_fine(cli, tmp_path, env):
    repo = Repo(tmp_path / "repo", env)
    pkg = _package(repo, "0.1.0")
    first = repo.git("rev-parse", "--short", "HEAD")
    notes = json.loads(cli("release-notes", pkg, "--json", env=env).stdout)
    assert notes["since"] is None and [c["hash"] for c in notes["commits"]] == [first]
    assert notes["groups"] == {"Added": [first]}

    empty = Repo(tmp_path / "empty", env)
    fresh = make_package(empty.root / "pkg", "acme/fresh", "0.1.0")
    result = cli("release-notes", fresh, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("\n\nNo commits touch this package yet.\n")


# -- refusals -----------------------------------------------------------------------------------


def test_refusals_are_one_clear_line(cli, tmp_path, env, history):
    repo, pkg, _ = history
    loose = make_package(tmp_path / "loose", "acme/loose", "1.0.0")
    _refused(cli("release-notes", loose, env=env), 1, "not in a git repository", str(loose))

    bare = repo.root / "not-a-package"
    bare.mkdir()
    _refused(cli("release-notes", bare, env=env), 1, "no rigging.json", str(bare))
    _refused(cli("release-notes", tmp_path / "missing", env=env), 2, "no such folder")

    _refused(cli("release-notes", pkg, "--since", "v9.9.9", env=env), 2, "--since v9.9.9", "no such tag")
    _refused(cli("release-notes", pkg, "--since=--output=x", env=env), 2, "--since")

    empty_path = tmp_path / "no-programs"
    empty_path.mkdir()
    _refused(cli("release-notes", pkg, env={**env, "PATH": str(empty_path)}), 1, "git not found", "install git")

    manifest = json.loads((pkg / "rigging.json").read_text())
    del manifest["version"]
    (pkg / "rigging.json").write_text(json.dumps(manifest))
    _refused(cli("release-notes", pkg, env=env), 1, "version", "--unreleased")
    assert cli("release-notes", pkg, "--unreleased", env=env).returncode == 0

    as_json = cli("release-notes", pkg, "--unreleased", "--since", "nope", "--json", env=env)
    assert as_json.returncode == 2 and as_json.stdout == ""
    error = json.loads(as_json.stderr)["error"]
    assert error["kind"] == "usage" and "--since nope" in error["message"]


# -- CHANGELOG.md and publish -------------------------------------------------------------------


def _notes(version: str = "1.1.0") -> ReleaseNotes:
    return ReleaseNotes("acme/style", version, False, "2030-01-02", "v1.0.0", (parse_commit("abc1234", "feat: x", ""),))


def test_commit_messages_and_changelog_sections_parse_as_the_specs_say():
    bang = parse_commit("a", "feat(api)!: new endpoint", "")
    assert (bang.type, bang.scope, bang.summary, bang.breaking, bang.group) == (
        "feat",
        "api",
        "new endpoint",
        True,
        "Breaking",
    )
    upper = parse_commit("a", "Fix: crash on empty rules", "")
    assert (upper.type, upper.group) == ("fix", "Fixed")
    assert parse_commit("a", "feat:no space", "").type is None, "the spec wants ': '"
    assert parse_commit("a", "chore: bump", "BREAKING-CHANGE: config moved").breaking
    assert not parse_commit("a", "chore: bump", "mentions breaking change: in prose").breaking
    assert parse_commit("a", "build(deps): bump x", "").group == "Changed"

    assert previous_release(["v1.0.0", "v1.10.0", "v1.9.0", "v2.0.0-rc.1"], "acme/style", "2.0.0") == "v2.0.0-rc.1"
    assert previous_release(["v1.0.0", "v1.10.0", "v1.9.0"], None, None) == "v1.10.0"
    assert previous_release(["latest", "nightly"], "acme/style", "1.0.0") is None

    notes = _notes()
    assert has_section("# Changelog\n\n## [1.1.0] - 2020-01-01\n", notes)
    assert has_section("## v1.1.0\n", notes)
    assert not has_section("## 1.1.0-rc.1 - 2020-01-01\n## 11.1.0\n", notes)
    section = notes.markdown()
    assert with_section(None, notes) == f"# Changelog\n\n{section}"
    kept = "# Changelog\n\nAll notable changes.\n\n## 1.0.0 - 2029-01-01\n\n- first\n"
    assert with_section(kept, notes) == (
        f"# Changelog\n\nAll notable changes.\n\n{section}\n## 1.0.0 - 2029-01-01\n\n- first\n"
    )
    assert with_section("# Changelog\n", notes) == f"# Changelog\n\n{section}"


def _pull_changelog(cli, store: Path, out: Path, env: dict[str, str], version: str) -> str:
    pulled = cli("pull", f"oci:{store}/acme/style:{version}", "-o", out, env=env)
    assert pulled.returncode == 0, pulled.stderr
    return (out / "CHANGELOG.md").read_text(encoding="utf-8")


def test_publish_with_release_notes_ships_the_section(cli, tmp_path, env, history):
    _, pkg, h = history
    store = tmp_path / "store"
    assert not (pkg / "CHANGELOG.md").exists()
    result = cli("publish", pkg, f"oci:{store}/acme/style", "--release-notes", "--json", env=env)
    assert result.returncode == 0, result.stderr
    published = json.loads(result.stdout)
    assert published["release_notes"]["written"] is True and published["release_notes"]["since"] == "v1.0.0"
    written = (pkg / "CHANGELOG.md").read_text(encoding="utf-8")
    drafted = cli("release-notes", pkg, env=env).stdout
    assert written == f"# Changelog\n\n{drafted}"
    assert f"- add a rule for imports ({h['feat']})" in written
    assert (pkg / "CHANGELOG.md").stat().st_mode & 0o777 != 0o600, "not the temp file's private mode"
    assert _pull_changelog(cli, store, tmp_path / "first", env, "1.1.0") == written
    assert not list(pkg.glob(".CHANGELOG.md.*")), "no temp file left behind"

    # the section exists now: a second run leaves the author's words as they are, and says so
    (pkg / "CHANGELOG.md").write_text(written.replace("add a rule for imports", "Add an import rule"))
    edited = (pkg / "CHANGELOG.md").read_bytes()
    again = cli("publish", pkg, f"oci:{store}/acme/style", "--release-notes", "--force", env=env)
    assert again.returncode == 0, again.stderr
    assert "already has a section for 1.1.0" in again.stderr and (pkg / "CHANGELOG.md").read_bytes() == edited
    assert "Add an import rule" in _pull_changelog(cli, store, tmp_path / "second", env, "1.1.0")


def test_publish_release_notes_goes_above_the_newest_section(cli, tmp_path, env):
    repo = Repo(tmp_path / "repo", env)
    pkg = _package(repo, "1.0.0", rel="style")
    (pkg / "CHANGELOG.md").write_text("# Changelog\n\nEverything that changed.\n\n## 0.9.0 - 2020-01-01\n\n- old\n")
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "docs: changelog for 0.9.0")
    repo.git("tag", "v0.9.0")
    fix = repo.commit("fix: the rule's glob", "style/rules/python-conventions.md")
    store = tmp_path / "store"
    result = cli("publish", pkg, f"oci:{store}/acme/style", "--release-notes", "-q", env=env)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    text = _pull_changelog(cli, store, tmp_path / "pulled", env, "1.0.0")
    head, _, rest = text.partition("Everything that changed.\n\n## 1.0.0 - ")
    assert head == "# Changelog\n\n", text
    assert rest.endswith(f"\n\n### Fixed\n\n- the rule's glob ({fix})\n\n## 0.9.0 - 2020-01-01\n\n- old\n"), text


def test_publish_release_notes_refuses_before_anything_is_written(cli, tmp_path, env):
    loose = make_package(tmp_path / "loose", "acme/style", "1.0.0")
    store = tmp_path / "store"
    _refused(cli("publish", loose, f"oci:{store}/acme/style", "--release-notes", env=env), 1, "not in a git repository")
    assert not (loose / "CHANGELOG.md").exists() and not store.exists()

    packed = cli("pack", loose, "-o", tmp_path / "layout", env=env)
    assert packed.returncode == 0, packed.stderr
    from_layout = cli(
        "publish", f"oci:{tmp_path / 'layout'}:1.0.0", f"oci:{store}/acme/style", "--release-notes", env=env
    )
    _refused(from_layout, 2, "--release-notes", "not a package folder")
    assert not store.exists()
