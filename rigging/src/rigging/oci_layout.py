"""OCI image layout folders (`oci:PATH`): the embedded store that needs no server.

Writes are atomic (temp file + rename) and index.json updates are serialised with a lock on
the layout folder, so concurrent packs into one layout never lose an entry.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

from rigging import mediatypes as mt
from rigging.atomic_files import write_atomic
from rigging.digests import is_sha256_digest, sha256_digest
from rigging.errors import IntegrityError, RiggingError


class TagMoved(RiggingError):
    """A conditional tag update found the tag pointing elsewhere than expected."""


class OciLayout:
    def __init__(self, root: Path) -> None:
        self.root = root

    def blob_path(self, digest: str) -> Path:
        if not is_sha256_digest(digest):
            raise IntegrityError(f"{digest!r} is not a sha256 digest")
        return self.root / "blobs" / "sha256" / digest.removeprefix("sha256:")

    def exists(self) -> bool:
        return (self.root / "oci-layout").is_file()

    def ensure(self) -> None:
        """Create the layout, or accept an existing one; refuse a folder that is something else."""
        if self.exists():
            return
        if self.root.exists() and not self.root.is_dir():
            raise RiggingError(f"{self.root}: exists and is not a folder; choose another output path")
        self.root.mkdir(parents=True, exist_ok=True)
        with self._locked():  # two processes creating one layout: the second sees it finished
            if self.exists():
                return
            if any(self.root.iterdir()):
                raise RiggingError(
                    f"{self.root}: folder is not empty and is not an OCI layout (nor a store of NS/NAME layouts); "
                    "choose a new or empty folder"
                )
            (self.root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
            write_atomic(
                self.root / "oci-layout",
                json.dumps({"imageLayoutVersion": mt.OCI_LAYOUT_VERSION}).encode(),
            )

    def _locked(self) -> contextlib.AbstractContextManager[None]:
        from rigging.folder_lock import hold

        return hold(self.root, timeout=float("inf"), on_wait=None)

    def put_blob(self, data: bytes, digest: str | None = None) -> str:
        actual = sha256_digest(data)
        if digest is not None and digest != actual:
            raise IntegrityError(f"blob claimed {digest} but its content hashes to {actual}")
        path = self.blob_path(actual)
        if path.is_file() and path.stat().st_size == len(data):
            return actual
        write_atomic(path, data)
        return actual

    def read_blob(self, digest: str, size: int | None = None) -> bytes:
        path = self.blob_path(digest)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise RiggingError(f"{self.root}: blob {digest} is missing from the layout") from None
        if (size is not None and len(data) != size) or sha256_digest(data) != digest:
            raise IntegrityError(f"{self.root}: blob {digest} does not match its digest (corrupt layout)")
        return data

    def index(self) -> dict[str, Any]:
        path = self.root / "index.json"
        if not path.is_file():
            return {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": []}
        try:
            index = json.loads(path.read_bytes())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise RiggingError(f"{path}: is not valid JSON ({exc}); repair or remove the layout") from None
        if not isinstance(index, dict) or not isinstance(index.get("manifests"), list):
            raise RiggingError(f"{path}: is not an OCI image index; repair or remove the layout")
        return index

    def tag(self, descriptor: dict[str, Any], ref_name: str, *, expected: str | None = None) -> None:
        """Point `ref_name` at `descriptor`, replacing whatever it pointed at before; with
        `expected`, only if it points at that digest now (a registry's If-Match)."""
        with self._locked():
            index = self.index()
            if expected is not None:
                current = next(
                    (
                        m.get("digest")
                        for m in index["manifests"]
                        if (m.get("annotations") or {}).get(mt.ANN_REF_NAME) == ref_name
                    ),
                    None,
                )
                if current != expected:
                    raise TagMoved(f"{self.root}: {ref_name} points at {current}, not {expected}")
            kept = [m for m in index["manifests"] if (m.get("annotations") or {}).get(mt.ANN_REF_NAME) != ref_name]
            entry = dict(descriptor)
            entry["annotations"] = {
                **(descriptor.get("annotations") or {}),
                mt.ANN_REF_NAME: ref_name,
            }
            kept.append(entry)
            kept.sort(key=lambda m: ((m.get("annotations") or {}).get(mt.ANN_REF_NAME, ""), m["digest"]))
            index["manifests"] = kept
            index.setdefault("mediaType", mt.OCI_INDEX)
            write_atomic(self.root / "index.json", json.dumps(index, indent=2).encode() + b"\n")

    def resolve(self, ref: str) -> dict[str, Any]:
        """The descriptor for a tag or digest in this layout."""
        for m in self.index()["manifests"]:
            if m.get("digest") == ref or (m.get("annotations") or {}).get(mt.ANN_REF_NAME) == ref:
                return m
        known = sorted(
            (m.get("annotations") or {}).get(mt.ANN_REF_NAME, m.get("digest", "?")) for m in self.index()["manifests"]
        )
        raise RiggingError(f"{self.root}: no manifest tagged {ref!r}; it holds: {', '.join(known) or 'nothing'}")


def write_package(layout_root: Path, packed: Any) -> dict[str, Any]:
    """Store a PackedPackage's blobs and manifest, tagged with its version; return the descriptor."""
    layout = OciLayout(layout_root)
    layout.ensure()
    for blob in packed.blobs:
        layout.put_blob(blob.data, blob.digest)
    layout.put_blob(packed.manifest_bytes, packed.manifest_digest)
    descriptor = {
        "mediaType": mt.OCI_MANIFEST,
        "digest": packed.manifest_digest,
        "size": len(packed.manifest_bytes),
        "artifactType": mt.ARTIFACT_TYPE,
    }
    layout.tag(descriptor, packed.tag)
    return descriptor
