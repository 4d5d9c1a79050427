"""Reading an installed project's lock for list, tree and graph."""

from __future__ import annotations

import argparse

from rigging_cli.project_args import project_root


def load(args: argparse.Namespace):  # noqa: ANN201 - (root, Lock)
    from rigging.errors import RiggingError
    from rigging.lockfile import read_settled

    root = project_root(args)
    lock = read_settled(root)
    if lock is None:
        raise RiggingError(f"{root}: no rigging.lock; run `rigging install` first")
    return root, lock


def tree_lines(lock) -> list[str]:  # noqa: ANN001
    lines: list[str] = []
    shown: set[str] = set()

    def walk(name: str, wanted: str, prefix: str, last: bool, depth: int) -> None:
        package = lock.packages.get(name)
        version = package.version if package else "missing"
        repeat = name in shown and package is not None and package.dependencies
        branch = "└── " if last else "├── "
        lines.append(f"{prefix}{branch}{name} {version} ({wanted})" + (" (*)" if repeat else ""))
        if repeat or package is None or depth > 50:
            return
        shown.add(name)
        children = sorted(package.dependencies.items())
        for i, (child, child_range) in enumerate(children):
            walk(child, child_range, prefix + ("    " if last else "│   "), i == len(children) - 1, depth + 1)

    top = sorted(lock.requires.items())
    lines.append("project")
    for i, (name, wanted) in enumerate(top):
        walk(name, wanted, "", i == len(top) - 1, 0)
    return lines
