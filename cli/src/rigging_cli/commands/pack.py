from __future__ import annotations

import argparse
import json
from pathlib import Path

from rigging_cli.arguments import add_package_dir, package_dir


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_package_dir(parser)
    parser.add_argument("-o", "--output", required=True, metavar="LAYOUT", help="OCI image layout folder to write")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    from rigging.oci_layout import write_package
    from rigging.packing import pack_package

    root = package_dir(args, "rigging pack ./my-pkg -o out")
    packed = pack_package(root)
    layout = Path(args.output)
    write_package(layout, packed)
    if args.json:
        print(
            json.dumps(
                {
                    "name": packed.name,
                    "version": packed.version,
                    "tag": packed.tag,
                    "layout": str(layout),
                    "digest": packed.manifest_digest,
                    "size": len(packed.manifest_bytes),
                }
            )
        )
    else:
        print(f"packed {packed.name} {packed.version} -> oci:{layout}:{packed.tag}")
        print(f"digest: {packed.manifest_digest}")
    return 0
