"""`rigging install`: resolve (or take the lock), fetch into the cache, render for each agent,
and change the project in one transaction.

With an up-to-date lock and a warm cache nothing here touches the network, and the registry
client is not even imported.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from rigging import txn
from rigging.cache import BlobCache
from rigging.errors import RiggingError
from rigging.lockfile import Lock, LockedPackage, load_lock
from rigging.managed_section import current_section, replace_section
from rigging.project import LOCK_FILE, PROJECT_FILE, Project, load_project, parse_project

if TYPE_CHECKING:
    from rigging.registry.client import RegistryClient
    from rigging.targets import PackageContent

FETCH_WORKERS = 8


class InstallOptions:
    __slots__ = ("ca_file", "force", "frozen", "locked", "max_depth", "plain_http", "project_data", "update")

    def __init__(
        self,
        *,
        frozen: bool = False,
        locked: bool = False,
        force: bool = False,
        update: set[str] | None = None,
        max_depth: int | None = None,
        plain_http: bool = False,
        ca_file: str | None = None,
        project_data: dict | None = None,
    ) -> None:
        self.frozen = frozen  # install exactly the lock; never resolve
        self.locked = locked  # fail unless the lock is current; check that no locked tag moved
        self.force = force  # overwrite or remove files the user changed
        self.update = update  # None: keep the lock; empty: re-resolve all; names: those
        self.max_depth, self.plain_http, self.ca_file = max_depth, plain_http, ca_file
        self.project_data = project_data  # a changed rigging.json to write in the same transaction


class InstallResult:
    def __init__(self, recovered: str | None = None) -> None:
        self.packages: dict[str, str] = {}
        self.written: list[str] = []
        self.removed: list[str] = []
        self.kept: list[str] = []  # edited by the user and left alone
        self.unchanged = 0
        self.warnings: list[str] = []
        self.resolved = False
        self.requests = 0
        self.recovered = recovered


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _disk_hash(path: Path) -> str | None:
    try:
        return _sha(path.read_bytes())
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None


class _Network:
    """Registry clients made on first use, so a warm install never imports one."""

    def __init__(self, options: InstallOptions) -> None:
        self.options = options
        self.clients: dict[str, RegistryClient] = {}
        self._lock = threading.Lock()

    def client(self, host: str) -> RegistryClient:
        with self._lock:  # one client (and connection pool) per registry, however many threads ask
            return self._client(host)

    def _client(self, host: str) -> RegistryClient:
        if host not in self.clients:
            from rigging.registry.client import RegistryClient
            from rigging.settings import registry_options

            opts = registry_options(host, self.options.plain_http, self.options.ca_file)
            self.clients[host] = RegistryClient(host, plain_http=opts.plain_http, ca_bundle=opts.ca_file)
        return self.clients[host]

    @property
    def requests(self) -> int:
        return sum(c.requests for c in self.clients.values())

    def close(self) -> None:
        for c in self.clients.values():
            c.close()


def _resolve(
    project: Project, old: Lock | None, options: InstallOptions, cache: BlobCache, result: InstallResult
) -> dict[str, LockedPackage]:
    from rigging.catalog_registry import RegistryCatalog
    from rigging.resolver import resolve
    from rigging.versions import Version

    project.check_ranges()
    preferred: dict[str, Version] = {}
    if old is not None and options.update is not None and options.update:
        preferred = {n: Version.parse(p.version) for n, p in old.packages.items() if n not in options.update}
    elif old is not None and options.update is None:
        preferred = {n: Version.parse(p.version) for n, p in old.packages.items()}
    import os

    from rigging.settings import load as load_settings

    index_url = os.environ.get("RIGGING_INDEX_URL") or load_settings().get("index_url")
    if index_url:
        from rigging.catalog_index import IndexCatalog

        catalog: RegistryCatalog = IndexCatalog(
            index_url, project.location, cache, options.plain_http, options.ca_file, fetch_content=True
        )
    else:
        catalog = RegistryCatalog(project.location, cache, options.plain_http, options.ca_file, fetch_content=True)
    with catalog:
        resolution = resolve(
            catalog, project.dependencies, max_depth=options.max_depth or project.max_depth, preferred=preferred
        )
        futures = {name: catalog.meta_future(name, version) for name, version in resolution.versions.items()}
        metas = {name: future.result() for name, future in futures.items()}
        result.requests += catalog.requests
    packages = {}
    for name, meta in sorted(metas.items()):
        previous = old.packages.get(name) if old else None
        if previous and previous.version == str(meta.version) and previous.manifest != meta.manifest:
            raise RiggingError(
                f"{meta.source}:{meta.tag} now points to {meta.manifest}, but rigging.lock recorded "
                f"{previous.manifest}: the tag was moved. Refusing; check with the publisher, then "
                f"`rigging update {name} --force` to accept the new content"
            )
        packages[name] = LockedPackage(
            name,
            str(meta.version),
            meta.source,
            meta.tag,
            meta.manifest,
            meta.content.digest,
            meta.content.size,
            meta.dependencies,
        )
    result.resolved = True
    return packages


def _check_tags(packages: dict[str, LockedPackage], network: _Network) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def check(package: LockedPackage) -> None:
        host, _, repository = package.source.partition("/")
        current = network.client(host).head_manifest(repository, package.tag)
        if current != package.manifest:
            raise RiggingError(
                f"{package.source}:{package.tag} now points to {current or 'nothing'}, but rigging.lock recorded "
                f"{package.manifest}: the tag was moved or deleted. Refusing to install"
            )

    with ThreadPoolExecutor(max_workers=FETCH_WORKERS) as pool:
        list(pool.map(check, packages.values()))


def _check_signatures(
    project: Project, packages: dict[str, LockedPackage], network: _Network, result: InstallResult
) -> None:
    """Verify each package its policy rule covers; record the signer; refuse (enforce) or warn."""
    import fnmatch

    from rigging.reference import RegistryRef
    from rigging.signing.verifier import Identity, Requirements, verify_reference

    assert project.signatures is not None
    enforce = project.signatures["mode"] == "enforce"
    for name, package in sorted(packages.items()):
        rule = next(
            (r for r in project.signatures["require"] if fnmatch.fnmatchcase(name, r.get("packages", "*"))), None
        )
        if rule is None:
            continue
        requirements = Requirements(
            keys=[project.root / k for k in rule.get("keys", [])],
            identities=[Identity(rule["issuer"], rule.get("identity"), rule.get("identityRegexp"))]
            if rule.get("issuer")
            else [],
            offline=bool(rule.get("offline", False)),
        )
        host, _, repository = package.source.partition("/")
        ref = RegistryRef(host, repository, digest=package.manifest)
        _, verified, problems = verify_reference(network.client(host), ref, requirements)
        if verified:
            package.signer = verified[0].signer
            continue
        why = "; ".join(problems) if problems else "it has no signatures"
        message = f"{name} {package.version} ({package.manifest}) is not signed as rigging.json requires: {why}"
        if enforce:
            raise RiggingError(message + "; nothing was installed")
        result.warnings.append(message)


def _ensure_blobs(packages: dict[str, LockedPackage], cache: BlobCache, network: _Network) -> dict[str, Path]:
    paths: dict[str, Path] = {}
    missing: list[LockedPackage] = []
    for package in packages.values():
        found = cache.get(package.content_digest, package.content_size)
        if found is None:
            missing.append(package)
        else:
            paths[package.name] = found

    def fetch(package: LockedPackage) -> None:
        host, _, repository = package.source.partition("/")
        target = cache.path(package.content_digest)
        network.client(host).download_blob(repository, package.content_digest, package.content_size, target)
        paths[package.name] = target

    if missing:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=FETCH_WORKERS) as pool:
            list(pool.map(fetch, missing))
    return paths


def install(root: Path, options: InstallOptions | None = None, cache: BlobCache | None = None) -> InstallResult:
    options = options or InstallOptions()
    cache = cache or BlobCache()
    result = InstallResult(recovered=txn.recover(root))
    project = parse_project(root, options.project_data) if options.project_data is not None else load_project(root)
    old = load_lock(root)
    current = old is not None and old.requires == project.dependencies
    if (options.frozen or options.locked) and not current:
        flag = "--frozen" if options.frozen else "--locked"
        raise RiggingError(
            f"{root / LOCK_FILE} is out of date with {PROJECT_FILE} (or missing); run `rigging install` "
            f"without {flag} to update it"
        )
    frozen_recheck = options.frozen and project.signatures is not None
    if (
        current
        and options.update is None
        and not options.locked
        and options.project_data is None
        and not frozen_recheck
    ):
        assert old is not None
        if old.targets == project.targets and _installed_as_locked(root, old):
            # nothing to do: every file is as the lock says; no blob is read, nothing imported
            result.packages = {n: p.version for n, p in old.packages.items()}
            result.unchanged = sum(len(p.files) for p in old.packages.values())
            return result
    network = _Network(options)
    try:
        if options.frozen or (current and options.update is None):
            assert old is not None
            packages = {n: p.without_files() for n, p in old.packages.items()}
            if options.locked:
                _check_tags(old.packages, network)
        else:
            packages = _resolve(project, old, options, cache, result)
        if project.signatures is not None:
            _check_signatures(project, packages, network, result)
        blobs = _ensure_blobs(packages, cache, network)
        result.requests += network.requests
    finally:
        network.close()

    from rigging.targets import TARGET_DIRS, budget_warnings, read_content, render_files

    contents = [read_content(blobs[name], name, packages[name].version) for name in sorted(packages)]
    desired: dict[str, bytes] = {}
    owner: dict[str, str] = {}
    for content in contents:
        for path, text in render_files(content, project.targets).items():
            if path in owner:
                raise RiggingError(
                    f"{owner[path]} and {content.name} both install {path}; they cannot be used together"
                )
            owner[path] = content.name
            desired[path] = text.encode()
            packages[content.name].files[path] = _sha(desired[path])
    result.warnings += budget_warnings({p: d.decode() for p, d in desired.items()})
    result.packages = {n: p.version for n, p in packages.items()}

    writes, deletes, conflicts = _plan_files(root, desired, old, options.force, result)
    managed = _plan_managed(root, contents, project, old, options.force, writes, deletes, conflicts)
    if conflicts:
        shown = ", ".join(conflicts[:5]) + (f" and {len(conflicts) - 5} more" if len(conflicts) > 5 else "")
        raise RiggingError(
            f"changed since rigging installed them: {shown}; move your edits aside, or rerun with --force "
            "to overwrite them"
        )
    lock = Lock(dict(project.dependencies), list(project.targets), packages, managed)
    lock_bytes = lock.serialise()
    if options.project_data is not None:
        writes.insert(0, (PROJECT_FILE, project.serialise()))
    try:
        old_lock_bytes = (root / LOCK_FILE).read_bytes()
    except FileNotFoundError:
        old_lock_bytes = None
    if lock_bytes != old_lock_bytes:
        writes.append((LOCK_FILE, lock_bytes))  # last: the lock describes a finished change
    if writes or deletes:
        txn.apply(root, writes, deletes, prune=TARGET_DIRS)
    result.written = [p for p, _ in writes]
    result.removed = deletes
    return result


def _installed_as_locked(root: Path, lock: Lock) -> bool:
    for path, digest in lock.all_files().items():
        if _disk_hash(root / path) != digest:
            return False
    for file_name, recorded in lock.managed.items():
        try:
            section = current_section((root / file_name).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return False
        if section is None or _sha(section.encode()) != recorded.get("sha256"):
            return False
    return True


def _plan_files(
    root: Path, desired: dict[str, bytes], old: Lock | None, force: bool, result: InstallResult
) -> tuple[list[tuple[str, bytes]], list[str], list[str]]:
    old_files = old.all_files() if old else {}
    writes: list[tuple[str, bytes]] = []
    deletes: list[str] = []
    conflicts: list[str] = []
    for path in sorted(desired):
        data = desired[path]
        on_disk = _disk_hash(root / path)
        if on_disk == _sha(data):
            result.unchanged += 1
            continue
        if on_disk is None or on_disk == old_files.get(path) or force:
            writes.append((path, data))
        elif old_files.get(path) == _sha(data):
            result.kept.append(path)  # edited by the user, and install has nothing new for it
        else:
            conflicts.append(path)
    for path in sorted(set(old_files) - set(desired)):
        on_disk = _disk_hash(root / path)
        if on_disk is None:
            continue
        if on_disk == old_files[path] or force:
            deletes.append(path)
        else:
            conflicts.append(path)
    return writes, deletes, conflicts


def _plan_managed(
    root: Path,
    contents: list[PackageContent],
    project: Project,
    old: Lock | None,
    force: bool,
    writes: list[tuple[str, bytes]],
    deletes: list[str],
    conflicts: list[str],
) -> dict[str, dict]:
    from rigging.targets import MANAGED_FILES, render_section

    managed: dict[str, dict] = {}
    for target, file_name in MANAGED_FILES.items():
        recorded = (old.managed.get(file_name) if old else None) or {}
        section = render_section(contents, target) if target in project.targets else ""
        if not section and not recorded:
            continue
        path = root / file_name
        try:
            existing = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            existing = None
        standing = current_section(existing)
        edited = standing is not None and _sha(standing.encode()) != recorded.get("sha256")
        if edited and not force:
            if section and _sha(section.encode()) == recorded.get("sha256"):
                managed[file_name] = dict(recorded)  # the user's edit stays; nothing new to put there
                continue
            conflicts.append(f"{file_name} (its rigging section)")
            continue
        updated = replace_section(existing, section)
        if updated is None:
            if existing is not None:
                deletes.append(file_name)
        elif updated != existing:
            writes.append((file_name, updated.encode()))
        if section:
            managed[file_name] = {"sha256": _sha(section.encode())}
    return managed
