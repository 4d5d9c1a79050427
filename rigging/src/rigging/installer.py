"""`rigging install`: resolve (or take the lock), fetch into the cache, render for each agent,
and change the project in one transaction.

With an up-to-date lock and a warm cache nothing here touches the network, and the registry
client is not even imported.
"""

from __future__ import annotations

import os
from pathlib import Path

from rigging import txn
from rigging.cache import BlobCache
from rigging.errors import RiggingError
from rigging.install_paths import LOCK_FILE, MANAGED_FILES, PROJECT_FILE, TARGET_DIRS, UnsafePath, checked
from rigging.lockfile import DamagedLock, Lock, LockedPackage, load_lock
from rigging.managed_section import current_section, replace_section
from rigging.project import Project, load_project, parse_project
from rigging.txn import Change, NotRegular, disk_hash, is_executable, read_regular, section_hash, sha

# typing and threading cost a no-op install (which never resolves nor downloads) ~4 ms to import:
# the types are for the type checker only, threading is imported where clients are made
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any, Protocol

    from rigging.agents.render import Rendered
    from rigging.catalog_registry import RegistryCatalog
    from rigging.registry.client import RegistryClient
    from rigging.versions import Version

    class DownloadProgress(Protocol):
        """What install tells a progress display: the blobs it is about to download, then bytes as they arrive."""

        def expect(self, blobs: int, size: int) -> None: ...
        def __call__(self, count: int) -> None: ...

    # The edit gets rigging.json's data and a look-up of a package's versions, through the
    # catalogue that resolution goes on to use: `add` learns the newest version without a second
    # tag list, manifest and connection.
    Edit = Callable[[dict[str, Any], Callable[[Project, str], list[Version]]], None]

FETCH_WORKERS = 8


class InstallOptions:
    __slots__ = ("ca_file", "edit", "force", "frozen", "locked", "max_depth", "plain_http", "progress", "update")

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
        edit: Edit | None = None,
        progress: DownloadProgress | None = None,
    ) -> None:
        self.frozen = frozen  # install exactly the lock; never resolve
        self.locked = locked  # fail unless the lock is current; check that no locked tag moved
        self.force = force  # overwrite or remove files the user changed
        self.update = update  # None: keep the lock; empty: re-resolve all; names: those
        self.max_depth, self.plain_http, self.ca_file = max_depth, plain_http, ca_file
        # changes rigging.json's data as read under the project lock; written in the same transaction
        self.edit = edit
        self.progress = progress  # told what the content downloads will move, then each byte count


class InstallResult:
    def __init__(self, recovered: str | None = None) -> None:
        self.packages: dict[str, str] = {}
        self.written: list[str] = []
        self.removed: list[str] = []
        self.kept: list[str] = []  # edited by the user and left alone
        self.overwritten: list[dict[str, str]] = []  # conflicts that --force overwrote: path, reason, package
        self.unchanged = 0
        self.adopted = 0  # files (and sections) on disk that rigging.lock did not list, found as a package writes them
        self.warnings: list[str] = []
        self.resolved = False
        self.requests = 0
        self.recovered = recovered
        self.rebuilt: str | None = None  # how a lost or damaged rigging.lock was rebuilt
        self.targets_note: str | None = None  # which agents install chose, and why, when rigging.json does not say


class _Network:
    """Registry clients made on first use, so a warm install never imports one."""

    def __init__(self, options: InstallOptions, root: Path | None = None) -> None:
        self.options = options
        self.root = root  # relative `oci:DIR` stores in the lock are relative to the project
        self.clients: dict[str, RegistryClient] = {}
        import threading

        self._lock = threading.Lock()

    def client(self, host: str) -> RegistryClient:
        with self._lock:  # one client (and connection pool) per registry, however many threads ask
            return self._client(host)

    def expect(self, packages: Iterable[LockedPackage]) -> None:
        """Tell each registry which repositories are about to be read (one token for all of them)."""
        hosts: dict[str, list[str]] = {}
        for package in packages:
            host, _, repository = package.source.partition("/")
            hosts.setdefault(host, []).append(repository)
        for host, repositories in hosts.items():
            self.client(host).expect(repositories)

    def _client(self, host: str) -> RegistryClient:
        if host not in self.clients:
            from rigging.layout_registry import client_for  # an `oci:DIR` store answers as a registry

            self.clients[host] = client_for(  # type: ignore[assignment]
                host, base=self.root, plain_http=self.options.plain_http, ca_file=self.options.ca_file
            )
        return self.clients[host]

    @property
    def requests(self) -> int:
        return sum(c.requests for c in self.clients.values())

    def close(self) -> None:
        for c in self.clients.values():
            c.close()


