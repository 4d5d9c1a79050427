"""A package's doc bundle: the docs layer alone, fetched by `rigging docs` (install never reads it).

The layer is read from its manifest, downloaded into the blob cache with its digest and size
verified, and unpacked as untrusted input by `rigging.archive` (safe paths, Markdown and JSON
only, size caps), exactly as `rigging pull` unpacks it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rigging import mediatypes as mt
from rigging.errors import RiggingError

if TYPE_CHECKING:
    from rigging.cache import BlobCache
    from rigging.installer import DownloadProgress
    from rigging.reference import Ref
    from rigging.stores import Descriptor

DOCS_PREFIX = "docs"  # the docs layer's entries lie under docs/ (its title annotation, see SPEC.md)
_FIRST = ("index.md", "readme.md")  # shown before the other files of their folder


@dataclass(frozen=True)
class DocsBundle:
    name: str
    version: str
    source: str  # where it was read: REGISTRY/NS/NAME:TAG, …@sha256:…, or oci:DIR:TAG
    digest: str  # the package manifest's digest
    layer: Descriptor
    blob: Path  # the verified docs layer in the blob cache

    @property
    def label(self) -> str:
        return f"{self.source} docs layer"

    def files(self) -> list[tuple[str, bytes]]:
        """(path under docs/, content) of every file, an index or README first in each folder."""
        from rigging.archive import iter_layer

        found = [
            (path, data)
            for path, data in iter_layer(self.blob, DOCS_PREFIX, docs=True, label=self.label)
            if not path.endswith("/")
        ]
        return sorted(found, key=lambda item: reading_order(item[0]))

    def extract(self, out: Path, *, force: bool = False) -> list[str]:
        """Unpack into `out` (made if missing); an `out` holding files is replaced only with `force`."""
        from rigging.archive import extract_layer

        if out.exists() and not out.is_dir():
            raise RiggingError(f"{out}: is a file; give a folder to extract the docs into")
        if out.is_dir() and any(out.iterdir()) and not force:
            raise RiggingError(f"{out}: already exists and is not empty; choose another -o or use --force")
        parent = out.resolve().parent
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=parent, prefix=f".{out.name}.docs-"))
        try:
            written = extract_layer(self.blob, DOCS_PREFIX, staging, docs=True, label=self.label)
            os.chmod(staging, 0o755)  # noqa: S103 - a folder of readable documents, like any checkout
            if out.exists():
                old = parent / f".{out.name}.old-{os.getpid()}"
                os.replace(out, old)
                os.replace(staging, out)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(staging, out)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return sorted(written, key=reading_order)


def reading_order(path: str) -> tuple[str, int, str]:
    folder, _, base = path.rpartition("/")
    return folder, 0 if base.lower() in _FIRST else 1, base


def fetch_docs(
    ref: Ref,
    *,
    plain_http: bool = False,
    ca_file: str | None = None,
    cache: BlobCache | None = None,
    progress: DownloadProgress | None = None,
) -> DocsBundle:
    """The docs of the package `ref` names (its newest release when it names no version); only the
    manifest and the docs layer are read. A package without docs is an error saying so."""
    from rigging.cache import BlobCache
    from rigging.transfer import fetch_blobs, fetch_package, open_store

    cache = cache or BlobCache()
    with open_store(ref, plain_http=plain_http, ca_file=ca_file) as store:
        where = store.describe()
        package, reference = fetch_package(store, ref.reference, where)
        source = f"{where}@{reference}" if reference.startswith("sha256:") else f"{where}:{reference}"
        annotations = package.annotations
        name = annotations.get(mt.ANN_TITLE, "")
        version = annotations.get(mt.ANN_VERSION, reference)
        layer = package.docs_layer
        if layer is None:
            raise RiggingError(
                f"{source}: {name or 'this package'} {version} has no docs (its package has no docs/ folder)"
            )
        blob = fetch_blobs(store, [layer], cache, progress)[layer.digest]
    return DocsBundle(name, version, source, package.digest, layer, blob)
