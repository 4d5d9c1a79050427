"""`rigging-indexer`: serve the API, crawl sources, migrate the database.

    rigging-indexer serve --database URL --source http://registry:5000 [--webhook-secret S] [--crawl-interval 300]
    rigging-indexer crawl --database URL --source http://registry:5000 --once
    rigging-indexer migrate --database URL
    rigging-indexer keys init DIR      (then `keys rotate DIR`: the registry token service's signing keys)
    rigging-indexer keys attestation DIR   (the index's attestation key: DIR/cosign.key and cosign.pub)
    rigging-indexer scan --database URL [--once]   (full scans: built-ins, validation, Semgrep)
    rigging-indexer rescan --database URL [--all]  (queue versions the current rules have not scanned)
    rigging-indexer admin user add alice --admin   (and `admin namespace assign`, `admin token create`)

Sources holding the same packages as another (a pull-through cache, a replica) are configured as its
mirrors, `--mirror MIRROR_URL=PRIMARY_URL` or "mirrors": {MIRROR_URL: PRIMARY_URL} in the config
file: their packages are the primary's. Without that, same-named packages in two sources are two.

Settings also come from a JSON file (--config) and the environment (RIGGING_INDEXER_DATABASE_URL,
RIGGING_INDEXER_SOURCES separated by spaces, RIGGING_INDEXER_WEBHOOK_SECRET); flags win.
Credentials for registries come from the docker config, never from these settings.
Sign-in, trusted publishing and the registry token service read the config file's `auth` object
(rigging_indexer.auth.settings), whose secrets are references (env:VAR, file:PATH).

Scanning and moderation: --moderation none|flagged|all (config "moderation"; each namespace may
override it), --attestation-key PATH (config "attestation_key": a cosign key file or a PEM ECDSA
P-256 key) with --attestation-key-password REF (config "attestation_key_password", env:VAR or
file:PATH; default COSIGN_PASSWORD). `serve` queues the versions the current rules have not
scanned and runs --scan-workers threads of full scans.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rigging_indexer.db import DEFAULT_URL

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from rigging_indexer.scanning import ScanWorker

SERVE_SETTINGS = "RIGGING_INDEXER_SERVE_SETTINGS"


def _settings(args: argparse.Namespace) -> dict:
    config: dict = {}
    if args.config:
        config = json.loads(Path(args.config).read_text(encoding="utf-8"))
    env_sources = os.environ.get("RIGGING_INDEXER_SOURCES", "").split()
    return {
        "database": args.database
        or os.environ.get("RIGGING_INDEXER_DATABASE_URL")
        or config.get("database")
        or DEFAULT_URL,
        "sources": args.source or env_sources or list(config.get("sources") or []),
        "webhook_secret": getattr(args, "webhook_secret", None)
        or os.environ.get("RIGGING_INDEXER_WEBHOOK_SECRET")
        or config.get("webhook_secret"),
        "ca_file": args.ca_file or config.get("ca_file"),
        "mirrors": _mirrors(args.mirror) if args.mirror else dict(config.get("mirrors") or {}),
        # sign-in and trusted publishing (rigging_indexer.auth.settings); secrets in it are references
        "auth": config.get("auth"),
        "moderation": getattr(args, "moderation", None)
        or os.environ.get("RIGGING_INDEXER_MODERATION")
        or config.get("moderation")
        or "none",
        "attestation_key": getattr(args, "attestation_key", None) or config.get("attestation_key"),
        "attestation_key_password": getattr(args, "attestation_key_password", None)
        or config.get("attestation_key_password"),
    }


def _mirrors(pairs: list[str]) -> dict[str, str]:
    """--mirror MIRROR_URL=PRIMARY_URL flags as {mirror: primary}."""
    out = {}
    for pair in pairs:
        mirror, _, primary = pair.partition("=")
        if not mirror or not primary:
            raise SystemExit(f"rigging-indexer: error: --mirror {pair!r}: use MIRROR_URL=PRIMARY_URL")
        out[mirror] = primary
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rigging-indexer", description="Rigging registry indexer")
    parser.add_argument("--version", action="version", version=version_line("rigging-indexer"))
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--database", help=f"SQLAlchemy URL (default {DEFAULT_URL})")
    common.add_argument("--source", action="append", help="registry URL or oci:PATH (repeatable)")
    common.add_argument("--config", help="JSON settings file")
    common.add_argument("--ca-file", help="CA bundle for registries' TLS certificates")
    common.add_argument(
        "--mirror",
        action="append",
        metavar="MIRROR_URL=PRIMARY_URL",
        help="a source that mirrors another: its packages are the primary's (repeatable; config key 'mirrors')",
    )
    common.add_argument(
        "--moderation",
        choices=("none", "flagged", "all"),
        help="none: only block findings quarantine; flagged: versions with findings wait for a reviewer; "
        "all: every new version does (default none; namespaces may override)",
    )
    common.add_argument("--attestation-key", metavar="PATH", help="the key the index signs its attestations with")
    common.add_argument(
        "--attestation-key-password", metavar="REF", help="its password: env:VAR or file:PATH (default COSIGN_PASSWORD)"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = sub.add_parser("serve", parents=[common], help="serve the API and the registry webhook")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8700)
    serve.add_argument("--webhook-secret", help="shared secret registries send as 'Authorization: Bearer …'")
    serve.add_argument("--workers", type=int, default=1, help="server processes (one per core is a good start)")
    serve.add_argument(
        "--cache-entries", type=int, default=10_000, help="search responses cached per process (0 turns it off)"
    )
    serve.add_argument(
        "--scan-workers", type=int, default=1, help="threads running full scans in the serving process (0: none)"
    )
    serve.add_argument(
        "--crawl-interval",
        type=float,
        default=300,
        metavar="SECONDS",
        help="crawl the sources on start and then this often (default 300; 0: never, webhooks only)",
    )
    crawl = sub.add_parser("crawl", parents=[common], help="crawl the sources into the index")
    crawl.add_argument("--once", action="store_true", help="crawl once and exit")
    crawl.add_argument("--interval", type=float, default=300, help="seconds between crawls (without --once)")
    crawl.add_argument("--lease-seconds", type=float, default=60, help="how long a claimed job stays claimed")
    crawl.add_argument("--concurrency", type=int, default=8, help="repositories crawled at once, per process")
    crawl.add_argument("--processes", type=int, default=1, help="crawler processes (up to one per core)")
    sub.add_parser("migrate", parents=[common], help="create or upgrade the database schema")
    scan = sub.add_parser("scan", parents=[common], help="run full scans of queued versions")
    scan.add_argument("--once", action="store_true", help="work through the queue and exit")
    scan.add_argument("--batch", type=int, default=16, help="versions scanned (and given to Semgrep) at once")
    rescan = sub.add_parser("rescan", parents=[common], help="queue versions the current rules have not scanned")
    rescan.add_argument("--all", action="store_true", help="every version, scanned or not")
    sub.add_parser(
        "render-readmes",
        parents=[common],
        help="render the READMEs of versions indexed before they were kept as HTML, or by another renderer",
    )
    from rigging_indexer import admin

    admin.add_arguments(
        sub.add_parser("admin", parents=[common], help="first users, namespace assignments, service tokens")
    )
    keys = sub.add_parser(
        "keys",
        help="the registry token service's signing keys (`init DIR`, then `rotate DIR`); the attestation key",
    )
    keys.add_argument(
        "action",
        choices=("init", "rotate", "attestation"),
        help="init: a CA and a first key; rotate: a new key; attestation: DIR/cosign.key, its password "
        "from COSIGN_PASSWORD",
    )
    keys.add_argument("folder", metavar="DIR", help="the key folder (its ca.pem is the registry's rootcertbundle)")
    keys.add_argument("--days", type=int, default=30, help="how long a new signing key is valid (default 30)")
    args = parser.parse_args(argv)
    if args.command == "keys" and args.action == "attestation":
        return _attestation_key(Path(args.folder))
    if args.command == "keys":  # no database involved
        from rigging_indexer.auth.keys import main as keys_main

        return keys_main(args.action, args.folder, args.days)
    settings = _settings(args)

    from rigging.errors import RiggingError

    from rigging_indexer.db import make_engine, migrate, sessions

    engine = make_engine(settings["database"])
    try:
        migrate(engine)
        if args.command == "admin":
            return admin.run(args, sessions(engine))
        if args.command == "migrate":
            print("database is at the newest schema")
            return 0
        factory = sessions(engine)
        if args.command == "rescan":
            from rigging_indexer import scanning

            with factory() as session:
                count = scanning.rescan(session, everything=args.all, attesting=bool(settings["attestation_key"]))
                session.commit()
            print(f"queued {count} versions for a scan under rules {scanning.RULES_VERSION}")
            return 0
        if args.command == "render-readmes":
            from rigging_indexer.store import render_readmes

            print(f"rendered {render_readmes(factory)} READMEs")
            return 0
        if args.command == "scan":
            worker = _scan_worker(factory, settings, batch=args.batch)
            try:
                if args.once:
                    stats = worker.run()
                    print(
                        json.dumps(
                            {
                                "scanned": stats.versions,
                                "quarantined": stats.quarantined,
                                "attested": stats.attested,
                                "semgrep": stats.semgrep,
                                "errors": stats.errors,
                            }
                        )
                    )
                    return 1 if stats.errors else 0
                worker.run(stop=threading.Event(), idle_seconds=0.5)
                return 0
            finally:
                worker.close()
        from rigging_indexer.store import configure_mirrors

        with factory() as session:  # before any crawl: it decides which package a version belongs to
            configure_mirrors(session, settings["mirrors"])
            session.commit()
        if args.command == "serve":
            import uvicorn

            from rigging_indexer.auth.settings import AuthConfigError, AuthSettings

            try:  # here, once, so a wrong setting stops the start with one line rather than each worker
                AuthSettings.load(settings["auth"])
            except AuthConfigError as exc:
                print(f"rigging-indexer: error: auth settings: {exc}", file=sys.stderr)
                return 2
            if settings["attestation_key"]:  # likewise: a key that does not load stops the start here
                from rigging_indexer.scanning import load_key

                try:
                    load_key(settings["attestation_key"], settings["attestation_key_password"])
                except (RiggingError, AuthConfigError, OSError, ValueError) as exc:
                    print(f"rigging-indexer: error: attestation key: {exc}", file=sys.stderr)
                    return 2

            if args.scan_workers > 0:
                _start_scanning(factory, settings, args.scan_workers)
            # Each worker process builds its app from these settings (secrets stay out of argv).
            os.environ[SERVE_SETTINGS] = json.dumps({**settings, "cache_entries": args.cache_entries})
            if settings["sources"] and args.crawl_interval > 0:
                # here, in the one process that starts the workers, so N workers do not crawl N times
                threading.Thread(
                    target=_crawl_forever,
                    args=(factory, settings, args.crawl_interval),
                    name="rigging-crawl",
                    daemon=True,
                ).start()
            uvicorn.run(
                "rigging_indexer.app:from_environment",
                factory=True,
                host=args.host,
                port=args.port,
                workers=args.workers,
                log_level="warning",
            )
            return 0
        if not settings["sources"]:
            print(
                "rigging-indexer: error: no sources; pass --source URL (or set RIGGING_INDEXER_SOURCES)",
                file=sys.stderr,
            )
            return 2
        from rigging_indexer.crawler import Crawler, crawl_in_processes

        options = {
            "lease_seconds": args.lease_seconds,
            "concurrency": args.concurrency,
            "ca_file": settings["ca_file"],
            "moderation": settings["moderation"],
        }
        while True:
            crawler = Crawler(factory, **options)
            try:
                for source in settings["sources"]:
                    crawler.enqueue(source)
                stats = (
                    crawl_in_processes(crawler, settings["database"], args.processes, **options)
                    if args.processes > 1
                    else crawler.run()
                )
            finally:
                crawler.close()
            print(
                json.dumps(
                    {
                        "repositories": stats.repositories,
                        "indexed": stats.indexed,
                        "unchanged": stats.unchanged,
                        "skipped": stats.skipped,
                        "manifests_fetched": stats.manifests_fetched,
                        "scanned": stats.scanned,
                        "scan_seconds": round(stats.scan_seconds, 3),
                        "errors": stats.errors,
                    }
                ),
                flush=True,
            )
            if args.once:
                return 1 if stats.errors else 0
            time.sleep(args.interval)
    except RiggingError as exc:
        print(f"rigging-indexer: error: {exc}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()


def _crawl_forever(factory: sessionmaker[Session], settings: dict, interval: float) -> None:
    """Crawl every source now and then every `interval` seconds, for as long as the server runs:
    a registry that is down (or a source that fails) is reported and tried again next round."""
    from rigging_indexer.crawler import Crawler

    while True:
        started = time.monotonic()
        crawler = Crawler(factory, ca_file=settings["ca_file"], concurrency=4, moderation=settings["moderation"])
        try:
            problems = []
            for source in settings["sources"]:
                try:
                    crawler.enqueue(source)
                except Exception as exc:  # the other sources are still crawled
                    problems.append(f"{source}: {exc}")
            stats = crawler.run()
            problems += stats.errors
            print(
                f"rigging-indexer: crawled {stats.repositories} repositories: {stats.indexed} indexed, "
                f"{stats.unchanged} unchanged, {len(problems)} problems"
                + (f" (first: {problems[0]})" if problems else ""),
                file=sys.stderr,
                flush=True,
            )
        except Exception as exc:  # e.g. the database is away for a moment
            print(f"rigging-indexer: crawl failed: {exc}", file=sys.stderr, flush=True)
        finally:
            crawler.close()
        time.sleep(max(interval - (time.monotonic() - started), 0.0))


def _scan_worker(factory: sessionmaker[Session], settings: dict, *, batch: int = 16) -> ScanWorker:
    from rigging_indexer import scanning

    key = None
    if settings["attestation_key"]:
        key = scanning.load_key(settings["attestation_key"], settings["attestation_key_password"])
    return scanning.ScanWorker(
        factory,
        moderation=scanning.check_mode(settings["moderation"]) or "none",
        key=key,
        ca_file=settings["ca_file"],
        batch=batch,
    )


def _start_scanning(factory: sessionmaker[Session], settings: dict, threads: int) -> None:
    """Queue what the current rules have not scanned (a new rules version re-scans everything),
    then run full scans in threads of this process, polling the job table, for as long as it runs."""
    from rigging_indexer import scanning

    with factory() as session:
        queued = scanning.rescan(session, attesting=bool(settings["attestation_key"]))
        session.commit()
    if queued:
        print(
            f"rigging-indexer: {queued} versions queued for scans under rules {scanning.RULES_VERSION}",
            file=sys.stderr,
            flush=True,
        )
    for n in range(threads):
        worker = _scan_worker(factory, settings)
        worker.worker += f":{n}"
        threading.Thread(
            target=worker.run,
            kwargs={"stop": threading.Event(), "idle_seconds": 0.1},
            name=f"rigging-scan-{n}",
            daemon=True,
        ).start()


def _attestation_key(folder: Path) -> int:
    """A new attestation key pair in cosign's format, its password from COSIGN_PASSWORD."""
    from rigging.errors import RiggingError
    from rigging.signing.keys import generate_key_pair

    password = os.environ.get("COSIGN_PASSWORD")
    if not password:
        print("rigging-indexer: error: set COSIGN_PASSWORD to the new key's password", file=sys.stderr)
        return 2
    try:
        private, public = generate_key_pair(folder, password.encode())
    except RiggingError as exc:
        print(f"rigging-indexer: error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {private} (serve --attestation-key {private}) and {public} (what consumers trust)")
    return 0


def version_line(program: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    from rigging import __version__ as core

    try:
        own = version(program)
    except PackageNotFoundError:
        own = core
    return f"{program} {own} (rigging-core {core})"


if __name__ == "__main__":
    sys.exit(main())