def _open_catalog(project: Project, old: Lock | None, options: InstallOptions, cache: BlobCache) -> RegistryCatalog:
    """Where resolution reads versions and metadata: the index's version lists when one is set."""
    import os

    from rigging.catalog_registry import RegistryCatalog
    from rigging.settings import load as load_settings

    index_url = os.environ.get("RIGGING_INDEX_URL") or load_settings().get("index_url")
    if index_url:
        from rigging.catalog_index import IndexCatalog

        catalog: RegistryCatalog = IndexCatalog(
            index_url,
            project.location,
            cache,
            options.plain_http,
            options.ca_file,
            fetch_content=True,
            updating=options.update,
            locked={n: p.version for n, p in old.packages.items()} if old else None,
        )
    else:
        catalog = RegistryCatalog(project.location, cache, options.plain_http, options.ca_file, fetch_content=True)
    catalog.progress = options.progress
    return catalog


def _resolve(
    project: Project,
    old: Lock | None,
    options: InstallOptions,
    cache: BlobCache,
    result: InstallResult,
    catalog: RegistryCatalog | None = None,
) -> dict[str, LockedPackage]:
    from rigging.resolver import resolve
    from rigging.versions import Version

    project.check_ranges()
    preferred: dict[str, Version] = {}
    if old is not None and options.update is not None and options.update:
        preferred = {n: Version.parse(p.version) for n, p in old.packages.items() if n not in options.update}
    elif old is not None and options.update is None:
        preferred = {n: Version.parse(p.version) for n, p in old.packages.items()}
    catalog = catalog or _open_catalog(project, old, options, cache)
    with catalog:
        resolution = resolve(
            catalog, project.dependencies, max_depth=options.max_depth or project.max_depth, preferred=preferred
        )
        futures = {name: catalog.meta_future(name, version) for name, version in resolution.versions.items()}
        metas = {name: future.result() for name, future in futures.items()}
    result.requests += catalog.requests  # after close(), which waits for content still downloading
    packages = {}
    for name, meta in sorted(metas.items()):
        previous = old.packages.get(name) if old else None
        # `rigging update NAME --force` is how the user accepts a moved tag, as the message says
        accepted = options.force and options.update is not None and (not options.update or name in options.update)
        if (
            previous is not None
            and previous.version == str(meta.version)
            and previous.manifest != meta.manifest
            and not accepted
        ):
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
        embedded = parsed.blobs.get(parsed.config.digest)
        try:
            config = json.loads(embedded or blob(package, parsed.config.digest, parsed.config.size, False))
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
    """Check each package against every rule that covers it: a signature from one of the rule's
    signers, or (a rule with "attestations") the index's attestations signed by one of its keys.
    Record what was verified; refuse (enforce) or warn when a rule does not hold."""
    from rigging.install_policy import check_attestations, matching_rules
    from rigging.reference import RegistryRef
    from rigging.signing.verifier import Identity, Requirements, verify_reference

    assert project.signatures is not None
    enforce = project.signatures["mode"] == "enforce"
    for name, package in sorted(packages.items()):
        package.signer, package.attestations = None, {}
        host, _, repository = package.source.partition("/")
        for rule in matching_rules(project.signatures["require"], name):
            where = f"{name} {package.version} ({package.manifest})"
            if "attestations" in rule:
                signers, why = check_attestations(network.client(host), package, rule, project.root)
                package.attestations.update(signers)
                message = (
                    f"{where} lacks the attestations rigging.json requires ({', '.join(rule['attestations'])}): {why}"
                )
            else:
                requirements = Requirements(
                    keys=[project.root / k for k in rule.get("keys", [])],
                    identities=[Identity(rule["issuer"], rule.get("identity"), rule.get("identityRegexp"))]
                    if rule.get("issuer")
                    else [],
                    offline=bool(rule.get("offline", False)),
                )
                ref = RegistryRef(host, repository, digest=package.manifest)
                _, verified, problems = verify_reference(network.client(host), ref, requirements)
                if verified:
                    package.signer = package.signer or verified[0].signer
                why = None if verified else "; ".join(problems) if problems else "it has no signatures"
                message = f"{where} is not signed as rigging.json requires: {why}"
            if why is None:
                continue
            if enforce:
                raise RiggingError(message + "; nothing was installed")
            result.warnings.append(message)


