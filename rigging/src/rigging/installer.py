"""`rigging install`: resolve (or take the lock), fetch into the cache, render for each agent,
and change the project in one transaction.

With an up-to-date lock and a warm cache nothing here touches the network, and the registry
client is not even imported.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rigging import txn
from rigging.cache import BlobCache
from rigging.errors import RiggingError
from rigging.install_paths import LOCK_FILE, MANAGED_FILES, PROJECT_FILE, TARGET_DIRS, UnsafePath, checked
from rigging.lockfile import Lock, LockedPackage, load_lock
from rigging.managed_section import current_section, replace_section
from rigging.project import Project, load_project, parse_project
from rigging.txn import Change, NotRegular, disk_hash, is_executable, read_regular, section_hash, sha

if TYPE_CHECKING:
    from rigging.registry.client import RegistryClient

FETCH_WORKERS = 8


class InstallOptions:
    __slots__ = ("ca_file", "edit", "force", "frozen", "locked", "max_depth", "plain_http", "update")

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
        edit: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.frozen = frozen  # install exactly the lock; never resolve
        self.locked = locked  # fail unless the lock is current; check that no locked tag moved
        self.force = force  # overwrite or remove files the user changed
        self.update = update  # None: keep the lock; empty: re-resolve all; names: those
        self.max_depth, self.plain_http, self.ca_file = max_depth, plain_http, ca_file
        # changes rigging.json's data as read under the project lock; written in the same transaction
        self.edit = edit


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
        self.targets_note: str | None = None  # which agents install chose, and why, when rigging.json does not say


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


def _check_manifests(packages: dict[str, LockedPackage], cache: BlobCache, network: _Network) -> None:
    """What a lock installs is what its manifest names: the content layer (digest and size), and a
    config naming the same package and version. A signature or a tag covers the manifest, so a
    lock that pairs a signed manifest with other content is refused. Manifests and configs are
    cached by digest, so this costs no request once they have been read."""
    import json
    from concurrent.futures import ThreadPoolExecutor

    from rigging.transfer import parse_package_manifest

    def blob(package: LockedPackage, digest: str, size: int | None, manifest: bool) -> bytes:
        found = cache.get(digest, size)
        if found is not None:
            return found.read_bytes()
        host, _, repository = package.source.partition("/")
        client = network.client(host)
        if manifest:
            return cache.put_bytes(digest, client.get_manifest(repository, digest)[0]).read_bytes()
        client.download_blob(repository, digest, size or 0, cache.path(digest))
        return cache.path(digest).read_bytes()

    def check(package: LockedPackage) -> None:
        where = f"{package.source}@{package.manifest}"
        parsed = parse_package_manifest(blob(package, package.manifest, None, True), where)
        content = parsed.content_layer
        try:
            config = json.loads(blob(package, parsed.config.digest, parsed.config.size, False))
        except ValueError:
            config = None
        named = (config.get("name"), config.get("version")) if isinstance(config, dict) else (None, None)
        if (content.digest, content.size) != (package.content_digest, package.content_size) or named != (
            package.name,
            package.version,
        ):
            raise RiggingError(
                f"rigging.lock: {package.name} {package.version} does not match its manifest {where} (which holds "
                f"{named[0]} {named[1]}, content {content.digest}); the lock is damaged or was tampered with: "
                "restore it, or delete it and run `rigging install`; nothing was changed"
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
    """Install under the project's write lock: a second rigging command in the same project waits."""
    from rigging.folder_lock import hold

    with hold(root):
        return _install(root, options or InstallOptions(), cache or BlobCache())


def _read_project_data(root: Path) -> dict[str, Any]:
    """rigging.json as plain data for an edit ({} when the project has none yet)."""
    from rigging.settings import read_json_object

    return read_json_object(root / PROJECT_FILE, "project file")


def _misplaced(project: Project, lock: Lock) -> str | None:
    """The first locked package that does not come from where rigging.json places it, described."""
    for name, package in sorted(lock.packages.items()):
        base = project.registries.get(name.split("/", 1)[0]) or project.registry or ""
        if package.source == f"{base.removeprefix('oci://').rstrip('/')}/{name}":
            continue  # the common case, decided without parsing the reference
        ref = project.location(name)
        if package.source != f"{ref.host}/{ref.repository}":
            return (
                f"{project.root / LOCK_FILE}: {name} is locked from {package.source}, but {PROJECT_FILE} "
                f"places it at {ref.host}/{ref.repository}"
            )
    return None


