"""A folder of OCI layouts spoken to as a registry: the embedded store that needs no server.

`oci:DIR` as a project's registry, a publish target or an indexer source is a store in which
repository `ns/name` is the layout folder `DIR/ns/name` (one layout per package, as a registry has
one repository per package). `LayoutRegistry` answers the calls the resolver, install, signing and
the crawler make of a `RegistryClient`, so each of them works on a store unchanged:

- a location's host is `oci:DIR` as written (relative to the project root, or to the working
  folder outside a project), so a lock records `oci:DIR/ns/name` and stays portable;
- every manifest and blob read is checked against its digest (and size) before it is returned;
- there is no referrers API: signatures and attestations are stored as for a registry without
  one — the cosign `.sig` tag and the referrers tag schema (`sha256-<hex>` index) — which
  `oras discover --oci-layout` also finds, since the fallback index names each referrer.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rigging import mediatypes as mt
from rigging.digests import is_sha256_digest, sha256_digest
from rigging.errors import IntegrityError, RiggingError
from rigging.oci_layout import OciLayout, TagMoved

if TYPE_CHECKING:
    from rigging.registry.client import Progress, RegistryClient

LAYOUT_PREFIX = "oci:"
MAX_MANIFEST_BYTES = 4 * 1024 * 1024  # as for a registry: a manifest is small, a larger one is refused


def is_layout_host(host: str) -> bool:
    return host.startswith(LAYOUT_PREFIX) and not host.startswith("oci://")


def client_for(
    host: str, *, base: Path | None = None, plain_http: bool = False, ca_file: str | None = None
) -> RegistryClient | LayoutRegistry:
    """The client for a location's host: a store folder for `oci:DIR` (relative to `base`), else
    a registry with the user's settings for it."""
    if is_layout_host(host):
        return LayoutRegistry.at(host, base)
    from rigging.registry.client import RegistryClient
    from rigging.settings import registry_options

    options = registry_options(host, plain_http, ca_file)
    return RegistryClient(host, plain_http=options.plain_http, ca_bundle=options.ca_file)


class _Answer:
    """What a registry's PUT response tells its callers: no headers (no `OCI-Subject`, as a
    registry without the referrers API answers)."""

    headers: dict[str, str] = {}  # noqa: RUF012 - read only


