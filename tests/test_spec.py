"""oci-media-types/ and the code agree: one schema per file (shipped in the package, linked from the spec), and
a real example."""

from __future__ import annotations

import base64
import json

from jsonschema import Draft202012Validator
from rigging.digests import canonical_json, sha256_digest
from rigging.package_config import package_config
from rigging.packing import pack_package
from rigging.schema import manifest_schema

from rigging import mediatypes as mt
from tests.conftest import REPO_ROOT
from tests.packages import make_package

SPEC = REPO_ROOT / "oci-media-types"


def test_the_spec_folder_links_to_the_schemas_the_package_ships():
    """One copy of each schema: a real file in the package (so an sdist carries it, see
    test_release) that oci-media-types/schema/ links to."""
    for name in ("rigging.schema.json", "project.schema.json"):
        shipped = REPO_ROOT / "rigging/src/rigging/schema" / name
        link = SPEC / "schema" / name
        assert shipped.is_file() and not shipped.is_symlink(), name
        assert link.is_symlink() and link.resolve() == shipped.resolve(), name
    assert manifest_schema() == json.loads((SPEC / "schema/rigging.schema.json").read_text())


def test_schema_is_valid_draft_2020_12():
    schema = manifest_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


def test_example_manifest_and_config_match_the_spec(tmp_path, cli):
    example = json.loads((SPEC / "examples/manifest.json").read_text())
    assert example["artifactType"] == mt.ARTIFACT_TYPE
    assert example["config"]["mediaType"] == mt.CONFIG
    assert [layer["mediaType"] for layer in example["layers"]] == [mt.CONTENT_LAYER, mt.DOCS_LAYER]
    config = json.loads((SPEC / "examples/rigging.json").read_text())
    assert list(Draft202012Validator(manifest_schema()).iter_errors(config)) == []
    # the embedded config is the canonical config of that rigging.json, as its digest says
    embedded = base64.b64decode(example["config"]["data"], validate=True)
    assert embedded == canonical_json(package_config(config, []))
    assert (len(embedded), sha256_digest(embedded)) == (example["config"]["size"], example["config"]["digest"])
    spec_text = (SPEC / "SPEC.md").read_text()
    for media_type in (
        mt.ARTIFACT_TYPE,
        mt.CONFIG,
        mt.CONTENT_LAYER,
        mt.DOCS_LAYER,
        mt.ANN_ORAS_UNPACK,
        mt.ANN_ORAS_CONTENT_DIGEST,
    ):
        assert media_type in spec_text


TARGETS = ["windsurf", "cursor", "copilot", "claude", "agents", "gemini", "cline", "kiro", "junie"]


def test_schema_targets_are_the_agents_rigging_installs_for():
    from rigging.validation import ALL_TARGETS

    assert manifest_schema()["properties"]["targets"]["items"]["enum"] == TARGETS
    assert list(ALL_TARGETS) == TARGETS


def test_schema_skills_entries_follow_the_agent_skills_rules():
    from rigging import skill_md

    entry = manifest_schema()["properties"]["skills"]["items"]
    assert entry["required"] == ["name", "description"] and entry["additionalProperties"] is False
    assert entry["properties"]["name"]["pattern"] == skill_md.NAME.pattern
    assert entry["properties"]["name"]["maxLength"] == skill_md.MAX_NAME_CHARS
    assert entry["properties"]["description"]["maxLength"] == skill_md.MAX_DESCRIPTION_CHARS
    validator = Draft202012Validator(manifest_schema())
    base = {"name": "acme/x", "version": "1.0.0"}
    assert not list(validator.iter_errors({**base, "skills": [{"name": "pdf-tools", "description": "d"}]}))
    for bad in (
        [{"name": "PDF", "description": "d"}],
        [{"name": "pdf-tools"}],
        [{"name": "pdf-tools", "description": "d", "extra": 1}],
        [{"name": "pdf-tools", "description": "d" * 1025}],
    ):
        assert list(validator.iter_errors({**base, "skills": bad})), bad


def test_example_config_with_skills_is_what_pack_makes(tmp_path, cli):
    """examples/config-skills.json is real: a package folder made from it packs to exactly that config."""
    example = json.loads((SPEC / "examples/config-skills.json").read_text())
    assert list(Draft202012Validator(manifest_schema()).iter_errors(example)) == []
    assert [s["name"] for s in example["skills"]] == sorted(s["name"] for s in example["skills"])
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "rigging.json").write_text(json.dumps({k: v for k, v in example.items() if k != "skills"}, indent=2))
    for skill in example["skills"]:
        folder = pkg / "skills" / skill["name"]
        folder.mkdir(parents=True)
        (folder / "SKILL.md").write_text(f"---\nname: {skill['name']}\ndescription: {skill['description']}\n---\n")
    packed = cli("pack", pkg, "-o", tmp_path / "layout", "--json")
    assert packed.returncode == 0, packed.stderr
    blobs = tmp_path / "layout/blobs/sha256"
    manifest = json.loads((blobs / json.loads(packed.stdout)["digest"].removeprefix("sha256:")).read_bytes())
    config = (blobs / manifest["config"]["digest"].removeprefix("sha256:")).read_bytes()
    assert config == json.dumps(example, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def test_spec_names_every_skill_code_and_the_file_modes():
    from rigging.problems import CODES

    spec_text = (SPEC / "SPEC.md").read_text()
    for code in CODES:
        if code.startswith("RIG5"):
            assert f"`{code}`" in spec_text, code
    assert "0755" in spec_text and "0644" in spec_text and "`skills`" in spec_text
    assert "examples/config-skills.json" in spec_text


def test_pack_embeds_the_config_in_its_descriptor_up_to_16_kib(tmp_path):
    """The fixed rule of SPEC.md's "Embedded config": at most 16 KiB in `data`, never more."""
    small = pack_package(make_package(tmp_path / "small", "acme/small"))
    descriptor = json.loads(small.manifest_bytes)["config"]
    assert base64.b64decode(descriptor["data"]) == small.config.data

    big = make_package(tmp_path / "big", "acme/big")
    manifest = json.loads((big / "rigging.json").read_text())
    manifest["dependencies"] = {
        f"acme/a-rather-long-dependency-name-{n:03}": "^1.0.0 || ^2.0.0 || ^3.0.0 || ^4.0.0 || ^5.0.0"
        for n in range(200)
    }
    (big / "rigging.json").write_text(json.dumps(manifest))
    packed = pack_package(big)
    assert packed.config.size > mt.EMBEDDED_CONFIG_MAX
    assert "data" not in json.loads(packed.manifest_bytes)["config"]
