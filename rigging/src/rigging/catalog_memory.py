"""A catalogue held in memory: for the resolver's tests and benchmarks, and for metadata that is
already known (a lock, an index answer)."""

from __future__ import annotations

from collections.abc import Iterable

from rigging.versions import Version


class MemoryCatalog:
    def __init__(self, packages: dict[str, dict[str, dict[str, str]]] | None = None) -> None:
        """packages: name -> version text -> {dependency: range}."""
        self.packages: dict[str, dict[Version, dict[str, str]]] = {}
        for name, versions in (packages or {}).items():
            for version, deps in versions.items():
                self.add(name, version, deps)

    def add(self, name: str, version: str, dependencies: dict[str, str] | None = None) -> None:
        self.packages.setdefault(name, {})[Version.parse(version)] = dict(dependencies or {})

    def versions(self, name: str) -> list[Version]:
        return sorted(self.packages.get(name, {}))

    def dependencies(self, name: str, version: Version) -> dict[str, str]:
        return self.packages[name][version]

    def prefetch(self, names: Iterable[str]) -> None:
        pass

    def ready(self, name: str) -> bool:
        return True