class LayoutRegistry:
    def __init__(self, root: Path, host: str | None = None) -> None:
        self.root = root
        self.host = host or f"{LAYOUT_PREFIX}{root}"
        self.requests = 0  # reads and writes, as a RegistryClient counts requests
        self._lock = threading.Lock()
        self._indexes: dict[Path, tuple[tuple[int, int, int], dict[str, Any]]] = {}

    @classmethod
    def at(cls, host: str, base: Path | None = None) -> LayoutRegistry:
        # "oci:" alone is the file system root: a lock's "oci:/abs/store/ns/name" splits there
        folder = Path(os.path.expanduser(host[len(LAYOUT_PREFIX) :] or "/"))
        if not folder.is_absolute():
            folder = (base or Path.cwd()) / folder
        return cls(folder, host)

    def close(self) -> None:
        pass

    def expect(self, repositories: list[str]) -> None:
        """A folder needs no token (RegistryClient's interface)."""

    def __enter__(self) -> LayoutRegistry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- where things are --------------------------------------------------------------------

    def layout(self, repository: str) -> OciLayout:
        return OciLayout(self.root / repository if repository else self.root)

    def _where(self, repository: str) -> str:
        return f"{self.host}/{repository}" if repository else self.host

    def _existing(self, repository: str) -> OciLayout | None:
        """The repository's layout, None when there is none yet; a clear error when the store
        itself is missing or is one package's layout rather than a folder of them."""
        layout = self.layout(repository)
        if layout.exists():
            return layout
        if not self.root.is_dir():
            raise RiggingError(
                f"{self.host}: no such folder ({self.root}); check the path, or publish a package into it first "
                "(rigging publish PACKAGE oci:STORE/NAMESPACE/NAME)"
            )
        if repository and OciLayout(self.root).exists():
            raise RiggingError(
                f"{self.host} is one package's OCI layout, not a store of them ({self.root}/NS/NAME); "
                f"copy the package into a store with rigging publish {self.host}:VERSION oci:STORE/NAMESPACE/NAME"
            )
        return None

    def _index(self, layout: OciLayout) -> dict[str, Any]:
        """index.json, parsed once per version of the file (the crawler asks per tag)."""
        path = layout.root / "index.json"
        try:
            stat = path.stat()
        except FileNotFoundError:
            return layout.index()
        key = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        with self._lock:
            cached = self._indexes.get(path)
        if cached is not None and cached[0] == key:
            return cached[1]
        index = layout.index()
        with self._lock:
            self._indexes[path] = (key, index)
        return index

    def _descriptor(self, layout: OciLayout, reference: str) -> dict[str, Any] | None:
        for entry in self._index(layout)["manifests"]:
            if (entry.get("annotations") or {}).get(mt.ANN_REF_NAME) == reference:
                return entry
        return None

    def _unknown(self, repository: str, reference: str, layout: OciLayout) -> RiggingError:
        from rigging.registry.errors import RegistryError

        names = ((m.get("annotations") or {}).get(mt.ANN_REF_NAME) for m in self._index(layout)["manifests"])
        versions = sorted(n for n in names if n and not n.startswith("sha256-"))
        return RegistryError(
            f"{self._where(repository)}:{reference} not found; it holds {', '.join(versions) or 'no versions'}",
            status=404,
            code="MANIFEST_UNKNOWN",
        )

    # -- reads -------------------------------------------------------------------------------

    def tags(self, repository: str, page_size: int = 1000) -> list[str]:
        del page_size
        self.requests += 1
        layout = self._existing(repository)
        if layout is None:
            return []
        names = ((m.get("annotations") or {}).get(mt.ANN_REF_NAME) for m in self._index(layout)["manifests"])
        return sorted({n for n in names if n})

    def catalog(self, page_size: int = 1000) -> list[str] | None:
        """Every `ns/name` layout in the store."""
        del page_size
        self.requests += 1
        if not self.root.is_dir():
            raise RiggingError(f"{self.host}: no such folder ({self.root})")
        return sorted(p.parent.relative_to(self.root).as_posix() for p in self.root.glob("*/*/oci-layout"))

    def get_manifest(self, repository: str, reference: str) -> tuple[bytes, str, str]:
        """(bytes, media type, digest), the bytes checked against the digest."""
        self.requests += 1
        layout = self._existing(repository)
        if layout is None:
            from rigging.registry.errors import RegistryError

            raise RegistryError(
                f"{self._where(repository)}: no OCI layout at {self.layout(repository).root}",
                status=404,
                code="NAME_UNKNOWN",
            )
        if is_sha256_digest(reference):
            digest, size, media_type = reference, None, None
            for entry in self._index(layout)["manifests"]:
                if entry.get("digest") == reference:
                    media_type = entry.get("mediaType")
            if not layout.blob_path(digest).is_file():
                raise self._unknown(repository, reference, layout)
        else:
            entry = self._descriptor(layout, reference)
            if entry is None:
                raise self._unknown(repository, reference, layout)
            digest, size, media_type = str(entry.get("digest")), entry.get("size"), entry.get("mediaType")
        path = layout.blob_path(digest)
        if path.is_file() and path.stat().st_size > MAX_MANIFEST_BYTES:
            raise IntegrityError(f"{self._where(repository)}: manifest {digest} is over {MAX_MANIFEST_BYTES} bytes")
        data = layout.read_blob(digest, size if isinstance(size, int) else None)
        if media_type is None:
            try:
                media_type = json.loads(data).get("mediaType")
            except (ValueError, AttributeError):
                media_type = None
        return data, str(media_type or mt.OCI_MANIFEST), digest

    def head_manifest(self, repository: str, reference: str) -> str | None:
        """The digest a tag points at now, or None if the tag does not exist."""
        self.requests += 1
        layout = self._existing(repository)
        if layout is None:
            return None
        if is_sha256_digest(reference):
            return reference if layout.blob_path(reference).is_file() else None
        entry = self._descriptor(layout, reference)
        return None if entry is None else entry.get("digest")

    def has_blob(self, repository: str, digest: str) -> bool:
        self.requests += 1
        layout = self.layout(repository)
        return layout.exists() and layout.blob_path(digest).is_file()

    def fetch_blob(self, repository: str, digest: str, size: int) -> bytes:
        self.requests += 1
        layout = self._existing(repository)
        if layout is None:
            raise RiggingError(
                f"{self._where(repository)}: no OCI layout at {self.layout(repository).root}; "
                "was the store moved or deleted?"
            )
        return layout.read_blob(digest, size)

    def download_blob(
        self, repository: str, digest: str, size: int, target: Path, progress: Progress | None = None
    ) -> None:
        """Copy a verified blob to `target` (temp file + rename: a reader never sees half of it)."""
        from rigging.atomic_files import write_atomic

        data = self.fetch_blob(repository, digest, size)
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, data)
        if progress:
            progress(len(data))

    def referrers_api(self, repository: str, digest: str) -> list[dict[str, Any]] | None:
        """None: a layout has no referrers API; its referrers are listed in the fallback index."""
        del repository, digest
        return None

    # -- writes ------------------------------------------------------------------------------

    def _ensure(self, repository: str) -> OciLayout:
        layout = self.layout(repository)
        if not layout.exists():
            with self._lock:  # concurrent uploads into a new layout create it once
                layout.ensure()
        return layout

    def upload_blob(
        self,
        repository: str,
        digest: str,
        data: bytes,
        *,
        mount_from: list[str] | None = None,
        progress: Progress | None = None,
    ) -> str:
        del mount_from
        self.requests += 1
        layout = self._ensure(repository)
        if layout.blob_path(digest).is_file():
            return "exists"
        layout.put_blob(data, digest)
        if progress:
            progress(len(data))
        return "uploaded"

    def put_manifest(
        self, repository: str, reference: str, data: bytes, media_type: str, *, if_match: str | None = None
    ) -> _Answer:
        """Store the manifest; a tag points at it (If-Match honoured, as the referrers fallback
        index's read-modify-write expects); a digest reference must be its digest."""
        from rigging.registry.errors import RegistryError

        self.requests += 1
        digest = sha256_digest(data)
        if is_sha256_digest(reference):
            if reference != digest:
                raise IntegrityError(f"{self._where(repository)}: manifest named {reference} hashes to {digest}")
            self._ensure(repository).put_blob(data, digest)
            return _Answer()
        layout = self._ensure(repository)
        layout.put_blob(data, digest)
        descriptor: dict[str, Any] = {"mediaType": media_type, "digest": digest, "size": len(data)}
        try:
            artifact_type = json.loads(data).get("artifactType")
        except (ValueError, AttributeError):
            artifact_type = None
        if artifact_type:
            descriptor["artifactType"] = artifact_type
        expected = if_match.strip('"') if if_match else None
        try:
            layout.tag(descriptor, reference, expected=expected)
        except TagMoved:
            raise RegistryError(
                f"{self._where(repository)}:{reference} changed meanwhile", status=412, code="PRECONDITION_FAILED"
            ) from None
        return _Answer()
