from __future__ import annotations

import argparse
import json

from rigging_cli.project_args import add_project


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_project(parser, install=False)


def run(args: argparse.Namespace) -> int:
    from rigging_cli.lock_view import load

    _, lock = load(args)
    rows = [
        {
            "name": name,
            "version": p.version,
            "direct": name in lock.requires,
            "source": p.source,
            "manifest": p.manifest,
            "files": len(p.files),
        }
        for name, p in sorted(lock.packages.items())
    ]
    if args.json:
        print(json.dumps(rows))
        return 0
    for row in rows:
        kind = "" if row["direct"] else "  (dependency)"
        print(f"{row['name']} {row['version']}{kind}  {row['files']} file(s)  {row['source']}")
    if not rows:
        print("no packages installed")
    return 0
