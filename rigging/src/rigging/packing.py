"""Reproducible packing: the same source folder always gives the same manifest digest.

Tar entries are sorted with fixed mtime/uid/gid and no user names; modes are 0755 for folders and
for a skill's files that are executable in the source, 0644 for every other file (so only the
executable bit, never the umask, reaches the digest); gzip has mtime 0 and no file name; the config
is canonical JSON; `created` comes from SOURCE_DATE_EPOCH or the last git
commit that touched the folder, never from the clock or file times.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import tarfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from rigging import mediatypes as mt
from rigging.digests import canonical_json, sha256_digest
from rigging.errors import RiggingError
from rigging.names import short_name
from rigging.package_config import package_config
from rigging.package_files import PackageFile
from rigging.validation import ValidationReport, validate_package
from rigging.versions import version_to_tag

DOCS_TITLE = "docs"


@dataclass(frozen=True)
class Blob:
    media_type: str
    data: bytes
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        return sha256_digest(self.data)

    @property
    def size(self) -> int:
        return len(self.data)

    def descriptor(self, *, embed: bool = False) -> dict[str, object]:
        desc: dict[str, object] = {
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": self.size,
        }
        if self.annotations:
            desc["annotations"] = dict(self.annotations)
        if embed:
            import base64

            desc["data"] = base64.b64encode(self.data).decode("ascii")
        return desc


@dataclass(frozen=True)
class PackedPackage:
    name: str
    version: str
    config: Blob
    layers: tuple[Blob, ...]
    manifest_bytes: bytes

    @property
    def tag(self) -> str:
        return version_to_tag(self.version)

    @property
    def manifest_digest(self) -> str:
        return sha256_digest(self.manifest_bytes)

    @property
    def blobs(self) -> tuple[Blob, ...]:
        return (self.config, *self.layers)


class PackageInvalidError(RiggingError):
    def __init__(self, report: ValidationReport) -> None:
        first = report.errors[0].format() if report.errors else "invalid"
        more = f" (and {len(report.errors) - 1} more; run rigging validate)" if len(report.errors) > 1 else ""
        super().__init__(f"{report.root}: package is invalid: {first}{more}")
        self.report = report


def _tar_gz(root: Path, files: list[PackageFile], prefix: str, strip: str = "") -> tuple[bytes, str]:
    """A gzipped tar of `files` (less `strip`) under `prefix/`, and the uncompressed tar's digest."""
    members: dict[str, PackageFile | None] = {prefix: None}
    for f in files:
        parts = f.path.removeprefix(strip).split("/")
        for depth in range(1, len(parts)):
            members.setdefault(f"{prefix}/{'/'.join(parts[:depth])}", None)
        members[f"{prefix}/{'/'.join(parts)}"] = f
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(members):
            entry = members[name]
            info = tarfile.TarInfo(name)
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if entry is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
            else:
                data = (root / entry.path).read_bytes()
                info.mode = 0o755 if entry.executable else 0o644
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    tar_bytes = raw.getvalue()
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=9) as gz:
        gz.write(tar_bytes)
    return out.getvalue(), sha256_digest(tar_bytes)


def _source_time_and_revision(root: Path) -> tuple[str | None, str | None]:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    revision = None
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "log", "-1", "--format=%ct %H", "--", "."],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        if out.returncode == 0 and out.stdout.strip():
            commit_time, revision = out.stdout.split()
            epoch = epoch or commit_time
    except (OSError, subprocess.SubprocessError):
        pass
    if epoch is None:
        return None, revision
    try:
        created = datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (ValueError, OverflowError) as exc:
        raise RiggingError(f"SOURCE_DATE_EPOCH={epoch!r} is not a Unix time in seconds") from exc
    return created, revision


def pack_package(root: Path, report: ValidationReport | None = None) -> PackedPackage:
    report = report or validate_package(root)
    if not report.valid or report.manifest is None:
        raise PackageInvalidError(report)
    manifest = report.manifest
    name, version = manifest["name"], manifest["version"]
    title = short_name(name)

    content_files = [f for f in report.files if f.layer == "content"]
    doc_files = [f for f in report.files if f.layer == "docs"]
    content, content_tar_digest = _tar_gz(root, content_files, title)
    layers = [
        Blob(
            mt.CONTENT_LAYER,
            content,
            {
                mt.ANN_TITLE: title,
                mt.ANN_ORAS_CONTENT_DIGEST: content_tar_digest,
                mt.ANN_ORAS_UNPACK: "true",
            },
        )
    ]
    if doc_files:
        docs, docs_tar_digest = _tar_gz(root, doc_files, DOCS_TITLE, strip="docs/")
        layers.append(
            Blob(
                mt.DOCS_LAYER,
                docs,
                {
                    mt.ANN_TITLE: DOCS_TITLE,
                    mt.ANN_ORAS_CONTENT_DIGEST: docs_tar_digest,
                    mt.ANN_ORAS_UNPACK: "true",
                },
            )
        )
    config = Blob(mt.CONFIG, canonical_json(package_config(manifest, report.skills)))

    created, revision = _source_time_and_revision(root)
    annotations = {mt.ANN_TITLE: name, mt.ANN_VERSION: version}
    optional = {
        mt.ANN_DESCRIPTION: manifest.get("description"),
        mt.ANN_LICENSES: manifest.get("license"),
        mt.ANN_SOURCE: manifest.get("repository"),
        mt.ANN_REVISION: revision,
        mt.ANN_CREATED: created,
    }
    annotations.update({k: v for k, v in optional.items() if v})
    document = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_MANIFEST,
        "artifactType": mt.ARTIFACT_TYPE,
        "config": config.descriptor(embed=config.size <= mt.EMBEDDED_CONFIG_MAX),
        "layers": [layer.descriptor() for layer in layers],
        "annotations": dict(sorted(annotations.items())),
    }
    manifest_bytes = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
    return PackedPackage(name, version, config, tuple(layers), manifest_bytes)
