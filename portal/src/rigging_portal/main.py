"""`rigging-portal`: the portal's command line."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

SERVE_SETTINGS = "RIGGING_PORTAL_SERVE_SETTINGS"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rigging-portal", description="Rigging web portal")
    parser.add_argument("--version", action="version", version=_version_line())
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = sub.add_parser("serve", help="serve the portal")
    serve.add_argument("--database", help="the indexer's store, a SQLAlchemy URL (or RIGGING_INDEXER_DATABASE_URL)")
    serve.add_argument("--config", help="the indexer's JSON settings file (auth, sources, ca_file, moderation)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8800)
    serve.add_argument("--workers", type=int, default=1, help="server processes (one per core is a good start)")
    args = parser.parse_args(argv)
    from rigging_portal.settings import SettingsError, from_values, load

    try:
        values = load(args.database, args.config)
        settings = from_values(values, check=True)
        from rigging_portal.app import create_app

        app = create_app(settings)  # built here once, so a bad setting fails before serving
    except (SettingsError, ValueError) as exc:
        print(f"rigging-portal: {exc}", file=sys.stderr)
        return 2
    import uvicorn

    print(f"rigging-portal: serving http://{args.host}:{args.port}/", file=sys.stderr, flush=True)
    if args.workers > 1:  # each worker process builds its app from the settings handed down
        os.environ[SERVE_SETTINGS] = json.dumps(values)
        uvicorn.run(
            "rigging_portal.app:from_environment",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_level="warning",
        )
    else:
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
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
