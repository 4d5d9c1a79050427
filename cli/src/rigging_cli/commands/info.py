from __future__ import annotations

import argparse
import json
from typing import Any

from rigging_cli.transport_args import add_transport


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "ref",
        metavar="REF",
        help="REGISTRY/NS/NAME[:TAG|@sha256:…|@RANGE], oci:LAYOUT[:TAG], or NS/NAME from the project's registry; "
        "no version: the newest release",
    )
    add_transport(parser)


def _listed(items: list[str], empty: str = "none") -> str:
    return ", ".join(items) if items else empty


def _attestation(entry: dict[str, Any]) -> str:
    if entry["kind"] == "scan":
        details = [str(entry.get("verdict", "no verdict")), str(entry.get("scannedAt", "undated"))]
    else:
        details = [str(entry.get("decision", "no decision")), f"by {entry.get('reviewer', '?')}"]
    return f"{entry['kind']} ({', '.join(details)}; {entry['signer']})"


def run(args: argparse.Namespace) -> int:
    from rigging.package_info import package_info

    from rigging_cli.project_args import package_ref

    ref = package_ref(args, args.ref)
    info = package_info(ref, plain_http=args.plain_http, ca_file=args.ca_file)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    caps = info["capabilities"]
    scripts = [f"{s['file']} ({s['language']})" for s in caps["scripts"]]
    signatures = [f"{s['format']} ({s['signer']})" for s in info["signatures"]]
    rows = [
        ("digest", info["digest"]),
        ("source", info["source"]),
        ("description", info["description"] or "(none)"),
        ("targets", _listed(info["targets"] or [], "any agent")),
        ("files", str(info["files"])),
        ("skills", _listed(info["skills"])),
        ("signatures", _listed(signatures)),
        ("attestations", _listed([_attestation(a) for a in info["attestations"]])),
        ("scripts", _listed(scripts)),
        ("network", _listed(caps["network_hosts"])),
        ("tools", _listed(caps["allowed_tools"])),
        ("hooks", _listed(caps["hooks"])),
        ("outside paths", _listed(caps["outside_paths"])),
    ]
    print(f"{info['name']} {info['version']}")
    for label, value in rows:
        print(f"  {label + ':':<15}{value}")
    if info["signatures"] or info["attestations"]:
        print("  (found, not verified: `rigging verify --key` and an install policy check them)")
    return 0
