"""`rigging publish` scans what it is about to push (built-in checks and validation, not Semgrep)
and refuses `block` findings unless the author overrides them with --allow-blocked REASON, which
the manifest records (SPEC.md, "Publish override annotation")."""

from __future__ import annotations

import json

import httpx

from tests.scan_corpus import CORPUS, write_case

REASON = "a fixture of a known attack, for scanner tests"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def _manifest(registry, repository: str, reference: str) -> httpx.Response:
    return httpx.get(
        f"{registry.url}/v2/{repository}/manifests/{reference}", headers={"Accept": OCI_MANIFEST}, timeout=10
    )


def test_refused_with_one_line_per_finding_and_nothing_pushed(cli, tmp_path, registry, env):
    files = {**CORPUS["pipe-to-shell"][0], **CORPUS["secret-aws"][0]}
    folder = write_case(tmp_path / "pkg", files)
    repository = "gate/refused/corpus/case"
    result = cli("publish", folder, f"{registry.host}/{repository}", env=env)
    assert result.returncode == 1 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 3, lines
    assert lines[0].startswith("rigging: error: block RIG-S050 docs/setup.md:3 ") and "(fix: " in lines[0]
    assert lines[1].startswith("rigging: error: block RIG-S030 skills/s/scripts/setup.sh:2 ")
    assert "publish refused" in lines[2] and "--allow-blocked" in lines[2]
    assert _manifest(registry, repository, "1.0.0").status_code == 404
    tags = httpx.get(f"{registry.url}/v2/{repository}/tags/list", timeout=10)
    assert tags.status_code == 404 or not tags.json().get("tags")

    as_json = cli("publish", folder, f"{registry.host}/{repository}", "--json", env=env)
    error = json.loads(as_json.stderr)["error"]
    assert as_json.returncode == 1 and {f["rule"] for f in error["findings"]} == {"RIG-S030", "RIG-S050"}


def test_override_publishes_and_records_reason_and_rules(cli, tmp_path, registry, env):
    folder = write_case(tmp_path / "pkg", {**CORPUS["pipe-to-shell"][0], **CORPUS["secret-aws"][0]})
    repository = "gate/override/corpus/case"
    result = cli("publish", folder, f"{registry.host}/{repository}", "--allow-blocked", f"  {REASON} ", env=env)
    assert result.returncode == 0, result.stderr
    response = _manifest(registry, repository, "1.0.0")
    assert response.status_code == 200
    annotations = response.json()["annotations"]
    assert annotations["dev.rigging.scan.override"] == REASON
    assert annotations["dev.rigging.scan.findings"] == "RIG-S030,RIG-S050"
    assert list(annotations) == sorted(annotations), "annotations are written sorted, as packing writes them"


def test_override_is_reproducible_and_absent_from_clean_packages(cli, tmp_path, env):
    blocked = write_case(tmp_path / "blocked", CORPUS["pipe-to-shell"][0])
    digests = []
    for n in (1, 2):
        result = cli("publish", blocked, f"oci:{tmp_path}/out{n}", "--json", "--allow-blocked", REASON, env=env)
        assert result.returncode == 0, result.stderr
        digests.append(json.loads(result.stdout)["digest"])
    assert digests[0] == digests[1], "same folder and reason, same digest"

    clean = write_case(tmp_path / "clean", CORPUS["clean"][0])
    plain = cli("publish", clean, f"oci:{tmp_path}/plain", "--json", env=env)
    allowed = cli("publish", clean, f"oci:{tmp_path}/allowed", "--json", "--allow-blocked", REASON, env=env)
    assert plain.returncode == allowed.returncode == 0, plain.stderr + allowed.stderr
    # nothing blocked, so nothing is recorded: the reason changes no digest
    assert json.loads(plain.stdout)["digest"] == json.loads(allowed.stdout)["digest"]
    pack = cli("pack", clean, "-o", tmp_path / "packed", "--json", env=env)
    if pack.returncode == 0 and "digest" in pack.stdout:
        assert json.loads(pack.stdout)["digest"] == json.loads(plain.stdout)["digest"]


def test_an_oci_layout_source_is_scanned_too(cli, tmp_path, env):
    """A layout made by `rigging pack` (or any OCI client) is scanned as it would unpack."""
    folder = write_case(tmp_path / "pkg", CORPUS["unicode-tags"][0])
    packed = cli("pack", folder, "-o", tmp_path / "layout", env=env)
    assert packed.returncode == 0, packed.stderr
    refused = cli("publish", f"oci:{tmp_path}/layout:1.0.0", f"oci:{tmp_path}/out", env=env)
    assert refused.returncode == 1 and "RIG-S001 rules/a.md:7" in refused.stderr
    assert not (tmp_path / "out").exists()
    empty = cli("publish", folder, f"oci:{tmp_path}/out", "--allow-blocked", " ", env=env)
    assert empty.returncode == 2 and "needs a reason" in empty.stderr