def _ensure_blobs(
    packages: dict[str, LockedPackage], cache: BlobCache, network: _Network, progress: DownloadProgress | None = None
) -> dict[str, Path]:
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
        network.client(host).download_blob(repository, package.content_digest, package.content_size, target, progress)
        paths[package.name] = target

    if missing and progress is not None:
        progress.expect(len(missing), sum(p.content_size for p in missing))
    network.expect(missing)
    if missing:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=FETCH_WORKERS) as pool:
            list(pool.map(fetch, missing))
    return paths


def install(root: Path, options: InstallOptions | None = None, cache: BlobCache | None = None) -> InstallResult:
    """Install under the project's write lock: a second rigging command in the same project waits."""
    from rigging.folder_lock import hold

    with hold(root):
        lent: list[RegistryCatalog] = []  # the catalogue an edit looked versions up in, if any
        try:
            return _install(root, options or InstallOptions(), cache or BlobCache(), lent)
        finally:
            for catalog in lent:  # resolution closed it already, unless install stopped before
                catalog.close()


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


def _install(root: Path, options: InstallOptions, cache: BlobCache, lent: list[RegistryCatalog]) -> InstallResult:
    result = InstallResult(recovered=txn.recover(root, force=options.force))
    try:
        old = load_lock(root)
    except DamagedLock as exc:
        if options.frozen or options.locked:
            raise  # CI installs exactly the lock, or fails; it never rebuilds one
        old, damaged = None, exc.why
    else:
        damaged = None
    unedited: dict[str, Any] | None = None  # rigging.json as it was, when the command edits it
    if options.edit is not None:
        import copy

        def versions(edited: Project, name: str) -> list[Version]:
            if not lent:
                lent.append(_open_catalog(edited, old, options, cache))
            return lent[0].versions(name)

        data = _read_project_data(root)
        unedited = copy.deepcopy(data)
        options.edit(data, versions)
        project = parse_project(root, data)
    else:
        project = load_project(root)
    if not project.explicit_targets:
        from rigging.agents.detect import detect

        project.targets, why = detect(root)
        chosen = ", ".join(project.targets)
        result.targets_note = f'targets: {chosen} ({why}; set "targets" in {PROJECT_FILE} to choose)'

    lock_state = "ok" if old is not None else ("damaged" if damaged else "missing")
    unlisted: dict[str, str] = {}
    if old is None and unedited is not None:
        # `rigging remove` without a lock: what the removed package installed is found by
        # rendering the project as it was and keeping the files on disk that match
        was = unedited.get("dependencies")
        dropped = set(was) - set(project.dependencies) if isinstance(was, dict) else set()
        if dropped:
            previous = parse_project(root, unedited)
            previous.targets = list(project.targets)
            old, unlisted = _rebuild_lock(root, previous, options, cache, result)
    misplaced = _misplaced(project, old) if old is not None else None
    current = old is not None and old.requires == project.dependencies and misplaced is None
    if (options.frozen or options.locked) and not current:
        flag = "--frozen" if options.frozen else "--locked"
        why = misplaced or f"{root / LOCK_FILE} is out of date with {PROJECT_FILE} (or missing)"
        raise RiggingError(f"{why}; run `rigging install` without {flag} to update it")
    checked = project.signatures is not None or project.capabilities is not None
    policy = None
    if checked:
        from rigging.install_policy import fingerprint

        policy = fingerprint(project)
    frozen_recheck = options.frozen and checked
    if current and options.update is None and not options.locked and options.edit is None and not frozen_recheck:
        assert old is not None
        # a lock verified against another policy (or another key file) is verified again below
        same = old.targets == project.targets and old.renames == project.renames and old.policy == policy
        if same and _installed_as_locked(root, old):
            # nothing to do: every file is as the lock says; no blob is read, nothing imported
            result.packages = {n: p.version for n, p in old.packages.items()}
            result.unchanged = sum(len(p.files) for p in old.packages.values())
            return result
    network = _Network(options, root)
    try:
        if options.frozen or (current and options.update is None):
            assert old is not None
            packages = {n: p.without_files() for n, p in old.packages.items()}
            if options.locked or project.signatures is not None:
                network.expect(packages.values())
            if options.locked:
                _check_tags(old.packages, network)
            if options.locked or project.signatures is not None:
                _check_manifests(packages, cache, network)
        else:
            packages = _resolve(project, old, options, cache, result, lent[0] if lent else None)
        if project.signatures is not None:
            _check_signatures(project, packages, network, result)
        blobs = _ensure_blobs(packages, cache, network, options.progress)
        result.requests += network.requests
    finally:
        network.close()
    if project.capabilities is not None:
        from rigging.install_policy import check_capabilities

        check_capabilities(project, packages, blobs)

    rendered, desired, executable = _render(root, project, packages, blobs)
    result.warnings += rendered.warnings
    result.packages = {n: p.version for n, p in packages.items()}
    for path, owner in sorted(unlisted.items()):
        if path not in desired and disk_hash(root / path) is not None:
            result.warnings.append(
                f"left {path} in place: it is not what {owner} writes there, and with no rigging.lock to say "
                "rigging installed it, it may be yours; delete it if it is not"
            )

    plan = _Plan(root, packages, old, lock_state, options.force, result)
    changes = plan.files(desired, executable, rendered.owners)
    managed = plan.managed(rendered.sections, changes)
    if plan.conflicts:
        raise FileConflicts(plan.conflicts)
    if lock_state != "ok" and (damaged or result.adopted):
        lost = f"{LOCK_FILE} was damaged ({damaged})" if damaged else f"there was no {LOCK_FILE}"
        result.rebuilt = (
            f"{lost}: rebuilt it from {PROJECT_FILE} and the files on disk "
            f"({result.adopted} already as the packages write them)"
        )
    lock = Lock(dict(project.dependencies), list(project.targets), packages, managed, dict(project.renames), policy)
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


