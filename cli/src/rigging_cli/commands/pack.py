from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directory", metavar="DIR", nargs="?", default=".", help="package folder (default: .)")
    parser.add_argument("-o", "--output", required=True, metavar="LAYOUT", help="OCI image layout folder to write")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    from rigging.errors import UsageError
    from rigging.oci_layout import write_package
    from rigging.packing import pack_package

    root = Path(args.directory)
    if not root.is_dir():
        raise UsageError(f"{root}: no such folder (give the package folder, e.g. rigging pack ./my-pkg -o out)")
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
