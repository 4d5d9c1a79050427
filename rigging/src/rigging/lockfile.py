"""rigging.lock: exactly what was installed, sorted and stable so that diffs read well."""

from __future__ import annotations

import json
from pathlib import Path

from rigging.errors import RiggingError
from rigging.install_paths import LOCK_FILE

TYPE_CHECKING = False  # typing costs ~3 ms to import; only the annotations use it
if TYPE_CHECKING:
    from typing import Any

LOCK_VERSION = 1
# No content layer within the package limits comes near this (tar headers included, before gzip).
MAX_LAYER_BYTES = 64 * 1024 * 1024


class LockedPackage:
    """One locked package. A plain class: `rigging install` on an unchanged project loads this
    module on every run, and dataclass generation would cost more than the install itself."""

    __slots__ = (
        "attestations",
        "capabilities",
        "content_digest",
        "content_size",
        "dependencies",
        "executables",
        "files",
        "manifest",
        "name",
        "signer",
        "source",
        "tag",
        "version",
    )

    def __init__(
        self,
        name: str,
        version: str,
        source: str,
        tag: str,
        manifest: str,
        content_digest: str,
        content_size: int,
        dependencies: dict[str, str] | None = None,
        files: dict[str, str] | None = None,
        signer: str | None = None,
        executables: list[str] | None = None,
        attestations: dict[str, str] | None = None,
        capabilities: list[str] | None = None,
    ) -> None:
        self.name, self.version, self.source, self.tag = name, version, source, tag  # source: host/repository
        self.manifest, self.content_digest, self.content_size = manifest, content_digest, content_size
        self.dependencies = dict(dependencies or {})
        self.files = dict(files or {})  # path -> "sha256:…" of what install wrote
        self.signer = signer
        self.executables = sorted(executables or [])  # files written with mode 0755 (skills' scripts)
        self.attestations = dict(attestations or {})  # kind ("scan", "approval") -> the key that signed it
        # the capability classes its content has, recorded when a policy checked them (None: not checked)
        self.capabilities = capabilities

    def without_files(self) -> LockedPackage:
        """The package as the lock pins it, before install renders and verifies it again: what it
        writes, who signed it and what it can do are found anew (none of them is carried over)."""
        return LockedPackage(
            self.name,
            self.version,
            self.source,
            self.tag,
            self.manifest,
            self.content_digest,
            self.content_size,
            self.dependencies,
        )

    def as_dict(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "version": self.version,
            "source": self.source,
            "tag": self.tag,
            "manifest": self.manifest,
            "content": {"digest": self.content_digest, "size": self.content_size},
            "dependencies": dict(sorted(self.dependencies.items())),
            "files": dict(sorted(self.files.items())),
        }
        if self.signer:
            entry["signer"] = self.signer
        if self.executables:
            entry["executable"] = list(self.executables)
        if self.attestations:
            entry["attestations"] = dict(sorted(self.attestations.items()))
        if self.capabilities is not None:
            entry["capabilities"] = sorted(self.capabilities)
        return entry


