"""The rigging.json JSON Schema, shipped in this package from oci-media-types/ (one source)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

SCHEMA_RESOURCE = "schema/rigging.schema.json"


@cache
def manifest_schema() -> dict[str, Any]:
    text = resources.files("rigging").joinpath(SCHEMA_RESOURCE).read_text(encoding="utf-8")
    return json.loads(text)


def schema_errors(document: object) -> list[Any]:
    """jsonschema errors for `document`, most specific first and in document order."""
    # Imported here: jsonschema costs ~0.15 s to import and only validation needs it.
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(manifest_schema())
    return sorted(validator.iter_errors(document), key=lambda e: [str(p) for p in e.absolute_path])
