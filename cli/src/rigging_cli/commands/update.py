from __future__ import annotations

import argparse

from rigging_cli.project_args import add_project, dependency_names, options, project_root, report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "names", metavar="PACKAGE", nargs="*", help="packages to update, NS/NAME or a full reference (default: all)"
    )
    add_project(parser)


def run(args: argparse.Namespace) -> int:
    from rigging.errors import RiggingError
    from rigging.installer import install
    from rigging.lockfile import load_lock
    from rigging.project import load_project

    root = project_root(args)
    try:
        before = load_lock(root)
    except RiggingError:  # install rebuilds or reports a damaged lock; nothing to compare with
        before = None
    names: list[str] = []
    if args.names:
        project = load_project(root)
        known = set(project.dependencies) | (set(before.packages) if before is not None else set())
        names = dependency_names(project, args.names, known, "update")
    result = install(root, options(args, update=set(names)))
    if not args.json:
        old = {n: p.version for n, p in before.packages.items()} if before is not None else {}
        for line in _changes(old, result.packages, names):
            print(line)
    return report(args, result, verb="installed")


def _changes(old: dict[str, str], new: dict[str, str], asked: list[str]) -> list[str]:
    """What the update changed, package by package; and for each package asked for and left as it
    was, that it already is the newest its range allows."""
    lines = [f"updated {n} {old[n]} -> {v}" for n, v in sorted(new.items()) if n in old and old[n] != v]
    lines += [f"added {n} {v}" for n, v in sorted(new.items()) if n not in old]
    lines += [f"removed {n} {v}" for n, v in sorted(old.items()) if n not in new]
    if lines:
        return lines
    same = [f"{n} {new[n]}" for n in (asked or sorted(new)) if n in new]
    if not same:
        return ["nothing to update: the project has no packages"]
    verb = "is" if len(same) == 1 else "are"
    return [f"nothing to update: {', '.join(same)} {verb} the newest the ranges allow"]
