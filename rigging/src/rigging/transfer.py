"""Publish and pull: copies of one package manifest and its blobs between stores."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rigging import mediatypes as mt
from rigging.cache import BlobCache
from rigging.digests import sha256_digest
from rigging.errors import IntegrityError, RiggingError, UsageError
from rigging.names import short_name
from rigging.reference import LayoutRef, Ref, RegistryRef, parse_ref
from rigging.registry.client import Progress
from rigging.registry.errors import RegistryError
from rigging.stores import Descriptor, LayoutStore, RegistryStore, Store
from rigging.versions import tag_to_version, version_to_tag

CONCURRENCY = 4


@contextlib.contextmanager
def open_store(
    ref: Ref, *, plain_http: bool = False, ca_file: str | None = None, base: Path | None = None
) -> Iterator[Store]:
    """`base`: the folder a project's relative `oci:DIR` store is relative to (its root)."""
    if isinstance(ref, LayoutRef):
        yield LayoutStore(Path(ref.path))
        return
    from rigging.layout_registry import LayoutRegistry, is_layout_host

    if is_layout_host(ref.host):  # a project's location in an `oci:DIR` store
        yield RegistryStore(LayoutRegistry.at(ref.host, base), ref.repository)  # type: ignore[arg-type]
        return
    from rigging.registry.client import RegistryClient
    from rigging.settings import registry_options

    options = registry_options(ref.host, plain_http, ca_file)
    client = RegistryClient(ref.host, plain_http=options.plain_http, ca_bundle=options.ca_file)
    try:
        yield RegistryStore(client, ref.repository)
    finally:
        client.close()


@dataclass
class Package:
    """A package manifest with what it names, parsed and checked."""

    manifest_bytes: bytes
    manifest: dict[str, Any]
    config: Descriptor
    layers: list[Descriptor]
    blobs: dict[str, bytes] = field(default_factory=dict)  # digest -> content, when held in memory

    @property
    def digest(self) -> str:
        return sha256_digest(self.manifest_bytes)

    @property
    def content_layer(self) -> Descriptor:
        return next(d for d in self.layers if d.media_type == mt.CONTENT_LAYER)

    @property
    def docs_layer(self) -> Descriptor | None:
        return next((d for d in self.layers if d.media_type == mt.DOCS_LAYER), None)

    @property
    def annotations(self) -> dict[str, str]:
        return self.manifest.get("annotations") or {}

    def content_title(self, name: str) -> str:
        """The folder the content layer's entries lie under (its ORAS title), else the short name."""
        return self.annotated_content_title() or short_name(name)

    def annotated_content_title(self) -> str | None:
        for layer in self.manifest.get("layers") or []:
            if layer.get("mediaType") == mt.CONTENT_LAYER and (layer.get("annotations") or {}).get(mt.ANN_TITLE):
                return str(layer["annotations"][mt.ANN_TITLE])
        return None


def parse_package_manifest(data: bytes, where: str) -> Package:
    try:
        manifest = json.loads(data)
    except ValueError:
        raise IntegrityError(f"{where}: manifest is not JSON") from None
    if not isinstance(manifest, dict):
        raise IntegrityError(f"{where}: manifest is not a JSON object")
    artifact_type = manifest.get("artifactType") or (manifest.get("config") or {}).get("mediaType")
    if manifest.get("mediaType") == mt.OCI_INDEX or "manifests" in manifest:
        raise RiggingError(f"{where}: is an image index, not a Rigging package")
    if artifact_type != mt.ARTIFACT_TYPE:
        raise RiggingError(f"{where}: is not a Rigging package (artifactType {artifact_type!r})")
    config = Descriptor.of(manifest.get("config") or {})
    layers = [Descriptor.of(layer) for layer in manifest.get("layers") or []]
    if config.media_type != mt.CONFIG or not any(d.media_type == mt.CONTENT_LAYER for d in layers):
        raise IntegrityError(f"{where}: Rigging manifest lacks its config or content layer")
    package = Package(data, manifest, config, layers)
    embedded = (manifest.get("config") or {}).get("data")
    if embedded is not None:
        package.blobs[config.digest] = _embedded(embedded, config, where)
    return package


