"""The `serve` command line shared by the indexer and the portal (both are ASGI apps on uvicorn)."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence


def serve_main(prog: str, description: str, app_factory: str, default_port: int, argv: Sequence[str] | None) -> int:
    """`app_factory` is "module:function"; it is imported only when `serve` runs."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = sub.add_parser("serve", help="serve the HTTP app")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=default_port)
    args = parser.parse_args(argv)
    import uvicorn

    module, function = app_factory.split(":")
    app = getattr(importlib.import_module(module), function)()
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
