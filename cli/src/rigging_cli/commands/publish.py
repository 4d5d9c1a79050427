from __future__ import annotations

import argparse
import json

from rigging_cli.transport_args import add_transport, transfer_progress


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "source",
        metavar="DIR|oci:LAYOUT[:TAG]",
        nargs="?",
        default=".",
        help="package folder or OCI layout (default: .)",
    )
    parser.add_argument("target", metavar="REGISTRY/NS/NAME", help="repository to push to, or oci:LAYOUT")
    parser.add_argument("--tag", action="append", default=[], help="extra tag (repeatable); the version is always one")
    parser.add_argument("--force", action="store_true", help="overwrite a version tag that holds other content")
    add_transport(parser)


def run(args: argparse.Namespace) -> int:
    from rigging.transfer import publish

    with transfer_progress(args) as progress:
        result = publish(
            args.source,
            args.target,
            extra_tags=args.tag,
            force=args.force,
            plain_http=args.plain_http,
            ca_file=args.ca_file,
            progress=progress,
        )
    if args.json:
        print(json.dumps(result))
        return 0
    counts: dict[str, int] = {}
    for outcome in result["blobs"].values():
        counts[outcome] = counts.get(outcome, 0) + 1
    blobs = ", ".join(f"{n} {what}" for what, n in sorted(counts.items()))
    print(f"published {result['name']} {result['version']} -> {result['target']}:{', '.join(result['tags'])}")
    print(f"blobs: {blobs}")
    print(f"digest: {result['digest']}")
    return 0