def _embedded(data: object, desc: Descriptor, where: str) -> bytes:
    """A descriptor's `data` (image-spec 1.1: base64 of the very blob), checked as a download is."""
    import base64
    import binascii

    try:
        blob = base64.b64decode(data, validate=True) if isinstance(data, str) else None
    except (binascii.Error, ValueError):
        blob = None
    if blob is None or len(blob) != desc.size or sha256_digest(blob) != desc.digest:
        raise IntegrityError(f"{where}: the config's embedded data does not match its digest {desc.digest}")
    return blob


def cache_embedded(package: Package, cache: BlobCache) -> None:
    """Put the blobs the manifest carries (its config, usually) in the cache: none is downloaded."""
    for digest, blob in package.blobs.items():
        if cache.get(digest, len(blob)) is None:
            cache.put_bytes(digest, blob)


def _package_from_source(source: str) -> Package:
    """A package folder (packed now) or `oci:LAYOUT[:tag]`."""
    if source.startswith("oci:") and not source.startswith("oci://"):
        ref = parse_ref(source)
        assert isinstance(ref, LayoutRef)
        store = LayoutStore(Path(ref.path))
        reference = ref.reference
        if reference is None:
            tags = store.tags()
            if len(tags) != 1:
                raise UsageError(f"{source}: name the version to publish, e.g. {source}:{tags[0] if tags else '1.0.0'}")
            reference = tags[0]
        data, _, _ = store.get_manifest(reference)
        package = parse_package_manifest(data, str(ref))
        for desc in [package.config, *package.layers]:
            package.blobs[desc.digest] = store.layout.read_blob(desc.digest, desc.size)
        return package
    root = Path(source)
    if not root.is_dir():
        raise UsageError(f"{source}: no such package folder or oci: layout")
    from rigging.packing import pack_package

    packed = pack_package(root)
    package = parse_package_manifest(packed.manifest_bytes, source)
    package.blobs = {blob.digest: blob.data for blob in packed.blobs}
    return package


def with_annotations(package: Package, annotations: dict[str, str]) -> Package:
    """The package with `annotations` added to its manifest's, written as packing writes them
    (sorted keys, compact JSON), so the same input and annotations give the same digest."""
    if not annotations:
        return package
    manifest = json.loads(package.manifest_bytes)
    manifest["annotations"] = dict(sorted({**(manifest.get("annotations") or {}), **annotations}.items()))
    data = json.dumps(manifest, separators=(",", ":"), ensure_ascii=False).encode()
    return Package(data, manifest, package.config, package.layers, package.blobs)


def package_files(package: Package) -> Iterator[tuple[str, bytes]]:
    """(path, content) of every file a held package unpacks to, checked as untrusted (as pull is)."""
    from rigging.archive import iter_layer

    title = package.content_title(str(_config_of(package).get("name", "")))
    yield from iter_layer(package.blobs[package.content_layer.digest], title, label="content layer")
    if package.docs_layer is not None:
        for rel, data in iter_layer(package.blobs[package.docs_layer.digest], "docs", docs=True, label="docs layer"):
            yield "docs/" + rel, data


def _config_of(package: Package) -> dict[str, Any]:
    data = package.blobs[package.config.digest]
    try:
        config = json.loads(data)
    except ValueError:
        raise IntegrityError("package config is not JSON") from None
    if not isinstance(config, dict) or "name" not in config or "version" not in config:
        raise IntegrityError("package config lacks name or version")
    return config


def store_member(ref: LayoutRef, name: str) -> LayoutRef:
    """`oci:DIR` names a store when DIR already holds NS/NAME layouts (and is not one itself):
    the package goes to DIR/NS/NAME. Otherwise DIR is the layout (made, with its folders, if new)."""
    root = Path(ref.path)
    if root.is_dir() and not (root / "oci-layout").is_file() and next(root.glob("*/*/oci-layout"), None):
        return LayoutRef(str(root / name), ref.tag, ref.digest)
    return ref


