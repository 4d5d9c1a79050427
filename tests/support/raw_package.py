"""Packages built by hand rather than by `rigging pack`: for content pack would refuse to make
(hostile layers, a config that disagrees with its layer) and for generating thousands quickly."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import tarfile
from typing import Any

from rigging import mediatypes as mt


def _descriptor(media_type: str, blob: bytes, size: int | None = None) -> dict:
    return {
        "mediaType": media_type,
        "digest": "sha256:" + hashlib.sha256(blob).hexdigest(),
        "size": len(blob) if size is None else size,
    }


def tar_gz(files: dict[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for path, data in files.items():
            info = tarfile.TarInfo(path)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


def package_manifest(
    config: bytes,
    layer: bytes,
    title: str,
    *,
    declared_size: int | None = None,
    docs: bytes | None = None,
    embed_config: bool = False,
) -> bytes:
    """A Rigging package manifest for these blobs (the layer's size as declared, if given; `docs`,
    a tar.gz of a `docs/` folder, as the docs layer; `embed_config`: the config in its
    descriptor's `data`, as `rigging pack` writes it)."""
    layers = [{**_descriptor(mt.CONTENT_LAYER, layer, declared_size), "annotations": {mt.ANN_TITLE: title}}]
    if docs is not None:
        layers.append({**_descriptor(mt.DOCS_LAYER, docs), "annotations": {mt.ANN_TITLE: "docs"}})
    manifest = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_MANIFEST,
        "artifactType": mt.ARTIFACT_TYPE,
        "config": _descriptor(mt.CONFIG, config),
        "layers": layers,
    }
    if embed_config:
        manifest["config"]["data"] = base64.b64encode(config).decode()
    return json.dumps(manifest, separators=(",", ":")).encode()


def push_raw_package(
    client,
    repository: str,
    tag: str,
    config: bytes,
    layer: bytes,
    title: str,
    *,
    declared_size: int | None = None,
    docs: bytes | None = None,
) -> None:
    for blob in (config, layer, *([docs] if docs is not None else [])):
        client.upload_blob(repository, "sha256:" + hashlib.sha256(blob).hexdigest(), blob)
    manifest = package_manifest(config, layer, title, declared_size=declared_size, docs=docs)
    client.put_manifest(repository, tag, manifest, mt.OCI_MANIFEST)


def http_push_blob(http: Any, repository: str, data: bytes) -> str:
    """Upload a blob with plain distribution-spec requests (POST, then a monolithic PUT), so that
    a test can put content in a registry without rigging's client; its digest."""
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    start = http.post(f"/v2/{repository}/blobs/uploads/")
    assert start.status_code == 202, start.text
    location = start.headers["Location"]
    done = http.put(f"{location}{'&' if '?' in location else '?'}digest={digest}", content=data)
    assert done.status_code == 201, done.text
    return digest