def _install(root: Path, options: InstallOptions, cache: BlobCache) -> InstallResult:
    result = InstallResult(recovered=txn.recover(root, force=options.force))
    if options.edit is not None:
        data = _read_project_data(root)
        options.edit(data)
        project = parse_project(root, data)
    else:
        project = load_project(root)
    if not project.explicit_targets:
        from rigging.agents.detect import detect

        project.targets, why = detect(root)
        chosen = ", ".join(project.targets)
        result.targets_note = f'targets: {chosen} ({why}; set "targets" in {PROJECT_FILE} to choose)'

    old = load_lock(root)
    misplaced = _misplaced(project, old) if old is not None else None
    current = old is not None and old.requires == project.dependencies and misplaced is None
    if (options.frozen or options.locked) and not current:
        flag = "--frozen" if options.frozen else "--locked"
        why = misplaced or f"{root / LOCK_FILE} is out of date with {PROJECT_FILE} (or missing)"
        raise RiggingError(f"{why}; run `rigging install` without {flag} to update it")
    frozen_recheck = options.frozen and project.signatures is not None
    if current and options.update is None and not options.locked and options.edit is None and not frozen_recheck:
        assert old is not None
        if old.targets == project.targets and old.renames == project.renames and _installed_as_locked(root, old):
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
            if options.locked or project.signatures is not None:
                _check_manifests(packages, cache, network)
        else:
            packages = _resolve(project, old, options, cache, result)
        if project.signatures is not None:
            _check_signatures(project, packages, network, result)
        blobs = _ensure_blobs(packages, cache, network)
        result.requests += network.requests
    finally:
        network.close()

    from rigging.agents.content import read_content
    from rigging.agents.render import render

    contents = [read_content(blobs[name], name, packages[name].version) for name in sorted(packages)]
    rendered = render(contents, project.targets, project.renames, root, _outside_bytes(root))
    desired: dict[str, bytes] = {}
    executable: set[str] = set()
    for path, output in sorted(rendered.files.items()):
        owner = rendered.owners[path]
        try:
            checked(root, path)
        except UnsafePath as exc:
            raise RiggingError(
                f"{owner} {packages[owner].version}: cannot install {path}: the path {exc}; "
                "replace any link with a real folder (rigging never writes through links)"
            ) from None
        desired[path] = output.data
        packages[owner].files[path] = sha(output.data)
        if output.executable:
            executable.add(path)
            packages[owner].executables.append(path)
    result.warnings += rendered.warnings
    result.packages = {n: p.version for n, p in packages.items()}

    changes, conflicts = _plan_files(root, desired, executable, old, options.force, result)
    managed = _plan_managed(root, rendered.sections, old, options.force, changes, conflicts)
    if conflicts:
        shown = ", ".join(conflicts[:5]) + (f" and {len(conflicts) - 5} more" if len(conflicts) > 5 else "")
        raise RiggingError(
            f"changed since rigging installed them: {shown}; move your edits aside, or rerun with --force "
            "to overwrite them"
        )
    lock = Lock(dict(project.dependencies), list(project.targets), packages, managed, dict(project.renames))
    lock_bytes = lock.serialise()
    if options.edit is not None:
        project_bytes = project.serialise()
        before = disk_hash(root / PROJECT_FILE)
        if before != sha(project_bytes):
            changes.insert(0, Change("write", PROJECT_FILE, before, project_bytes))
    lock_before = disk_hash(root / LOCK_FILE)
    if sha(lock_bytes) != lock_before:
        changes.append(Change("write", LOCK_FILE, lock_before, lock_bytes))  # last: it describes a finished change
    if changes:
        txn.apply(root, changes, prune=_prune_order(changes))
    for change in changes:  # a managed file whose section was its only text is removed with it
        gone = change.op == "delete" or (change.op == "section" and not (root / change.path).exists())
        (result.removed if gone else result.written).append(change.path)
    return result