def publish(
    source: str,
    target: str,
    *,
    extra_tags: list[str] | None = None,
    force: bool = False,
    plain_http: bool = False,
    ca_file: str | None = None,
    progress: Progress | None = None,
    check: Callable[[Package], dict[str, str]] | None = None,
) -> dict[str, Any]:
    """`check` sees the package before anything is pushed: it may refuse (raise), or return
    annotations to add to the manifest (the publish gate's override)."""
    ref = parse_ref(target)
    if ref.digest:
        raise UsageError(f"{target}: publish to a repository, not a digest")
    package = _package_from_source(source)
    if check is not None:
        package = with_annotations(package, check(package))
    config = _config_of(package)
    name, version = config["name"], config["version"]
    if isinstance(ref, LayoutRef):
        ref = store_member(ref, name)
    repository = ref.repository if isinstance(ref, RegistryRef) else name
    if isinstance(ref, RegistryRef) and not (repository == name or repository.endswith("/" + name)):
        raise UsageError(
            f"{target}: repository {repository!r} does not end with the package name {name!r}; "
            f"publish to {ref.host}/{name}"
        )
    version_tag = version_to_tag(version)
    tags = [version_tag] + [t for t in [ref.tag, *(extra_tags or [])] if t and t != version_tag]
    with open_store(ref, plain_http=plain_http, ca_file=ca_file) as store:
        existing = store.tag_digest(version_tag)
        if existing and existing != package.digest and not force:
            raise RiggingError(
                f"{store.describe()}:{version_tag} already holds another manifest ({existing}); "
                "versions are immutable: bump the version (or --force to overwrite)"
            )
        descriptors = [package.config, *package.layers]
        store.prepare_push()
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
            outcomes = list(pool.map(lambda d: store.push_blob(d, package.blobs[d.digest], progress), descriptors))
        for tag in tags:
            store.push_manifest(package.manifest_bytes, mt.OCI_MANIFEST, tag)
        where = store.describe()
    return {
        "name": name,
        "version": version,
        "target": where,
        "tags": tags,
        "digest": package.digest,
        "blobs": {d.digest: outcome for d, outcome in zip(descriptors, outcomes, strict=True)},
    }