def _render(
    root: Path, project: Project, packages: dict[str, LockedPackage], blobs: dict[str, Path]
) -> tuple[Rendered, dict[str, bytes], set[str]]:
    """What the packages write for the project's agents: path -> bytes, and which are executable.
    Records each file (and executable) on its package."""
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
    return rendered, desired, executable


def _rebuild_lock(
    root: Path, project: Project, options: InstallOptions, cache: BlobCache, result: InstallResult
) -> tuple[Lock, dict[str, str]]:
    """The lock `project` would have, listing only the files and sections on disk that hold what
    its packages write (as far as bytes tell, rigging's); and the paths that differ, with the
    package and version that would write them."""
    network = _Network(options, root)
    try:
        packages = _resolve(project, None, options, cache, result)
        blobs = _ensure_blobs(packages, cache, network, options.progress)
        result.requests += network.requests
    finally:
        network.close()
    rendered, _, _ = _render(root, project, packages, blobs)
    differing: dict[str, str] = {}
    for name, package in packages.items():
        for path, digest in list(package.files.items()):
            if disk_hash(root / path) != digest:
                del package.files[path]
                differing[path] = f"{name} {package.version}"
        package.executables = [p for p in package.executables if p in package.files]
        result.adopted += len(package.files)
    managed = {
        file_name: {"sha256": sha(text.encode())}
        for file_name, text in rendered.sections.items()
        if text and section_hash(root / file_name) == sha(text.encode())
    }
    result.adopted += len(managed)
    return Lock(dict(project.dependencies), list(project.targets), packages, managed, dict(project.renames)), differing


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


