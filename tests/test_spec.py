"""oci-media-types/ is the one source of truth: the schema the code uses, and a real example."""

from __future__ import annotations

import json

from jsonschema import Draft202012Validator
from rigging.schema import manifest_schema

from rigging import mediatypes as mt
from tests.conftest import REPO_ROOT

SPEC = REPO_ROOT / "oci-media-types"


def test_packaged_schema_is_a_link_to_the_spec_not_a_copy():
    link = REPO_ROOT / "rigging/src/rigging/schema/rigging.schema.json"
    assert link.is_symlink()
    assert link.resolve() == (SPEC / "schema/rigging.schema.json").resolve()
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
