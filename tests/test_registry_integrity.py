"""Content from a registry is untrusted: every blob is digest-verified and every archive is
unpacked under strict rules. A failure writes nothing: no output folder, no cache entry."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

import pytest
from rigging.registry.client import RegistryClient

from tests.packages import make_package
from tests.support.raw_package import push_raw_package


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("RIGGING_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))


def _files_under(path: Path) -> list[Path]:
    return [p for p in path.rglob("*") if p.is_file()] if path.exists() else []


def test_corrupt_blob_in_registry_storage_fails_and_writes_nothing(cli, tmp_path, own_registry):
    registry = own_registry()  # its storage folder is ours to corrupt (`unavailable` without docker-registry)
    assert registry.storage is not None
    pkg = make_package(tmp_path / "pkg", "acme/corrupt", "1.0.0")
    publish = cli("publish", pkg, f"{registry.host}/acme/corrupt", "--json")
    assert publish.returncode == 0, publish.stderr
    published = json.loads(publish.stdout)
    manifest = json.loads(
        next(
            registry.storage.rglob(f"blobs/sha256/{published['digest'][7:9]}/{published['digest'][7:]}/data")
        ).read_bytes()
    )
    layer = manifest["layers"][0]["digest"]
    data_file = registry.storage / f"docker/registry/v2/blobs/sha256/{layer[7:9]}/{layer[7:]}/data"
    content = bytearray(data_file.read_bytes())
    content[len(content) // 2] ^= 0xFF  # same size, one byte flipped
    data_file.write_bytes(bytes(content))

    out = tmp_path / "out"
    result = cli("pull", f"{registry.host}/acme/corrupt:1.0.0", "-o", out)
    assert result.returncode == 1
    assert layer in result.stderr and "verification" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not out.exists()
    cached = [p.name for p in _files_under(tmp_path / "cache")]
    assert layer[7:] not in cached and not any(name.endswith(".part") for name in cached)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []


def _tar_gz(entries: list[tarfile.TarInfo | tuple[tarfile.TarInfo, bytes]]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in entries:
            if isinstance(entry, tuple):
                tar.addfile(entry[0], io.BytesIO(entry[1]))
            else:
                tar.addfile(entry)
    return gzip.compress(raw.getvalue(), mtime=0)


def _file(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def _link(name: str, target: str, kind: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


def _pax_bomb() -> tarfile.TarInfo:
    """A member whose PAX header expands to 20 MiB: tiny gzipped, huge unpacked, no file size to check."""
    info = tarfile.TarInfo("hostile/rules/a.md")
    info.pax_headers = {"comment": "0" * (20 * 1024 * 1024)}
    return info


def _push_hostile(client: RegistryClient, repository: str, layer: bytes, declared_size: int | None = None) -> None:
    config = json.dumps({"name": "acme/hostile", "version": "1.0.0"}).encode()
    push_raw_package(client, repository, "1.0.0", config, layer, "hostile", declared_size=declared_size)


HOSTILE = {
    "dot-dot": ([_file("hostile/../../evil.md", b"x")], "not a safe path"),
    "outside prefix": ([_file("elsewhere/rules/a.md", b"x")], "outside hostile/"),
    "absolute": ([_file("/tmp/evil.md", b"x")], "outside hostile/"),
    "symlink": ([_link("hostile/rules/a.md", "/etc/passwd", tarfile.SYMTYPE)], "link or device"),
    "hard link": ([_link("hostile/rules/a.md", "/etc/passwd", tarfile.LNKTYPE)], "link or device"),
    "disallowed file": ([_file("hostile/run.sh", b"rm -rf /")], "not a file packages may hold"),
    "oversized file": ([_file("hostile/rules/big.md", b"a" * (600 * 1024))], "over the limit"),
    "too much content": (
        [_file(f"hostile/rules/z{i}.md", b"\0" * (500 * 1024)) for i in range(20)],
        "more content than a package may hold",
    ),
    "compression bomb": ([_pax_bomb()], "compression bomb"),
    "file twice": ([_file("hostile/rules/a.md", b"x"), _file("hostile/rules/a.md", b"y")], "appears twice"),
    "file under a file": (
        [_file("hostile/skills/x/SKILL.md", b"x"), _file("hostile/skills/x/SKILL.md/y.md", b"y")],
        "lies under a file",
    ),
    "file over a folder": (
        [_file("hostile/skills/x/SKILL.md/y.md", b"y"), _file("hostile/skills/x/SKILL.md", b"x")],
        "both a file and a folder",
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_layers_are_refused_and_nothing_is_written(case, cli, tmp_path, registry):
    entries, message = HOSTILE[case]
    repository = "hostile/" + case.replace(" ", "-")
    with RegistryClient(registry.host) as client:
        _push_hostile(client, repository, _tar_gz(entries))
    out = tmp_path / "work" / "out"
    result = cli("pull", f"{registry.host}/{repository}:1.0.0", "-o", out)
    assert result.returncode == 1, result.stdout
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not out.exists() and not (tmp_path / "evil.md").exists() and not Path("/tmp/evil.md").exists()
    work = tmp_path / "work"
    assert not work.exists() or list(work.iterdir()) == [], "no staging folder or file is left behind"


def test_a_blob_longer_than_its_descriptor_is_cut_off(cli, tmp_path, registry):
    layer = _tar_gz([_file("hostile/rules/a.md", b"---\ntrigger: manual\n---\nok\n")])
    with RegistryClient(registry.host) as client:
        _push_hostile(client, "hostile/lying-size", layer, declared_size=len(layer) - 10)
    result = cli("pull", f"{registry.host}/hostile/lying-size:1.0.0", "-o", tmp_path / "out")
    assert result.returncode == 1 and "larger than" in result.stderr
    assert not (tmp_path / "out").exists()
