"""The rigging.json JSON Schemas, real files in this package (oci-media-types/schema/ links here, so
an sdist carries them):
a package's (rigging.schema.json) and a project's (project.schema.json, which refers to the first
for the keys a folder that is also a package holds)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

SCHEMA_RESOURCE = "schema/rigging.schema.json"
PROJECT_SCHEMA_RESOURCE = "schema/project.schema.json"


def _load(resource: str) -> dict[str, Any]:
    return json.loads(resources.files("rigging").joinpath(resource).read_text(encoding="utf-8"))


@cache
def manifest_schema() -> dict[str, Any]:
    return _load(SCHEMA_RESOURCE)


@cache
def project_schema() -> dict[str, Any]:
    return _load(PROJECT_SCHEMA_RESOURCE)


def _sorted(errors: Any) -> list[Any]:
    return sorted(errors, key=lambda e: [str(p) for p in e.absolute_path])


def schema_errors(document: object) -> list[Any]:
    """jsonschema errors for `document`, most specific first and in document order."""
    # Imported here: jsonschema costs ~0.15 s to import and only validation needs it.
    from jsonschema import Draft202012Validator

    return _sorted(Draft202012Validator(manifest_schema()).iter_errors(document))


def project_schema_errors(document: object) -> list[Any]:
    """jsonschema errors for a project's rigging.json (`rigging install` checks the same rules by
    hand, in rigging.project, to start fast)."""
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    package = manifest_schema()
    registry = Registry().with_resource(package["$id"], Resource.from_contents(package))
    return _sorted(Draft202012Validator(project_schema(), registry=registry).iter_errors(document))
