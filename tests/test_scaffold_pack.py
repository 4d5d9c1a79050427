"""rigging new / validate / pack, checked with tools we did not write (skopeo, oras-py)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import subprocess
import tarfile
from pathlib import Path

from rigging import mediatypes as mt


def _new_validate_pack(cli, tmp_path: Path, name: str = "acme/x") -> tuple[Path, Path, str]:
    pkg, out = tmp_path / "x", tmp_path / "out"
    assert cli("new", pkg, "--name", name).returncode == 0
    validated = cli("validate", pkg)
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert "valid (0 error(s), 0 warning(s))" in validated.stdout
    packed = cli("pack", pkg, "-o", out, "--json")
    assert packed.returncode == 0, packed.stderr
    digest = json.loads(packed.stdout)["digest"]
    return pkg, out, digest


def test_new_validate_pack_is_a_rigging_artifact_to_skopeo(cli, tmp_path, skopeo):
    pkg, out, digest = _new_validate_pack(cli, tmp_path)
    version = json.loads((pkg / "rigging.json").read_text())["version"]
    raw = subprocess.run([skopeo, "inspect", "--raw", f"oci:{out}:{version}"], capture_output=True, check=True).stdout
    assert "sha256:" + hashlib.sha256(raw).hexdigest() == digest
    manifest = json.loads(raw)
    assert manifest["mediaType"] == mt.OCI_MANIFEST
    assert manifest["artifactType"] == "application/vnd.rigging.package.v1"
    assert manifest["config"]["mediaType"] == "application/vnd.rigging.package.config.v1+json"
    assert [layer["mediaType"] for layer in manifest["layers"]] == [
        "application/vnd.rigging.package.content.v1.tar+gzip"
    ]
    layer = manifest["layers"][0]
    assert layer["annotations"][mt.ANN_TITLE] == "x"
    assert layer["annotations"][mt.ANN_ORAS_UNPACK] == "true"
    assert manifest["annotations"][mt.ANN_VERSION] == version
    assert manifest["annotations"][mt.ANN_TITLE] == "acme/x"
    # every blob the manifest names is in the layout and hashes to its digest
    for desc in [manifest["config"], *manifest["layers"]]:
        blob = (out / "blobs/sha256" / desc["digest"].removeprefix("sha256:")).read_bytes()
        assert len(blob) == desc["size"]
        assert "sha256:" + hashlib.sha256(blob).hexdigest() == desc["digest"]
    config = json.loads((out / "blobs/sha256" / manifest["config"]["digest"][7:]).read_bytes())
    assert config == json.loads((pkg / "rigging.json").read_text())


def _content_files(blob: bytes, prefix: str) -> dict[str, bytes]:
    files = {}
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
        for member in tar.getmembers():
            assert member.name == prefix or member.name.startswith(prefix + "/")
            assert member.mtime == 0 and member.uid == 0 and member.uname == ""
            if member.isfile():
                files[member.name.removeprefix(prefix + "/")] = tar.extractfile(member).read()
    return files


def test_content_layer_holds_exactly_the_package(cli, tmp_path):
    pkg, out, _ = _new_validate_pack(cli, tmp_path)
    (pkg / "docs").mkdir()
    (pkg / "docs" / "guide.md").write_text("# Guide\n")
    assert cli("pack", pkg, "-o", out).returncode == 0
    index = json.loads((out / "index.json").read_text())
    assert len(index["manifests"]) == 1, "re-packing a version replaces its tag"
    manifest = json.loads((out / "blobs/sha256" / index["manifests"][0]["digest"][7:]).read_bytes())
    content, docs = manifest["layers"]
    assert docs["mediaType"] == mt.DOCS_LAYER
    blob = (out / "blobs/sha256" / content["digest"][7:]).read_bytes()
    files = _content_files(blob, "x")
    expected = {
        p.relative_to(pkg).as_posix(): p.read_bytes() for p in pkg.rglob("*") if p.is_file() and "docs" not in p.parts
    }
    assert files == expected
    uncompressed = gzip.decompress(blob)
    assert content["annotations"][mt.ANN_ORAS_CONTENT_DIGEST] == "sha256:" + hashlib.sha256(uncompressed).hexdigest()
    docs_blob = (out / "blobs/sha256" / docs["digest"][7:]).read_bytes()
    assert _content_files(docs_blob, "docs") == {"guide.md": b"# Guide\n"}


def test_packed_package_travels_through_a_real_registry(cli, tmp_path, skopeo, registry):
    """skopeo pushes the layout to the registry unchanged; oras-py pulls it back by its title."""
    import oras.client

    pkg, out, digest = _new_validate_pack(cli, tmp_path, name="acme/travel")
    ref = f"{registry.host}/acme/travel:0.1.0"
    tls = f"--dest-tls-verify={'false' if registry.plain_http else 'true'}"
    subprocess.run(
        [skopeo, "copy", "--quiet", tls, f"oci:{out}:0.1.0", f"docker://{ref}"],
        check=True,
        capture_output=True,
    )
    raw = subprocess.run(
        [
            skopeo,
            "inspect",
            "--raw",
            f"--tls-verify={'false' if registry.plain_http else 'true'}",
            f"docker://{ref}",
        ],
        capture_output=True,
        check=True,
    ).stdout
    assert "sha256:" + hashlib.sha256(raw).hexdigest() == digest

    client = oras.client.OrasClient(insecure=registry.plain_http)
    pulled = client.pull(target=ref, outdir=str(tmp_path / "oras"))
    # oras-py 0.2 saves a layer under its title; it unpacks only the stock OCI layer media type,
    # so we unpack the saved blob as oras-go does (entries under the title folder) and compare.
    assert pulled == [str(tmp_path / "oras" / "travel")]
    files = _content_files((tmp_path / "oras" / "travel").read_bytes(), "travel")
    assert files == {p.relative_to(pkg).as_posix(): p.read_bytes() for p in pkg.rglob("*") if p.is_file()}


def test_pack_refuses_an_invalid_package_and_writes_nothing(cli, tmp_path):
    pkg = tmp_path / "bad"
    assert cli("new", pkg, "--name", "acme/bad").returncode == 0
    (pkg / "rigging.json").write_text('{"name": "acme/bad", "version": "1.0"}')
    result = cli("pack", pkg, "-o", tmp_path / "out")
    assert result.returncode == 1
    assert "RIG104" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_pack_refuses_a_folder_that_is_not_a_layout(cli, tmp_path):
    pkg = tmp_path / "p"
    assert cli("new", pkg, "--name", "acme/p").returncode == 0
    (tmp_path / "notalayout").mkdir()
    (tmp_path / "notalayout" / "keep.txt").write_text("mine")
    result = cli("pack", pkg, "-o", tmp_path / "notalayout")
    assert result.returncode == 1
    assert "not an OCI layout" in result.stderr
    assert [p.name for p in (tmp_path / "notalayout").iterdir()] == ["keep.txt"]


def test_two_versions_share_one_layout(cli, tmp_path, skopeo):
    pkg = tmp_path / "p"
    assert cli("new", pkg, "--name", "acme/p").returncode == 0
    assert cli("pack", pkg, "-o", tmp_path / "out").returncode == 0
    manifest = json.loads((pkg / "rigging.json").read_text())
    manifest["version"] = "1.0.0+build.7"
    (pkg / "rigging.json").write_text(json.dumps(manifest))
    result = cli("pack", pkg, "-o", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    assert "oci:" in result.stdout and ":1.0.0_build.7" in result.stdout
    index = json.loads((tmp_path / "out" / "index.json").read_text())
    assert len(index["manifests"]) == 2, "the second version is added beside the first, not over it"
    digests = {}
    for tag, version in (("0.1.0", "0.1.0"), ("1.0.0_build.7", "1.0.0+build.7")):
        raw = subprocess.run(
            [skopeo, "inspect", "--raw", f"oci:{tmp_path / 'out'}:{tag}"],
            capture_output=True,
            check=True,
        ).stdout
        assert json.loads(raw)["annotations"][mt.ANN_VERSION] == version, f"tag {tag} names its own version"
        digests[tag] = "sha256:" + hashlib.sha256(raw).hexdigest()
    assert digests["0.1.0"] != digests["1.0.0_build.7"]


def test_new_refuses_bad_names_and_occupied_folders(cli, tmp_path):
    bad = cli("new", tmp_path / "a", "--name", "Acme/X")
    assert bad.returncode == 2 and "upper-case" in bad.stderr
    assert not (tmp_path / "a").exists()
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "mine.md").write_text("keep")
    occupied = cli("new", tmp_path / "b", "--name", "acme/b")
    assert occupied.returncode == 1 and "not empty" in occupied.stderr
    assert [p.name for p in (tmp_path / "b").iterdir()] == ["mine.md"]
    loose = cli("new", tmp_path / "c", "--name", "acme/c", "--version", "1.0")
    assert loose.returncode == 2 and "'1.0' is not strict SemVer 2.0" in loose.stderr
    assert not (tmp_path / "c").exists()


def test_cli_usage_errors_exit_2(cli, tmp_path):
    bare = cli()
    assert bare.returncode == 2 and "usage: rigging" in bare.stdout + bare.stderr
    missing = cli("validate", tmp_path / "missing")
    assert missing.returncode == 2 and f"{tmp_path / 'missing'}: no such folder" in missing.stderr
    unknown = cli("frobnicate")
    assert unknown.returncode == 2 and "invalid choice: 'frobnicate'" in unknown.stderr
    no_output = cli("pack", tmp_path)
    assert no_output.returncode == 2 and "required: -o/--output" in no_output.stderr
    assert list(tmp_path.iterdir()) == [], "a usage error writes nothing"
    help_result = cli("--help")
    assert help_result.returncode == 0 and "validate" in help_result.stdout
