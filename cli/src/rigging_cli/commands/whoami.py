from __future__ import annotations

import argparse
import json

from rigging_cli.index_args import add_index_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_index_argument(parser)
    parser.add_argument("--json", action="store_true", help="print the answer as JSON")


def run(args: argparse.Namespace) -> int:
    from rigging.errors import RiggingError
    from rigging.index_access import index_token

    from rigging_cli.index_args import index_get, index_url

    index = index_url(args.index)
    if not index_token(index):
        raise RiggingError(f"not logged in to {index}: set RIGGING_TOKEN or run `rigging login --index {index}`")
    who = index_get(index, "/api/v1/whoami")
    if args.json:
        print(json.dumps(who))
        return 0
    if not isinstance(who, dict):
        raise RiggingError(f"indexer {index} answered whoami with something that is not an object")
    line = f"{who.get('username') or '(CI token)'} at {index}"
    if who.get("scopes"):
        line += f" — scopes: {', '.join(who['scopes'])}"
    print(line)
    for entry in who.get("namespaces") or []:
        if isinstance(entry, dict):
            private = " (private)" if entry.get("private") else ""
            print(f"  {entry.get('name')}: {entry.get('role')}{private}")
    return 0