def nearest_versions(tags: list[str], wanted: str, count: int = 5) -> list[str]:
    versions = sorted({v for v in (tag_to_version(t) for t in tags) if v is not None})
    if not versions:
        return []
    target = tag_to_version(wanted)
    if target is None:
        return [str(v) for v in versions[-count:]]
    below = [v for v in versions if v < target]
    above = [v for v in versions if v > target]
    picked = below[-(count // 2 + count % 2) :] + above[: count // 2]
    return [str(v) for v in picked]


def newest_tag(tags: list[str]) -> str | None:
    versions = [(v, t) for t in tags if (v := tag_to_version(t)) is not None]
    releases = [(v, t) for v, t in versions if not v.prerelease] or versions
    return max(releases, key=lambda vt: vt[0])[1] if releases else None


def fetch_package(store: Store, reference: str | None, where: str) -> tuple[Package, str]:
    """The package manifest `reference` names (newest version when None), and the reference used."""
    if reference is None:
        reference = newest_tag(store.tags())
        if reference is None:
            raise RiggingError(f"{where}: has no versions to pull")
    try:
        data, _, _ = store.get_manifest(reference)
    except RegistryError as exc:
        if exc.code == "MANIFEST_UNKNOWN" and not reference.startswith("sha256:"):
            near = nearest_versions(store.tags(), reference)
            suggestion = f"; nearest versions: {', '.join(near)}" if near else "; it has no versions"
            raise RiggingError(f"{where}:{reference} not found{suggestion}") from None
        raise
    except RiggingError as exc:
        if isinstance(store, LayoutStore) and "no manifest tagged" in str(exc):
            near = nearest_versions(store.tags(), reference)
            raise RiggingError(
                f"{where}:{reference} not found; nearest versions: {', '.join(near) or 'none'}"
            ) from None
        raise
    return parse_package_manifest(data, f"{where}@{reference}"), reference


def fetch_blobs(
    store: Store, descriptors: list[Descriptor], cache: BlobCache, progress: Progress | None = None
) -> dict[str, Path]:
    """Every descriptor's blob in the cache (verified), fetching the missing ones concurrently."""
    paths: dict[str, Path] = {}
    missing = []
    for desc in descriptors:
        cached = cache.get(desc.digest, desc.size)
        if cached is not None:
            paths[desc.digest] = cached
        else:
            missing.append(desc)

    def fetch(desc: Descriptor) -> None:
        target = cache.path(desc.digest)
        store.fetch_blob(desc, target, progress)
        paths[desc.digest] = target

    expect = getattr(progress, "expect", None)  # a display that shows totals (the CLI's) is told them
    if missing and expect is not None:
        expect(len(missing), sum(d.size for d in missing))
    if len(missing) <= 1:  # a thread pool (and the import of concurrent.futures) would only cost
        for desc in missing:
            fetch(desc)
        return paths
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
        list(pool.map(fetch, missing))
    return paths


def _replace_dir(staging: Path, out: Path, force: bool) -> None:
    if out.exists() and not (out.is_dir() and not any(out.iterdir())):
        if not force:
            raise RiggingError(f"{out}: already exists and is not empty; choose another -o or use --force")
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.replace(out, old)
        os.replace(staging, out)
        shutil.rmtree(old, ignore_errors=True)
        return
    if out.exists():
        out.rmdir()
    os.replace(staging, out)


def pull(
    source: str,
    out: Path | None = None,
    *,
    force: bool = False,
    docs: bool = True,
    plain_http: bool = False,
    ca_file: str | None = None,
    cache: BlobCache | None = None,
    progress: Progress | None = None,
    versions: str | None = None,
) -> dict[str, Any]:
    """`versions`: a range; the newest version it allows is pulled (its tag list read on the same
    connection as the rest)."""
    ref = parse_ref(source)
    cache = cache or BlobCache()
    with open_store(ref, plain_http=plain_http, ca_file=ca_file) as store:
        where = store.describe()
        reference = ref.reference
        if versions is not None:
            from rigging.reference import newest_allowed

            reference = newest_allowed(store.tags(), versions, where)
        package, reference = fetch_package(store, reference, where)
        layers = [package.content_layer] + ([package.docs_layer] if docs and package.docs_layer else [])
        cache_embedded(package, cache)
        blobs = fetch_blobs(store, [package.config, *layers], cache, progress)
    config = json.loads(blobs[package.config.digest].read_bytes())
    name = str(config.get("name", ""))
    title = package.content_title(name)
    out = out or Path(short_name(name) or "package")
    out.resolve().parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out.resolve().parent, prefix=f".{out.name}.pull-"))
    try:
        from rigging.archive import extract_layer

        files = extract_layer(blobs[package.content_layer.digest], title, staging, label=f"{where} content layer")
        if docs and package.docs_layer:
            docs_dir = staging / "docs"
            docs_dir.mkdir(exist_ok=True)
            files += [
                "docs/" + f
                for f in extract_layer(
                    blobs[package.docs_layer.digest], "docs", docs_dir, docs=True, label=f"{where} docs layer"
                )
            ]
        os.chmod(staging, 0o755)  # noqa: S103 - a folder of readable package files, like any checkout
        _replace_dir(staging, out, force)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return {
        "name": name,
        "version": config.get("version"),
        "source": f"{where}:{reference}" if not reference.startswith("sha256:") else f"{where}@{reference}",
        "digest": package.digest,
        "output": str(out),
        "files": sorted(files),
    }