def _installed_as_locked(root: Path, lock: Lock) -> bool:
    for path, digest in lock.all_files().items():
        if disk_hash(root / path) != digest:
            return False
    for package in lock.packages.values():
        if not all(is_executable(root / path) for path in package.executables):
            return False
    for file_name, recorded in lock.managed.items():
        standing = section_hash(root / file_name)
        if standing is None or standing != recorded.get("sha256"):
            return False
    return True


def _plan_files(
    root: Path, desired: dict[str, bytes], executable: set[str], old: Lock | None, force: bool, result: InstallResult
) -> tuple[list[Change], list[str]]:
    old_files = old.all_files() if old else {}
    changes: list[Change] = []
    conflicts: list[str] = []
    for path in sorted(desired):
        data = desired[path]
        on_disk = disk_hash(root / path)
        if on_disk == sha(data) and is_executable(root / path) == (path in executable):
            result.unchanged += 1
            continue
        if on_disk is None or on_disk == old_files.get(path) or on_disk == sha(data) or force:
            changes.append(Change("write", path, on_disk, data, path in executable))
        elif old_files.get(path) == sha(data):
            result.kept.append(path)  # edited by the user, and install has nothing new for it
        else:
            conflicts.append(path)
    for path in sorted(set(old_files) - set(desired)):
        on_disk = disk_hash(root / path)
        if on_disk is None:
            continue
        if on_disk == old_files[path] or force:
            changes.append(Change("delete", path, on_disk))
        else:
            conflicts.append(path)
    return changes, conflicts


def _prune_order(changes: list[Change]) -> tuple[str, ...]:
    """Folders that may be left empty: those of deleted skill files (deepest first), then the
    agents' folders."""
    from rigging.install_paths import SKILL_DIRS

    inside: set[str] = set()
    for change in changes:
        if change.op == "delete" and change.path.startswith(tuple(d + "/" for d in SKILL_DIRS)):
            parts = change.path.split("/")
            inside.update("/".join(parts[:depth]) for depth in range(3, len(parts)))
    return (*sorted(inside, key=lambda f: (-f.count("/"), f)), *TARGET_DIRS)


def _outside_bytes(root: Path) -> dict[str, int]:
    """How much of each managed file is the user's own text (it counts against AGENTS.md's budget)."""
    sizes = {}
    for file_name in MANAGED_FILES:
        try:
            data = read_regular(root / file_name)
        except NotRegular:
            continue
        if data is not None:
            existing = data.decode("utf-8", "replace")
            sizes[file_name] = len((replace_section(existing, "") or "").encode())
    return sizes


def _plan_managed(
    root: Path,
    sections: dict[str, str],
    old: Lock | None,
    force: bool,
    changes: list[Change],
    conflicts: list[str],
) -> dict[str, dict]:
    managed: dict[str, dict] = {}
    recorded_files = old.managed if old else {}
    for file_name in sorted(set(sections) | set(recorded_files)):
        recorded = recorded_files.get(file_name) or {}
        section = sections.get(file_name, "")
        if not section and not recorded:
            continue
        try:
            data = read_regular(root / file_name)
            existing = data.decode("utf-8") if data is not None else None
        except (NotRegular, UnicodeDecodeError) as exc:
            raise RiggingError(
                f"{root / file_name}: {exc}; rigging edits only its own section of a plain UTF-8 file. "
                f'Replace it with a file, or choose "targets" in {PROJECT_FILE} without the agent that reads it'
            ) from None
        standing = current_section(existing)
        standing_hash = None if standing is None else sha(standing.encode())
        edited = standing_hash is not None and standing_hash != recorded.get("sha256")
        if edited and not force:
            if section and sha(section.encode()) == recorded.get("sha256"):
                managed[file_name] = dict(recorded)  # the user's edit stays; nothing new to put there
                continue
            conflicts.append(f"{file_name} (its rigging section)")
            continue
        if replace_section(existing, section) != existing:
            # the section alone is journaled, and spliced into the file as it stands when applied
            changes.append(Change("section", file_name, standing_hash, section.encode()))
        if section:
            managed[file_name] = {"sha256": sha(section.encode())}
    return managed
