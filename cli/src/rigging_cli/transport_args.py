"""Flags every command that talks to a registry takes."""

from __future__ import annotations

import argparse


def add_transport(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--plain-http", action="store_true", help="use HTTP, not HTTPS (loopback registries always do)")
    parser.add_argument("--ca-file", metavar="PEM", help="CA bundle to verify the registry's TLS certificate")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def progress_for(args: argparse.Namespace):  # noqa: ANN201 - a callable or None
    """A byte counter drawn on stderr when a person watches and the transfer takes a moment."""
    import sys

    if args.json or not sys.stderr.isatty():
        return None
    from rigging_cli.progress import TransferProgress

    return TransferProgress()
