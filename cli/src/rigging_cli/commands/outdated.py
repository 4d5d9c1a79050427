from __future__ import annotations

import argparse
import json
from typing import Any

from rigging_cli.project_args import add_project


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "packages",
        metavar="PACKAGE",
        nargs="*",
        help="only these: NS/NAME of the project, or a full reference REGISTRY/NS/NAME[:VERSION] (also outside one)",
    )
    add_project(parser, install=False)
    parser.add_argument("--plain-http", action="store_true", help="use HTTP for non-loopback registries")
    parser.add_argument("--ca-file", metavar="PEM", help="CA bundle for the registry's TLS certificate")


def run(args: argparse.Namespace) -> int:
    from rigging.reference import parse_spec

    specs = [parse_spec(text) for text in args.packages]
    if specs and all(s.ref is not None for s in specs) and not _in_project(args):
        rows = _references(specs, args)
    else:
        rows = _project_rows(args)
    return _show(rows, args)


def _in_project(args: argparse.Namespace) -> bool:
    from pathlib import Path

    from rigging.project import find_root

    return args.project is not None or find_root(Path.cwd()) is not None


def _project_rows(args: argparse.Namespace) -> list[dict[str, Any]]:
    from rigging.catalog_registry import RegistryCatalog
    from rigging.project import load_project
    from rigging.ranges import parse_range
    from rigging.versions import Version

    from rigging_cli.lock_view import load
    from rigging_cli.project_args import dependency_names

    root, lock = load(args)
    project = load_project(root)
    only = set(dependency_names(project, args.packages, set(lock.packages), "check")) if args.packages else None
    wanted_by: dict[str, list[str]] = {name: [r] for name, r in lock.requires.items()}
    for package in lock.packages.values():
        for dep, wanted in package.dependencies.items():
            wanted_by.setdefault(dep, []).append(wanted)
    rows = []
    packages = {n: p for n, p in lock.packages.items() if only is None or n in only}
    with RegistryCatalog(project.location, plain_http=args.plain_http, ca_file=args.ca_file) as catalog:
        catalog.prefetch(packages)
        for name, package in sorted(packages.items()):
            versions = catalog.versions(name)
            releases = [v for v in versions if not v.prerelease]
            ranges = [parse_range(r) for r in wanted_by.get(name, ["*"])]
            allowed = [v for v in versions if all(r.allows(v) for r in ranges)]
            current = Version.parse(package.version)
            row = {
                "name": name,
                "current": package.version,
                "wanted": str(max(allowed)) if allowed else package.version,
                "latest": str(max(releases)) if releases else package.version,
            }
            if row["wanted"] != row["current"] or Version.parse(row["latest"]) > current:
                rows.append(row)
    return rows


def _references(specs: list[Any], args: argparse.Namespace) -> list[dict[str, Any]]:
    """Outside a project: for each full reference, its version (the tag it names), the newest its
    @RANGE allows and the newest release, from its registry's tag list."""
    from rigging.ranges import parse_range
    from rigging.transfer import open_store
    from rigging.versions import tag_to_version

    rows = []
    for spec in specs:
        with open_store(spec.ref, plain_http=args.plain_http, ca_file=args.ca_file) as store:
            versions = sorted(v for t in store.tags() if (v := tag_to_version(t)) is not None)
        releases = [v for v in versions if not v.prerelease]
        allowed = [v for v in versions if parse_range(spec.range).allows(v)] if spec.range else releases
        current = tag_to_version(spec.tag) if spec.tag else None
        rows.append(
            {
                "name": spec.name or str(spec.ref),
                "reference": str(spec.ref),
                "current": str(current) if current else None,
                "wanted": str(allowed[-1]) if allowed else None,
                "latest": str(releases[-1]) if releases else None,
            }
        )
    return rows


def _show(rows: list[dict[str, Any]], args: argparse.Namespace) -> int:
    if args.json:
        print(json.dumps(rows))
        return 0
    if not rows:
        print("all packages are up to date")
        return 0
    print(f"{'package':<40} {'current':<12} {'wanted':<12} latest")
    for row in rows:
        current, wanted, latest = (row[k] or "-" for k in ("current", "wanted", "latest"))
        print(f"{row['name']:<40} {current:<12} {wanted:<12} {latest}")
    return 0
