"""The same source gives the same manifest digest, whatever the file times and the umask."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.conftest import RIGGING
from tests.support.services import unavailable


def _pack_under_umask(source: Path, layout: Path, umask: int, touch_to: float | None) -> str:
    # A child process, so the umask applies to everything pack writes and reads back.
    script = textwrap.dedent(f"""
        import os, shutil, subprocess, sys
        os.umask({umask:#o})
        src, copy = {str(source)!r}, {str(layout) + "-src"!r}
        def fresh(s, d):  # written anew, so the files get this umask's modes
            with open(s, 'rb') as a, open(d, 'wb') as b:
                b.write(a.read())
        shutil.copytree(src, copy, copy_function=fresh)
        if {touch_to!r} is not None:
            for d, _, names in os.walk(copy):
                for n in names + ['.']:
                    os.utime(os.path.join(d, n), ({touch_to!r}, {touch_to!r}))
        r = subprocess.run([{str(RIGGING)!r}, 'pack', copy, '-o', {str(layout)!r}, '--json'],
                           capture_output=True, text=True)
        sys.stdout.write(r.stdout); sys.stderr.write(r.stderr); sys.exit(r.returncode)
    """)
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["digest"]


def test_pack_twice_gives_byte_identical_manifests(cli, tmp_path):
    source = tmp_path / "pkg"
    assert cli("new", source, "--name", "acme/repro").returncode == 0
    (source / "docs").mkdir()
    (source / "docs" / "usage.md").write_text("# Usage\n\nnon-ASCII: café ✓\n", encoding="utf-8")

    first = _pack_under_umask(source, tmp_path / "a", 0o022, touch_to=None)
    second = _pack_under_umask(source, tmp_path / "b", 0o077, touch_to=1_900_000_000.0)
    assert first == second
    blobs_a = {p.name: p.read_bytes() for p in (tmp_path / "a/blobs/sha256").iterdir()}
    blobs_b = {p.name: p.read_bytes() for p in (tmp_path / "b/blobs/sha256").iterdir()}
    assert blobs_a == blobs_b
    assert (tmp_path / "a-src/rigging.json").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "b-src/rigging.json").stat().st_mode & 0o777 == 0o600


def _manifest(layout: Path, digest: str | None = None) -> dict:
    if digest is None:
        (entry,) = json.loads((layout / "index.json").read_text())["manifests"]
        digest = entry["digest"]
    return json.loads((layout / "blobs/sha256" / digest.removeprefix("sha256:")).read_bytes())


def test_created_comes_from_source_date_epoch(cli, tmp_path):
    source = tmp_path / "pkg"
    assert cli("new", source, "--name", "acme/dated").returncode == 0
    packed = cli("pack", source, "-o", tmp_path / "a", env={"SOURCE_DATE_EPOCH": "1700000000"})
    assert packed.returncode == 0, packed.stderr
    assert _manifest(tmp_path / "a")["annotations"]["org.opencontainers.image.created"] == "2023-11-14T22:13:20Z"


def test_created_and_revision_come_from_the_last_git_commit(cli, tmp_path):
    if shutil.which("git") is None:
        unavailable("git is not installed (apt-get install -y git)")
    source = tmp_path / "pkg"
    assert cli("new", source, "--name", "acme/dated").returncode == 0
    git = ["git", "-C", str(source), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run(
        [*git, "commit", "-q", "-m", "init", "--date", "2024-01-02T03:04:05Z"],
        check=True,
        env={**os.environ, "GIT_COMMITTER_DATE": "2024-01-02T03:04:05Z"},
    )
    clean_env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    out = subprocess.run(
        [str(RIGGING), "pack", str(source), "-o", str(tmp_path / "b"), "--json"],
        capture_output=True,
        text=True,
        env=clean_env,
        check=True,
    )
    manifest = _manifest(tmp_path / "b", json.loads(out.stdout)["digest"])
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    assert manifest["annotations"]["org.opencontainers.image.created"] == "2024-01-02T03:04:05Z"
    assert manifest["annotations"]["org.opencontainers.image.revision"] == head
