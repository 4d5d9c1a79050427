"""Peers we did not write: skopeo moves our packages between registry, layout and repository,
and oras-py pulls them."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.packages import make_package, tree
from tests.test_scaffold_pack import _content_files


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("RIGGING_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))


def test_skopeo_copies_registry_to_layout_to_another_repository(cli, tmp_path, registry, skopeo):
    pkg = make_package(tmp_path / "pkg", "acme/interop", "2.1.0", docs=True)
    published = json.loads(cli("publish", pkg, f"{registry.host}/acme/interop", "--json").stdout)
    tls = "false" if registry.plain_http else "true"
    layout = tmp_path / "skopeo-layout"
    subprocess.run(
        [
            skopeo,
            "copy",
            "--quiet",
            f"--src-tls-verify={tls}",
            f"docker://{registry.host}/acme/interop:2.1.0",
            f"oci:{layout}:2.1.0",
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            skopeo,
            "copy",
            "--quiet",
            f"--dest-tls-verify={tls}",
            f"oci:{layout}:2.1.0",
            f"docker://{registry.host}/copies/acme/interop:2.1.0",
        ],
        check=True,
        capture_output=True,
    )
    for ref, out in (
        (f"{registry.host}/copies/acme/interop:2.1.0", "from-copy"),
        (f"oci:{layout}:2.1.0", "from-skopeo-layout"),
    ):
        pulled = cli("pull", ref, "-o", tmp_path / out, "--json")
        assert pulled.returncode == 0, pulled.stderr
        assert json.loads(pulled.stdout)["digest"] == published["digest"]
        assert tree(tmp_path / out) == tree(pkg)


def test_oras_py_pulls_a_published_package(cli, tmp_path, registry):
    import oras.client

    pkg = make_package(tmp_path / "pkg", "acme/oras-peer", "1.0.0")
    assert cli("publish", pkg, f"{registry.host}/acme/oras-peer").returncode == 0
    client = oras.client.OrasClient(insecure=registry.plain_http)
    pulled = client.pull(target=f"{registry.host}/acme/oras-peer:1.0.0", outdir=str(tmp_path / "oras"))
    # oras-py 0.2 saves each layer under its title and unpacks only the stock OCI layer type;
    # the saved layer holds the package under its title folder, as oras-go unpacks it.
    assert pulled == [str(tmp_path / "oras" / "oras-peer")]
    assert _content_files((tmp_path / "oras" / "oras-peer").read_bytes(), "oras-peer") == tree(pkg)
