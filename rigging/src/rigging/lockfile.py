"""rigging.lock: exactly what was installed, sorted and stable so that diffs read well."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rigging.errors import RiggingError
from rigging.project import LOCK_FILE

LOCK_VERSION = 1


class LockedPackage:
    """One locked package. A plain class: `rigging install` on an unchanged project loads this
    module on every run, and dataclass generation would cost more than the install itself."""

    __slots__ = (
        "content_digest",
        "content_size",
        "dependencies",
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
    ) -> None:
        self.name, self.version, self.source, self.tag = name, version, source, tag  # source: host/repository
        self.manifest, self.content_digest, self.content_size = manifest, content_digest, content_size
        self.dependencies = dict(dependencies or {})
        self.files = dict(files or {})  # path -> "sha256:…" of what install wrote
        self.signer = signer

    def without_files(self) -> LockedPackage:
        return LockedPackage(
            self.name,
            self.version,
            self.source,
            self.tag,
            self.manifest,
            self.content_digest,
            self.content_size,
            self.dependencies,
            None,
            self.signer,
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
        return entry


class Lock:
    __slots__ = ("managed", "packages", "requires", "targets")

    def __init__(
        self,
        requires: dict[str, str] | None = None,
        targets: list[str] | None = None,
        packages: dict[str, LockedPackage] | None = None,
        managed: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        self.requires = dict(requires or {})
        self.targets = list(targets or [])
        self.packages = dict(packages or {})
        self.managed = dict(managed or {})  # file -> {"sha256": hash of rigging's section}

    def serialise(self) -> bytes:
        document = {
            "lockfileVersion": LOCK_VERSION,
            "requires": dict(sorted(self.requires.items())),
            "targets": list(self.targets),
            "packages": {name: self.packages[name].as_dict() for name in sorted(self.packages)},
            "managed": {path: self.managed[path] for path in sorted(self.managed)},
        }
        return (json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()

    def all_files(self) -> dict[str, str]:
        files: dict[str, str] = {}
        for package in self.packages.values():
            files.update(package.files)
        return files


def load_lock(root: Path) -> Lock | None:
    path = root / LOCK_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (ValueError, OSError) as exc:
        raise RiggingError(f"{path}: cannot be read ({exc}); restore it from version control or delete it") from None
    try:
        if data.get("lockfileVersion") != LOCK_VERSION:
            raise RiggingError(f"{path}: lockfileVersion {data.get('lockfileVersion')!r} is not supported")
        packages = {
            name: LockedPackage(
                name=name,
                version=entry["version"],
                source=entry["source"],
                tag=entry["tag"],
                manifest=entry["manifest"],
                content_digest=entry["content"]["digest"],
                content_size=int(entry["content"]["size"]),
                dependencies=dict(entry.get("dependencies") or {}),
                files=dict(entry.get("files") or {}),
                signer=entry.get("signer"),
            )
            for name, entry in data["packages"].items()
        }
        return Lock(
            dict(data.get("requires") or {}), list(data.get("targets") or []), packages, dict(data.get("managed") or {})
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise RiggingError(f"{path}: malformed ({type(exc).__name__}: {exc}); restore it or delete it") from None
