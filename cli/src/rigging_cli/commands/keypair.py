from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output-dir", default=".", metavar="DIR", help="where to write cosign.key and cosign.pub")
    parser.add_argument("--force", action="store_true", help="overwrite existing key files")


def run(args: argparse.Namespace) -> int:
    from rigging.signing.keys import generate_key_pair

    from rigging_cli.passwords import password

    private, public = generate_key_pair(Path(args.output_dir), password(confirm=True), force=args.force)
    print(f"private key written to {private} (keep it secret)")
    print(f"public key written to {public}")
    return 0
