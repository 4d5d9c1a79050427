"""`rigging-portal`: the portal's command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rigging-portal", description="Rigging web portal")
    parser.add_argument("--version", action="version", version=_version_line())
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = sub.add_parser("serve", help="serve the portal")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8800)
    args = parser.parse_args(argv)
    import uvicorn

    from rigging_portal.app import create_app

    uvicorn.run(create_app(), host=args.host, port=args.port, log_level="warning")
    return 0


def _version_line() -> str:
    from importlib.metadata import PackageNotFoundError, version

    from rigging import __version__ as core

    try:
        own = version("rigging-portal")
    except PackageNotFoundError:
        own = core
    return f"rigging-portal {own} (rigging-core {core})"


if __name__ == "__main__":
    sys.exit(main())
