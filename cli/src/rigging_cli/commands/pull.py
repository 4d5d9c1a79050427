from __future__ import annotations

import argparse
import json
from pathlib import Path

from rigging_cli.transport_args import add_transport, transfer_progress


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "ref",
        metavar="REF",
        help="REGISTRY/NS/NAME[:TAG|@sha256:…|@RANGE], oci:LAYOUT[:TAG], or NS/NAME[@RANGE] from the project's "
        "registry; no version: the newest release",
    )
    parser.add_argument("-o", "--output", metavar="DIR", help="folder to unpack into (default: ./NAME)")
    parser.add_argument("--force", action="store_true", help="replace the output folder if it is not empty")
    parser.add_argument("--no-docs", action="store_true", help="skip the docs layer")
    add_transport(parser)


def run(args: argparse.Namespace) -> int:
    from rigging.transfer import pull

    from rigging_cli.project_args import package_location

    ref, versions = package_location(args, args.ref)  # a range is resolved on pull's own connection
    with transfer_progress(args) as progress:
        result = pull(
            str(ref),
            Path(args.output) if args.output else None,
            force=args.force,
            docs=not args.no_docs,
            plain_http=args.plain_http,
            ca_file=args.ca_file,
            progress=progress,
            versions=versions,
        )
    if args.json:
        print(json.dumps(result))
        return 0
    print(
        f"pulled {result['name']} {result['version']} from {result['source']} into {result['output']}/"
        f" ({len(result['files'])} files)"
    )
    print(f"digest: {result['digest']}")
    return 0
