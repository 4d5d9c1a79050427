"""Where manifests and blobs live: a registry repository or an OCI layout folder, one interface.

Publishing and pulling are copies between two stores; both check every digest they move.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from rigging import mediatypes as mt
from rigging.blob_sources import BlobSources
from rigging.digests import sha256_digest
from rigging.errors import IntegrityError, RiggingError
from rigging.oci_layout import OciLayout
from rigging.registry.client import Progress, RegistryClient
from rigging.registry.errors import RegistryError


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int

    @classmethod
    def of(cls, raw: dict[str, Any]) -> Descriptor:
        try:
            return cls(str(raw["mediaType"]), str(raw["digest"]), int(raw["size"]))
        except (KeyError, TypeError, ValueError):
            raise IntegrityError(f"malformed descriptor {str(raw)[:100]}") from None


class Store(Protocol):
    def describe(self) -> str: ...
    def get_manifest(self, reference: str) -> tuple[bytes, str, str]: ...
    def tag_digest(self, tag: str) -> str | None: ...
    def tags(self) -> list[str]: ...
    def has_blob(self, digest: str) -> bool: ...
    def prepare_push(self) -> None: ...
    def fetch_blob(self, desc: Descriptor, target: Path, progress: Progress | None = None) -> None: ...
    def push_blob(self, desc: Descriptor, data: bytes, progress: Progress | None = None) -> str: ...
    def push_manifest(self, data: bytes, media_type: str, tag: str | None) -> None: ...


class RegistryStore:
    def __init__(self, client: RegistryClient, repository: str, sources: BlobSources | None = None) -> None:
        self.client, self.repository = client, repository
        self.sources = sources or BlobSources()

    def describe(self) -> str:
        return f"{self.client.host}/{self.repository}"

    def get_manifest(self, reference: str) -> tuple[bytes, str, str]:
        return self.client.get_manifest(self.repository, reference)

    def tag_digest(self, tag: str) -> str | None:
        return self.client.head_manifest(self.repository, tag)

    def tags(self) -> list[str]:
        try:
            return self.client.tags(self.repository)
        except RegistryError as exc:
            if exc.code == "NAME_UNKNOWN" or exc.status == 404:
                return []
            raise

    def has_blob(self, digest: str) -> bool:
        return self.client.has_blob(self.repository, digest)

    def prepare_push(self) -> None:
        pass

    def fetch_blob(self, desc: Descriptor, target: Path, progress: Progress | None = None) -> None:
        self.client.download_blob(self.repository, desc.digest, desc.size, target, progress)
        if not self.client.host.startswith("oci:"):  # a store folder has nothing to mount from
            self.sources.remember(self.client.host, self.repository, [desc.digest])

    def push_blob(self, desc: Descriptor, data: bytes, progress: Progress | None = None) -> str:
        mount_from = self.sources.repositories(self.client.host, desc.digest)
        outcome = self.client.upload_blob(self.repository, desc.digest, data, mount_from=mount_from, progress=progress)
        self.sources.remember(self.client.host, self.repository, [desc.digest])
        return outcome

    def push_manifest(self, data: bytes, media_type: str, tag: str | None) -> None:
        self.client.put_manifest(self.repository, tag or sha256_digest(data), data, media_type)


class LayoutStore:
    def __init__(self, root: Path) -> None:
        self.layout = OciLayout(root)

    def describe(self) -> str:
        return f"oci:{self.layout.root}"

    def get_manifest(self, reference: str) -> tuple[bytes, str, str]:
        if not self.layout.exists():
            raise RiggingError(f"{self.layout.root}: is not an OCI layout (no oci-layout file)")
        if reference.startswith("sha256:"):
            data = self.layout.read_blob(reference)
            return data, json.loads(data).get("mediaType", mt.OCI_MANIFEST), reference
        desc = self.layout.resolve(reference)
        data = self.layout.read_blob(desc["digest"], desc.get("size"))
        return data, desc.get("mediaType", mt.OCI_MANIFEST), desc["digest"]

    def tag_digest(self, tag: str) -> str | None:
        if not self.layout.exists():
            return None
        for m in self.layout.index()["manifests"]:
            if (m.get("annotations") or {}).get(mt.ANN_REF_NAME) == tag:
                return m.get("digest")
        return None

    def tags(self) -> list[str]:
        if not self.layout.exists():
            return []
        names = ((m.get("annotations") or {}).get(mt.ANN_REF_NAME) for m in self.layout.index()["manifests"])
        return [n for n in names if n]

    def has_blob(self, digest: str) -> bool:
        return self.layout.blob_path(digest).is_file()

    def prepare_push(self) -> None:
        self.layout.ensure()

    def fetch_blob(self, desc: Descriptor, target: Path, progress: Progress | None = None) -> None:
        from rigging.atomic_files import write_atomic

        data = self.layout.read_blob(desc.digest, desc.size)
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, data)
        if progress:
            progress(len(data))

    def push_blob(self, desc: Descriptor, data: bytes, progress: Progress | None = None) -> str:
        existed = self.has_blob(desc.digest)
        self.layout.put_blob(data, desc.digest)
        return "exists" if existed else "uploaded"

    def push_manifest(self, data: bytes, media_type: str, tag: str | None) -> None:
        digest = self.layout.put_blob(data)
        if tag:
            descriptor: dict[str, Any] = {"mediaType": media_type, "digest": digest, "size": len(data)}
            artifact_type = json.loads(data).get("artifactType")
            if artifact_type:
                descriptor["artifactType"] = artifact_type
            self.layout.tag(descriptor, tag)
