"""Flags every command that talks to a registry takes."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Iterator


def add_transport(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--plain-http", action="store_true", help="use HTTP, not HTTPS (loopback registries always do)")
    parser.add_argument("--ca-file", metavar="PEM", help="CA bundle to verify the registry's TLS certificate")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


@contextlib.contextmanager
def transfer_progress(args: argparse.Namespace) -> Iterator[Callable[[int], None] | None]:
    """A byte counter drawn on stderr when a person watches and the transfer takes a moment."""
    if args.json or not sys.stderr.isatty():
        yield None
        return
    from rigging_cli.progress import TransferProgress

    progress = TransferProgress()
    try:
        yield progress
    finally:
        progress.finish()