class Lock:
    __slots__ = ("managed", "packages", "policy", "renames", "requires", "targets")

    def __init__(
        self,
        requires: dict[str, str] | None = None,
        targets: list[str] | None = None,
        packages: dict[str, LockedPackage] | None = None,
        managed: dict[str, dict[str, Any]] | None = None,
        renames: dict[str, str] | None = None,
        policy: str | None = None,
    ) -> None:
        self.requires = dict(requires or {})
        self.targets = list(targets or [])
        self.packages = dict(packages or {})
        self.managed = dict(managed or {})  # file -> {"sha256": hash of rigging's section}
        self.renames = dict(renames or {})  # the project's renameSkills, as installed
        # fingerprint of the install policy the packages were verified against (rigging.install_policy)
        self.policy = policy

    def serialise(self) -> bytes:
        document = {
            "lockfileVersion": LOCK_VERSION,
            "requires": dict(sorted(self.requires.items())),
            "targets": list(self.targets),
            "packages": {name: self.packages[name].as_dict() for name in sorted(self.packages)},
            "managed": {path: self.managed[path] for path in sorted(self.managed)},
        }
        if self.renames:
            document["renameSkills"] = dict(sorted(self.renames.items()))
        if self.policy:
            document["policy"] = self.policy
        return (json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()

    def all_files(self) -> dict[str, str]:
        files: dict[str, str] = {}
        for package in self.packages.values():
            files.update(package.files)
        return files


class DamagedLock(RiggingError):
    """rigging.lock is not a lock at all (bad JSON, a merge conflict, the wrong shape): install
    sets it aside and rebuilds it from rigging.json and the files on disk. A lock that is well
    formed but names unsafe paths or digests is not this: that may be tampering, and is refused."""

    def __init__(self, path: Path, why: str) -> None:
        self.why = why
        super().__init__(
            f"{path}: damaged ({why}); run `rigging install` to rebuild it from rigging.json and the files on "
            "disk, or restore it from version control"
        )


def load_lock(root: Path) -> Lock | None:
    """The project's lock, checked entry by entry: it arrives with every pull request, so every
    path, name and digest in it is untrusted until it passes (see install_paths)."""
    path = root / LOCK_FILE
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        raise DamagedLock(path, "not UTF-8 text") from None
    except OSError as exc:
        raise RiggingError(
            f"{path}: cannot be read ({exc.strerror or exc}); make it a readable file, or restore it from version "
            "control"
        ) from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        if not text.strip():
            why = "empty"
        elif "\n<<<<<<<" in "\n" + text:
            why = "it holds a merge conflict"
        else:
            why = f"not JSON: {exc}"
        raise DamagedLock(path, why) from None
    if not isinstance(data, dict):
        raise DamagedLock(path, "its JSON is not an object")
    version = data.get("lockfileVersion")
    if isinstance(version, int) and not isinstance(version, bool) and version > LOCK_VERSION:
        raise RiggingError(
            f"{path}: lockfileVersion {version} was written by a newer rigging (this one reads {LOCK_VERSION}); "
            "upgrade rigging to install this project"
        )
    try:
        if version != LOCK_VERSION:
            found = "missing" if version is None else f"{version!r}, not {LOCK_VERSION}"
            raise DamagedLock(path, f"lockfileVersion is {found}")
        packages = {
            name: LockedPackage(
                name=name,
                version=entry["version"],
                source=entry["source"],
                tag=entry["tag"],
                manifest=entry["manifest"],
                content_digest=entry["content"]["digest"],
                content_size=entry["content"]["size"],
                dependencies=dict(entry.get("dependencies") or {}),
                files=dict(entry.get("files") or {}),
                signer=entry.get("signer"),
                executables=list(entry.get("executable") or []),
                attestations=dict(entry.get("attestations") or {}),
                capabilities=None if entry.get("capabilities") is None else list(entry["capabilities"]),
            )
            for name, entry in data["packages"].items()
        }
        lock = Lock(
            dict(data.get("requires") or {}),
            list(data.get("targets") or []),
            packages,
            dict(data.get("managed") or {}),
            dict(data.get("renameSkills") or {}),
            data.get("policy"),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise DamagedLock(path, f"malformed: {type(exc).__name__}: {exc}") from None
    problem = _first_problem(root, lock)
    if problem is not None:
        raise RiggingError(
            f"{path}: {problem}; nothing was changed. The lock is damaged or was tampered with: restore it "
            "from version control, or delete it and run `rigging install` to rebuild it from the files on disk"
        )
    return lock


def _first_problem(root: Path, lock: Lock) -> str | None:
    from rigging.digests import is_sha256_digest
    from rigging.install_paths import MANAGED_FILES, link_problem, package_file_problem
    from rigging.names import name_problem
    from rigging.version_syntax import is_semver, version_to_tag

    folders: dict[str, str | None] = {}  # install folders hold many files: each is checked once

    def folder_problem(file: str) -> str | None:
        folder = file.rpartition("/")[0]
        if folder not in folders:
            folders[folder] = link_problem(root, file)
        return folders[folder]

    def digest(value: object) -> bool:
        return isinstance(value, str) and is_sha256_digest(value)

    for name, wanted in lock.requires.items():
        if not isinstance(name, str) or name_problem(name) is not None or not isinstance(wanted, str):
            return f"requires {name!r}: {wanted!r} is not a package name and range"
    from rigging.project import ALL_TARGETS, ATTESTATION_KINDS, CAPABILITY_CLASSES

    if lock.policy is not None and not digest(lock.policy):
        return f"policy {lock.policy!r} is not a sha256 digest"

    if any(target not in ALL_TARGETS for target in lock.targets):
        return f"targets {lock.targets!r} are not drawn from {', '.join(ALL_TARGETS)}"
    for name, package in lock.packages.items():
        if (problem := name_problem(name)) is not None:
            return f"package {name!r} {problem}"
        try:
            tag_ok = is_semver(package.version) and version_to_tag(package.version) == package.tag
        except (TypeError, ValueError, AttributeError):
            tag_ok = False
        if not tag_ok:
            return f"package {name}: version {package.version!r} and tag {package.tag!r} do not agree"
        size = package.content_size
        sized = isinstance(size, int) and not isinstance(size, bool) and 0 <= size <= MAX_LAYER_BYTES
        if not digest(package.manifest) or not digest(package.content_digest) or not sized:
            return f"package {name}: manifest and content must be sha256 digests, with a size of 0 to {MAX_LAYER_BYTES}"
        if not isinstance(package.source, str) or "/" not in package.source.strip("/"):
            return f"package {name}: source {package.source!r} is not HOST/REPOSITORY"
        if package.signer is not None and not isinstance(package.signer, str):
            return f"package {name}: signer must be text"
        if not all(k in ATTESTATION_KINDS and isinstance(v, str) for k, v in package.attestations.items()):
            return f"package {name}: attestations must map {' or '.join(ATTESTATION_KINDS)} to the key that signed it"
        if package.capabilities is not None and not all(c in CAPABILITY_CLASSES for c in package.capabilities):
            return f"package {name}: capabilities must be drawn from {', '.join(CAPABILITY_CLASSES)}"
        for dep, wanted in package.dependencies.items():
            if name_problem(dep) is not None or not isinstance(wanted, str):
                return f"package {name}: dependency {dep!r}: {wanted!r} is not a package name and range"
        for file, sha in package.files.items():
            problem = package_file_problem(file, name.replace("/", ".")) or folder_problem(file)
            if problem is not None:
                return f"package {name} lists file {file!r}, which {problem}"
            if not digest(sha):
                return f"package {name}: file {file}: {sha!r} is not a sha256 digest"
        if not set(package.executables) <= set(package.files):
            return f"package {name}: every executable file must be one of its files"
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in lock.renames.items()):
        return "renameSkills must map text to text"
    for file, recorded in lock.managed.items():
        if file not in MANAGED_FILES:
            return f"managed {file!r} is not one of the files rigging manages ({', '.join(MANAGED_FILES)})"
        if not isinstance(recorded, dict) or not digest(recorded.get("sha256")):
            return f"managed {file}: needs a sha256 digest"
    return None


def read_settled(root: Path) -> Lock | None:
    """The lock as read-only commands see it: never in the middle of another command's change.

    Readers share the project lock, so they wait while an install holds it. An interrupted
    transaction is finished first, under the write lock (with install's no-clobber rule).
    """
    from rigging import txn
    from rigging.folder_lock import hold

    with hold(root, shared=True):
        if not txn.pending(root):
            return load_lock(root)
    with hold(root):
        txn.recover(root)
        return load_lock(root)
