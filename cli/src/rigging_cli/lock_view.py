"""Reading an installed project's lock for list, tree and graph."""

from __future__ import annotations

import argparse
from typing import Any

from rigging_cli.project_args import project_root

MAX_DEPTH = 50  # a lock is acyclic; this only bounds a damaged one


def load(args: argparse.Namespace):  # noqa: ANN201 - (root, Lock)
    from rigging.errors import RiggingError
    from rigging.lockfile import read_settled

    root = project_root(args)
    lock = read_settled(root)
    if lock is None:
        raise RiggingError(f"{root.resolve()}: no rigging.lock; run `rigging install` first")
    return root, lock


def tree_data(lock) -> dict[str, Any]:  # noqa: ANN001 - Lock
    """The dependency tree as data: each node's name, version (None if missing from the lock), the
    range it was wanted with, and its dependencies; a package shown before is `repeat` and not expanded."""
    shown: set[str] = set()

    def node(name: str, wanted: str, depth: int) -> dict[str, Any]:
        package = lock.packages.get(name)
        entry: dict[str, Any] = {"name": name, "version": package.version if package else None, "wanted": wanted}
        repeat = name in shown and package is not None and bool(package.dependencies)
        if repeat:
            entry["repeat"] = True
        children: list[dict[str, Any]] = []
        if package is not None and not repeat and depth <= MAX_DEPTH:
            shown.add(name)
            children = [node(child, r, depth + 1) for child, r in sorted(package.dependencies.items())]
        entry["dependencies"] = children
        return entry

    return {"name": "project", "dependencies": [node(n, r, 0) for n, r in sorted(lock.requires.items())]}


def tree_lines(lock) -> list[str]:  # noqa: ANN001 - Lock
    lines = ["project"]

    def draw(entry: dict[str, Any], prefix: str, last: bool) -> None:
        branch = "└── " if last else "├── "
        version = entry["version"] or "missing"
        mark = " (*)" if entry.get("repeat") else ""
        lines.append(f"{prefix}{branch}{entry['name']} {version} ({entry['wanted']}){mark}")
        children = entry["dependencies"]
        for i, child in enumerate(children):
            draw(child, prefix + ("    " if last else "│   "), i == len(children) - 1)

    top = tree_data(lock)["dependencies"]
    for i, entry in enumerate(top):
        draw(entry, "", i == len(top) - 1)
    return lines


def graph_data(lock) -> dict[str, Any]:  # noqa: ANN001 - Lock
    """Nodes (the project and each locked package) and edges labelled with the range wanted."""
    nodes = [{"id": "project", "name": "project", "version": None}]
    nodes += [{"id": n, "name": n, "version": p.version} for n, p in sorted(lock.packages.items())]
    edges = [{"from": "project", "to": n, "range": r} for n, r in sorted(lock.requires.items())]
    for name, package in sorted(lock.packages.items()):
        edges += [{"from": name, "to": dep, "range": r} for dep, r in sorted(package.dependencies.items())]
    return {"nodes": nodes, "edges": edges}
