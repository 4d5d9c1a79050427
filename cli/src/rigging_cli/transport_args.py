"""Flags every command that talks to a registry takes."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rigging_cli.progress import TransferProgress


def add_transport(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--plain-http", action="store_true", help="use HTTP, not HTTPS (loopback registries always do)")
    parser.add_argument("--ca-file", metavar="PEM", help="CA bundle to verify the registry's TLS certificate")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


@contextlib.contextmanager
def transfer_progress(args: argparse.Namespace) -> Iterator[TransferProgress | None]:
    """A display of bytes moved, on stderr, when a person watches and the transfer takes a moment."""
    from rigging_cli.progress import progress_for

    verb = "uploading" if getattr(args, "command", None) == "publish" else "downloading"
    progress = progress_for(args, verb, waiting=verb)  # the clock runs from the first request
    try:
        yield progress
    finally:
        if progress is not None:
            progress.finish()
