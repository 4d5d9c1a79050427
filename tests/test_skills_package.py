"""Skills in the package: source folder → pack → a real registry → pull, with file modes.

A package with two skills (one with an executable script, one with a reference file), rules and
workflows round-trips byte for byte, modes included; packing is reproducible and the executable
bit is part of the digest; the config lists the skills; hostile layers are refused on pull.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import stat
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from rigging.schema import manifest_schema

from rigging import mediatypes as mt
from tests.catalog_publish import unique_namespace
from tests.conftest import RIGGING, run_cli

pytestmark = pytest.mark.usefixtures("umask_022")

PDF_SKILL = """\
---
name: pdf-tools
description: >
  Extract text and tables from PDF files.
  Use when the user asks what a PDF says.
license: MIT
compatibility: Needs poppler-utils (pdftotext) on PATH
metadata:
  author: acme
  version: "1.2"
allowed-tools: Bash(scripts/run.sh:*) Read
disable-model-invocation: false
argument-hint: [file.pdf]
---

# PDF tools

Run `scripts/run.sh FILE.pdf` and read its output.
"""

RUN_SH = '#!/bin/sh\nset -eu\npdftotext "$1" -\n'

REVIEW_SKILL = """\
---
name: review-guide
description: Review a change against the team's checklist. Use when asked to review code.
---

# Review