class Conflict:
    """A path install would overwrite or remove that is not as rigging left it, and why."""

    __slots__ = ("op", "package", "path", "reason", "stuck", "text")

    def __init__(self, path: str, reason: str, text: str, package: str | None, op: str = "overwrite") -> None:
        # reason: "edited" (rigging installed it; changed since), "yours" (rigging.lock does not list
        # it) or "unlisted" (there is no usable rigging.lock to say whose it is)
        self.path, self.reason, self.text, self.package, self.op = path, reason, text, package, op
        self.stuck = False  # not even --force changes it

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "reason": self.reason, "package": self.package, "op": self.op, "message": self.text}


class FileConflicts(RiggingError):
    """Install stopped before changing anything; `conflicts` lists each path with its reason."""

    def __init__(self, conflicts: list[Conflict]) -> None:
        self.conflicts = [c.as_dict() for c in conflicts]
        self.details = {"conflicts": self.conflicts}  # for `--json` error output
        super().__init__(_conflict_message(conflicts))


def _conflict_message(conflicts: list[Conflict]) -> str:
    shown = "; ".join(c.text for c in conflicts[:5])
    if len(conflicts) > 5:
        shown += f"; and {len(conflicts) - 5} more"
    ops = {c.op for c in conflicts}
    verb = "overwrite or remove" if len(ops) > 1 else ops.pop()
    them = "it" if len(conflicts) == 1 else "them"
    if all(c.stuck for c in conflicts):
        fix = f"move {them} aside"
    else:
        fix = f"move {them} aside, or rerun with --force to {verb} {them}"
    return f"{shown}: rigging will not {verb} {them}, so nothing was changed; {fix}"


def _kind(path: Path) -> str:
    """What stands at `path`, in a word (links are not followed)."""
    import stat

    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return "file"
    return "symbolic link" if stat.S_ISLNK(mode) else "folder" if stat.S_ISDIR(mode) else "file"


