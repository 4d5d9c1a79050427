from __future__ import annotations

import argparse
import json

from rigging_cli.project_args import add_project


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_project(parser, install=False)
    parser.add_argument("--plain-http", action="store_true", help="use HTTP for non-loopback registries")
    parser.add_argument("--ca-file", metavar="PEM", help="CA bundle for the registry's TLS certificate")


def run(args: argparse.Namespace) -> int:
    from rigging.catalog_registry import RegistryCatalog
    from rigging.project import load_project
    from rigging.ranges import parse_range
    from rigging.versions import Version

    from rigging_cli.lock_view import load

    root, lock = load(args)
    project = load_project(root)
    wanted_by: dict[str, list[str]] = {name: [r] for name, r in lock.requires.items()}
    for package in lock.packages.values():
        for dep, wanted in package.dependencies.items():
            wanted_by.setdefault(dep, []).append(wanted)
    rows = []
    with RegistryCatalog(project.location, plain_http=args.plain_http, ca_file=args.ca_file) as catalog:
        catalog.prefetch(lock.packages)
        for name, package in sorted(lock.packages.items()):
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
    if args.json:
        print(json.dumps(rows))
        return 0
    if not rows:
        print("all packages are up to date")
        return 0
    print(f"{'package':<40} {'current':<12} {'wanted':<12} latest")
    for row in rows:
        print(f"{row['name']:<40} {row['current']:<12} {row['wanted']:<12} {row['latest']}")
    return 0