Read `references/guide.md` first, then go through the diff file by file.
"""

GUIDE = "# Review guide\n\n1. Tests first.\n2. Names say what they hold.\n"


def _make_package(root: Path, name: str) -> Path:
    """`rigging new` (a rule and a workflow), then two skills added with `rigging new --skill`."""
    assert run_cli("new", root, "--name", name).returncode == 0
    for skill in ("pdf-tools", "review-guide"):
        added = run_cli("new", root, "--skill", skill)
        assert added.returncode == 0, added.stderr
    pdf, review = root / "skills" / "pdf-tools", root / "skills" / "review-guide"
    (pdf / "SKILL.md").write_text(PDF_SKILL)
    (pdf / "scripts").mkdir()
    (pdf / "scripts" / "run.sh").write_text(RUN_SH)
    (pdf / "scripts" / "run.sh").chmod(0o755)
    (pdf / "scripts" / "parse.py").write_text("print('helper, imported not run')\n")
    (review / "SKILL.md").write_text(REVIEW_SKILL)
    (review / "references").mkdir()
    (review / "references" / "guide.md").write_text(GUIDE)
    (review / "assets" / "templates").mkdir(parents=True)
    (review / "assets" / "templates" / "comment.txt").write_text("Looks good once {item} is fixed.\n")
    return root


def _files(root: Path) -> dict[str, tuple[bytes, int]]:
    """path -> (bytes, permission bits) of every file under root."""
    return {
        p.relative_to(root).as_posix(): (p.read_bytes(), stat.S_IMODE(p.stat().st_mode))
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _pack(source: Path, layout: Path) -> str:
    packed = run_cli("pack", source, "-o", layout, "--json")
    assert packed.returncode == 0, packed.stderr
    return json.loads(packed.stdout)["digest"]


def _blob(layout: Path, digest: str) -> bytes:
    return (layout / "blobs/sha256" / digest.removeprefix("sha256:")).read_bytes()


def _manifest(layout: Path, digest: str) -> dict:
    return json.loads(_blob(layout, digest))


def test_two_skills_rules_and_workflows_round_trip_through_a_real_registry(tmp_path, registry):
    env = {"RIGGING_CACHE_DIR": str(tmp_path / "cache"), "DOCKER_CONFIG": str(tmp_path / "docker")}
    name = f"{unique_namespace('sk')}/skills-kit"
    source = _make_package(tmp_path / "src", name)
    assert (source / "rules").is_dir() and (source / "workflows").is_dir()
    validated = run_cli("validate", source)
    assert validated.returncode == 0 and "valid (0 error(s), 0 warning(s))" in validated.stdout, validated.stdout

    published = run_cli("publish", source, f"{registry.host}/{name}", "--json", env=env)
    assert published.returncode == 0, published.stderr
    digest = json.loads(published.stdout)["digest"]
    out = tmp_path / "pulled"
    pulled = run_cli("pull", f"{registry.host}/{name}:0.1.0", "-o", out, "--json", env=env)
    assert pulled.returncode == 0, pulled.stderr
    assert json.loads(pulled.stdout)["digest"] == digest

    before, after = _files(source), _files(out)
    assert after == before  # every file, byte for byte, with its mode
    assert after["skills/pdf-tools/scripts/run.sh"][1] == 0o755
    assert after["skills/pdf-tools/scripts/parse.py"][1] == 0o644
    assert after["skills/review-guide/references/guide.md"][1] == 0o644
    assert after["rules/python-conventions.md"][1] == 0o644
    assert os.access(out / "skills/pdf-tools/scripts/run.sh", os.X_OK)
    # the published artifact is the one pack makes locally, digest for digest
    assert _pack(source, tmp_path / "layout") == digest


def test_a_second_pack_gives_the_same_digest_and_a_mode_change_a_new_one(tmp_path):
    source = _make_package(tmp_path / "src", "acme/skills-kit")
    first = _pack(source, tmp_path / "a")
    assert _pack(source, tmp_path / "b") == first

    script = source / "skills/pdf-tools/scripts/run.sh"
    script.chmod(0o644)
    not_executable = _pack(source, tmp_path / "c")
    assert not_executable != first
    script.chmod(0o700)  # executable for its owner only: the same package as 0755
    assert _pack(source, tmp_path / "d") == first

    # Only a skill's files carry the bit: a rule that happens to be executable packs as before.
    (source / "rules/python-conventions.md").chmod(0o755)
    assert _pack(source, tmp_path / "e") == first


def test_the_digest_does_not_depend_on_umask_or_file_times(tmp_path):
    source = _make_package(tmp_path / "src", "acme/skills-kit")
    expected = _pack(source, tmp_path / "a")
    # A copy made under umask 077 (files 0600, scripts 0700), with other times, in a child process.
    script = textwrap.dedent(f"""
        import os, shutil, subprocess, sys
        os.umask(0o077)
        src, copy = {str(source)!r}, {str(tmp_path / "copy")!r}
        def fresh(s, d):
            with open(s, 'rb') as a, open(d, 'wb') as b:
                b.write(a.read())
            if os.stat(s).st_mode & 0o100:
                os.chmod(d, 0o700)
            os.utime(d, (1_900_000_000, 1_900_000_000))
        shutil.copytree(src, copy, copy_function=fresh)
        r = subprocess.run([{str(RIGGING)!r}, 'pack', copy, '-o', {str(tmp_path / "b")!r}, '--json'],
                           capture_output=True, text=True)
        sys.stdout.write(r.stdout); sys.stderr.write(r.stderr); sys.exit(r.returncode)
    """)
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE((tmp_path / "copy/skills/pdf-tools/SKILL.md").stat().st_mode) == 0o600
    assert json.loads(result.stdout)["digest"] == expected


def test_content_layer_holds_the_skills_with_their_modes(tmp_path):
    source = _make_package(tmp_path / "src", "acme/skills-kit")
    layout = tmp_path / "layout"
    manifest = _manifest(layout, _pack(source, layout))
    (content,) = manifest["layers"]
    assert content["mediaType"] == mt.CONTENT_LAYER
    with tarfile.open(fileobj=io.BytesIO(_blob(layout, content["digest"])), mode="r:gz") as tar:
        members = {m.name: m for m in tar.getmembers()}
    modes = {name: stat.S_IMODE(m.mode) for name, m in members.items()}
    assert modes["skills-kit/skills/pdf-tools/scripts/run.sh"] == 0o755
    assert modes["skills-kit/skills/pdf-tools/SKILL.md"] == 0o644
    assert modes["skills-kit/skills/review-guide/references/guide.md"] == 0o644
    assert modes["skills-kit/skills/review-guide/assets/templates"] == 0o755
    assert all(m.mtime == 0 and m.uid == 0 and m.gid == 0 and m.uname == "" for m in members.values())
    executable = {name for name, m in members.items() if m.isfile() and m.mode & 0o111}
    assert executable == {"skills-kit/skills/pdf-tools/scripts/run.sh"}


def test_config_lists_each_skill_by_name_with_its_description(tmp_path):
    source = _make_package(tmp_path / "src", "acme/skills-kit")
    layout = tmp_path / "layout"
    manifest = _manifest(layout, _pack(source, layout))
    assert manifest["config"]["mediaType"] == mt.CONFIG
    config = json.loads(_blob(layout, manifest["config"]["digest"]))
    assert config["skills"] == [
        {
            "name": "pdf-tools",
            "description": "Extract text and tables from PDF files. Use when the user asks what a PDF says.",
        },
        {
            "name": "review-guide",
            "description": "Review a change against the team's checklist. Use when asked to review code.",
        },
    ]
    assert list(Draft202012Validator(manifest_schema()).iter_errors(config)) == []
    # everything else is rigging.json as written; the source's rigging.json has no `skills`
    written = json.loads((source / "rigging.json").read_text())
    assert "skills" not in written
    assert {k: v for k, v in config.items() if k != "skills"} == written


def test_a_hand_written_skills_list_must_match_and_changes_nothing_in_the_config(tmp_path):
    source = _make_package(tmp_path / "src", "acme/skills-kit")
    plain = _manifest(tmp_path / "a", _pack(source, tmp_path / "a"))["config"]["digest"]
    manifest = json.loads((source / "rigging.json").read_text())
    manifest["skills"] = [
        {
            "name": "review-guide",
            "description": "Review a change against the team's checklist. Use when asked to review code.",
        },
        {
            "name": "pdf-tools",
            "description": "Extract text and tables from PDF files. Use when the user asks what a PDF says.",
        },
    ]
    (source / "rigging.json").write_text(json.dumps(manifest, indent=2))
    refused = run_cli("pack", source, "-o", tmp_path / "b")
    assert refused.returncode == 1 and "RIG508" in refused.stderr, refused.stderr  # order matters: sorted by name
    manifest["skills"].reverse()
    (source / "rigging.json").write_text(json.dumps(manifest, indent=2))
    assert _manifest(tmp_path / "c", _pack(source, tmp_path / "c"))["config"]["digest"] == plain


def test_a_package_without_skills_keeps_its_config_and_pulls_as_before(tmp_path):
    source = tmp_path / "old"
    assert run_cli("new", source, "--name", "acme/old").returncode == 0
    layout = tmp_path / "layout"
    manifest = _manifest(layout, _pack(source, layout))
    config = _blob(layout, manifest["config"]["digest"])
    # exactly the canonical rigging.json: no `skills` key, so its digest is what it always was
    canonical = json.dumps(json.loads((source / "rigging.json").read_text()), sort_keys=True, separators=(",", ":"))
    assert config == canonical.encode()
    out = tmp_path / "pulled"
    assert run_cli("pull", f"oci:{layout}:0.1.0", "-o", out).returncode == 0
    assert _files(out) == _files(source)


def _hostile_layout(tmp_path: Path, entries: list[tarfile.TarInfo], datas: dict[str, bytes]) -> Path:
    """An OCI layout holding one package whose content layer has exactly `entries` (made by hand:
    rigging pack would refuse them)."""
    from tests.support.raw_package import package_manifest

    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info in entries:
            data = datas.get(info.name, b"")
            if info.isfile():
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    layer = gzip.compress(raw.getvalue(), mtime=0)
    config = json.dumps({"name": "acme/evil", "version": "1.0.0"}).encode()
    manifest = package_manifest(config, layer, "evil")
    layout = tmp_path / "evil-layout"
    blobs = layout / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    for blob in (config, layer, manifest):
        (blobs / hashlib.sha256(blob).hexdigest()).write_bytes(blob)
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": mt.OCI_MANIFEST,
                "digest": "sha256:" + hashlib.sha256(manifest).hexdigest(),
                "size": len(manifest),
                "annotations": {"org.opencontainers.image.ref.name": "1.0.0"},
            }
        ],
    }
    (layout / "index.json").write_text(json.dumps(index))
    return layout


def _entry(name: str, mode: int = 0o644, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mode, info.type, info.linkname = mode, kind, link
    return info


def _base_entries() -> list[tarfile.TarInfo]:
    return [_entry("evil", 0o755, tarfile.DIRTYPE), _entry("evil/rigging.json")]


def test_pull_restores_only_the_executable_bit_of_a_skill_file(tmp_path):
    entries = [
        *_base_entries(),
        _entry("evil/rules/r.md", 0o4777),  # setuid and world-writable, and not a skill
        _entry("evil/skills/s/SKILL.md", 0o666),
        _entry("evil/skills/s/run.sh", 0o6777),  # setuid, setgid, world-writable
    ]
    datas = {"evil/rigging.json": b"{}", "evil/rules/r.md": b"# r\n", "evil/skills/s/SKILL.md": b"---\n---\n"}
    layout = _hostile_layout(tmp_path, entries, datas)
    out = tmp_path / "out"
    result = run_cli("pull", f"oci:{layout}:1.0.0", "-o", out)
    assert result.returncode == 0, result.stderr
    modes = {path: mode for path, (_, mode) in _files(out).items()}
    assert modes == {
        "rigging.json": 0o644,
        "rules/r.md": 0o644,
        "skills/s/SKILL.md": 0o644,
        "skills/s/run.sh": 0o755,
    }


@pytest.mark.parametrize(
    ("case", "entry", "expected"),
    [
        ("symlink in a skill", _entry("evil/skills/s/run.sh", kind=tarfile.SYMTYPE, link="/bin/sh"), "link or device"),
        ("hard link in a skill", _entry("evil/skills/s/b.md", kind=tarfile.LNKTYPE, link="evil/rigging.json"), "link"),
        ("device in a skill", _entry("evil/skills/s/dev", kind=tarfile.CHRTYPE), "link or device"),
        ("traversal out of a skill", _entry("evil/skills/s/../../../escape.md"), "not a safe path"),
        ("file directly under skills/", _entry("evil/skills/loose.md"), "not a file packages may hold"),
    ],
)
def test_pull_refuses_unsafe_skill_entries(tmp_path, case, entry, expected):
    layout = _hostile_layout(tmp_path, [*_base_entries(), entry], {"evil/rigging.json": b"{}"})
    out = tmp_path / "out"
    result = run_cli("pull", f"oci:{layout}:1.0.0", "-o", out)
    assert result.returncode != 0, case
    assert expected in result.stderr and "Traceback" not in result.stderr, (case, result.stderr)
    assert not out.exists() and not (tmp_path / "escape.md").exists()
    assert not any(p.name.startswith(".out.pull-") for p in tmp_path.iterdir()), "no staging folder is left behind"


def test_pull_refuses_a_skill_file_over_the_size_cap(tmp_path):
    from rigging import limits

    big = "evil/skills/s/references/big.md"
    entries = [*_base_entries(), _entry(big)]
    layout = _hostile_layout(tmp_path, entries, {"evil/rigging.json": b"{}", big: b"x" * (limits.MAX_FILE_BYTES + 1)})
    result = run_cli("pull", f"oci:{layout}:1.0.0", "-o", tmp_path / "out")
    assert result.returncode != 0 and "over the limit" in result.stderr, result.stderr


def test_new_skill_scaffolds_a_package_that_validates_and_adds_to_one(tmp_path):
    pkg = tmp_path / "kit"
    made = run_cli("new", pkg, "--name", "acme/kit", "--skill", "pdf-tools")
    assert made.returncode == 0, made.stderr
    assert sorted(p.relative_to(pkg).as_posix() for p in pkg.rglob("*") if p.is_file()) == [
        "README.md",
        "rigging.json",
        "skills/pdf-tools/SKILL.md",
    ]
    assert run_cli("new", pkg, "--skill", "csv-tools").returncode == 0
    report = json.loads(run_cli("validate", pkg, "--json").stdout)
    assert report["valid"] and report["problems"] == []
    assert [s["name"] for s in report["skills"]] == ["csv-tools", "pdf-tools"]
    # the placeholder description says it is one
    assert "replace this sentence" in report["skills"][0]["description"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--skill", "PDF"], "lowercase"),
        (["--skill", "pdf--tools"], "'--'"),
        (["--skill=-pdf"], "'-'"),
        (["--skill", "a" * 65], "64"),
    ],
)
def test_new_skill_refuses_a_bad_name_in_one_line(tmp_path, args, message):
    pkg = tmp_path / "kit"
    assert run_cli("new", pkg, "--name", "acme/kit").returncode == 0
    before = _files(pkg)
    result = run_cli("new", pkg, *args)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and _files(pkg) == before


def test_new_skill_refuses_an_existing_skill_and_a_folder_that_is_no_package(tmp_path):
    pkg = tmp_path / "kit"
    assert run_cli("new", pkg, "--name", "acme/kit", "--skill", "pdf-tools").returncode == 0
    again = run_cli("new", pkg, "--skill", "pdf-tools")
    assert again.returncode == 1 and "already exists" in again.stderr
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("not a package")
    refused = run_cli("new", other, "--skill", "pdf-tools")
    assert refused.returncode == 2 and "--name" in refused.stderr
    assert sorted(p.name for p in other.iterdir()) == ["notes.txt"]
    named = run_cli("new", pkg, "--name", "acme/kit", "--skill", "csv-tools")
    assert named.returncode == 2 and "already holds a package" in named.stderr
    assert not (pkg / "skills" / "csv-tools").exists()


def test_a_skill_with_a_script_needs_no_extension_rules(tmp_path):
    """Any text file may live in a skill (scripts, templates, data), unlike rules/ and workflows/."""
    source = _make_package(tmp_path / "src", "acme/skills-kit")
    (source / "skills/pdf-tools/scripts/Makefile").write_text("all:\n\t./run.sh\n")
    (source / "skills/pdf-tools/assets").mkdir()
    (source / "skills/pdf-tools/assets/schema.yaml").write_text("type: object\n")
    report = json.loads(run_cli("validate", source, "--json").stdout)
    assert report["valid"] and report["problems"] == []


def test_the_indexer_rebuilds_a_skills_package_config_from_its_layer(tmp_path):
    """The crawler skips the config GET when the layer's rigging.json, with `skills` computed from
    the layer's SKILL.md files, hashes to the config: true of every package rigging pack makes."""
    from rigging.transfer import parse_package_manifest
    from rigging_indexer.crawler import _config_in_layer, _read_layer

    source = _make_package(tmp_path / "src", "acme/skills-kit")
    layout = tmp_path / "layout"
    digest = _pack(source, layout)
    package = parse_package_manifest(_blob(layout, digest), "test")
    layer = _read_layer(_blob(layout, package.content_layer.digest), "skills-kit", "test")
    assert sorted(layer.skill_md) == ["pdf-tools", "review-guide"]
    assert _config_in_layer(package, layer) == _blob(layout, package.config.digest)