class _Plan:
    """The changes install makes to the project's files, and the paths it must not touch.

    A file is rigging's when rigging.lock lists it with the hash on disk (it may be replaced or
    removed), or when it already holds exactly what a package writes there (it is adopted: that
    is how a lost lock is rebuilt). Anything else is a conflict, named with its reason: edited
    since rigging installed it, the user's own, or unknown for want of a lock.
    """

    def __init__(
        self,
        root: Path,
        packages: dict[str, LockedPackage],
        old: Lock | None,
        lock_state: str,
        force: bool,
        result: InstallResult,
    ) -> None:
        self.root, self.packages, self.old, self.force, self.result = root, packages, old, force, result
        self.lock_state = lock_state  # "ok", "missing" or "damaged"
        self.old_files = old.all_files() if old else {}
        self.conflicts: list[Conflict] = []

    def _lock_words(self) -> str:
        return f"no {LOCK_FILE}" if self.lock_state == "missing" else f"{LOCK_FILE} damaged"

    def _unknown(self, path: str, package: str) -> Conflict:
        """A conflict at a path rigging.lock does not list."""
        kind = _kind(self.root / path)
        if self.lock_state == "ok" or kind != "file":  # rigging writes only files, never links or folders
            return Conflict(path, "yours", f"{path} is your {kind}, not installed by rigging", package)
        version = self.packages[package].version
        return Conflict(
            path,
            "unlisted",
            f"{path} is not what {package} {version} writes there, and with {self._lock_words()} rigging cannot "
            "tell whether it is yours",
            package,
        )

    def _refuse_or_force(self, conflict: Conflict, change: Change, changes: list[Change]) -> None:
        if _kind(self.root / conflict.path) == "folder":
            # a file cannot be renamed over a folder, and a user's folder is never thrown away
            conflict.text += " (--force never replaces a folder)"
            conflict.stuck = True
            self.conflicts.append(conflict)
        elif self.force:
            changes.append(change)
            self.result.overwritten.append(conflict.as_dict())
        else:
            self.conflicts.append(conflict)

    def files(self, desired: dict[str, bytes], executable: set[str], owners: dict[str, str]) -> list[Change]:
        root, old_files = self.root, self.old_files
        changes: list[Change] = []
        for path in sorted(desired):
            data = desired[path]
            wanted = sha(data)
            on_disk = disk_hash(root / path)
            if on_disk == wanted:
                if path not in old_files:
                    self.result.adopted += 1
                if is_executable(root / path) == (path in executable):
                    self.result.unchanged += 1
                else:
                    changes.append(Change("write", path, on_disk, data, path in executable))
                continue
            write = Change("write", path, on_disk, data, path in executable)
            if on_disk is None or on_disk == old_files.get(path):
                changes.append(write)
                continue
            if old_files.get(path) == wanted and not self.force:
                self.result.kept.append(path)  # edited by the user, and install has nothing new for it
                continue
            if path in old_files:
                conflict = Conflict(path, "edited", f"{path} was changed since rigging installed it", owners[path])
            else:
                conflict = self._unknown(path, owners[path])
            self._refuse_or_force(conflict, write, changes)
        for path in sorted(set(old_files) - set(desired)):
            on_disk = disk_hash(root / path)
            if on_disk is None:
                continue
            delete = Change("delete", path, on_disk)
            if on_disk == old_files[path]:
                changes.append(delete)
                continue
            assert self.old is not None
            owner = next(name for name, package in self.old.packages.items() if path in package.files)
            text = f"{path} was changed since rigging installed it ({owner} no longer installs it)"
            self._refuse_or_force(Conflict(path, "edited", text, owner, op="remove"), delete, changes)
        return changes

    def managed(self, sections: dict[str, str], changes: list[Change]) -> dict[str, dict]:
        """Plan each managed file's section; returns what rigging.lock records of them."""
        managed: dict[str, dict] = {}
        recorded_files = self.old.managed if self.old else {}
        for file_name in sorted(set(sections) | set(recorded_files)):
            recorded = recorded_files.get(file_name) or {}
            section = sections.get(file_name, "")
            if not section and not recorded:
                continue
            try:
                data = read_regular(self.root / file_name)
                existing = data.decode("utf-8") if data is not None else None
            except (NotRegular, UnicodeDecodeError) as exc:
                raise RiggingError(
                    f"{self.root / file_name}: {exc}; rigging edits only its own section of a plain UTF-8 file. "
                    f'Replace it with a file, or choose "targets" in {PROJECT_FILE} without the agent that reads it'
                ) from None
            standing = current_section(existing)
            standing_hash = None if standing is None else sha(standing.encode())
            wanted = sha(section.encode()) if section else None
            if standing_hash is not None and standing_hash not in (recorded.get("sha256"), wanted):
                conflict = self._section_conflict(file_name, bool(recorded))
                if self.force:
                    self.result.overwritten.append(conflict.as_dict())
                elif section and wanted == recorded.get("sha256"):
                    managed[file_name] = dict(recorded)  # the user's edit stays; nothing new to put there
                    self.result.kept.append(file_name)
                    continue
                else:
                    self.conflicts.append(conflict)
                    continue
            elif standing_hash is not None and standing_hash == wanted and not recorded:
                self.result.adopted += 1
            if replace_section(existing, section) != existing:
                # the section alone is journaled, and spliced into the file as it stands when applied
                changes.append(Change("section", file_name, standing_hash, section.encode()))
            if section:
                managed[file_name] = {"sha256": wanted}
        return managed

    def _section_conflict(self, file_name: str, recorded: bool) -> Conflict:
        where = f"the rigging section of {file_name}"
        if recorded:
            return Conflict(file_name, "edited", f"{where} was changed since rigging installed it", None)
        if self.lock_state == "ok":
            return Conflict(
                file_name, "yours", f"{file_name} holds a rigging section that {LOCK_FILE} does not record", None
            )
        return Conflict(
            file_name,
            "unlisted",
            f"{where} is not what the packages write there, and with {self._lock_words()} rigging cannot tell "
            "whether you edited it",
            None,
        )


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
