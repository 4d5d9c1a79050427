"""The dependency graph a package page draws: its edges as far as the index knows them, and the
packages that depend on it; both as the viewer may see them (store.dependencies, store.visible)."""

from __future__ import annotations

from typing import Any

from rigging_indexer.access import Viewer
from rigging_indexer.models import Dependency, Package, Version
from sqlalchemy import select
from sqlalchemy.orm import Session


def dependency_graph(
    s: Session, viewer: Viewer, version: Version, order: list[str], *, depth: int, nodes: int
) -> tuple[list[tuple[str, str, str]], list[dict[str, Any]]]:
    """(edges (from, to, range) breadth first from `version`, at most `depth` deep and `nodes`
    packages wide, each indexed dependency followed at its latest version; the direct edges)."""
    from rigging_indexer import store

    root = s.get(Package, version.package_id)
    direct = store.dependencies(s, viewer, version, order)
    edges: list[tuple[str, str, str]] = []
    seen = {root.name if root else ""}
    frontier: list[tuple[str, list[dict[str, Any]]]] = [(root.name if root else "", direct)]
    for _ in range(depth):
        following: list[tuple[str, list[dict[str, Any]]]] = []
        for source, out in frontier:
            for edge in out:
                edges.append((source, edge["name"], edge["range"]))
                if edge["name"] in seen or not edge["indexed"] or len(seen) >= nodes:
                    continue
                seen.add(edge["name"])
                found = store.find_package(s, viewer, edge["name"], order=order)
                latest = s.get(Version, found.package.latest_version_id) if found else None
                if latest is not None:
                    following.append((edge["name"], store.dependencies(s, viewer, latest, order)))
        frontier = following
        if not frontier:
            break
    return edges, direct


def dependents(s: Session, viewer: Viewer, package: Any, limit: int = 100) -> list[dict[str, Any]]:
    """Packages whose latest visible version depends on this one (by name), newest first."""
    from rigging_indexer import store

    rows = s.execute(
        select(Package.name, Version.version, Dependency.range)
        .join(Version, Version.id == Package.latest_version_id)
        .join(Dependency, Dependency.version_id == Version.id)
        .where(Dependency.name == package.package.name, store.visible(viewer, Package.namespace))
        .order_by(Package.name)
        .limit(limit)
    ).all()
    return [{"name": name, "version": version, "range": spec} for name, version, spec in rows]
