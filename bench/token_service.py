"""Registry token service benchmark (not a test): the latency of `GET /auth/registry/token` as
distribution's clients ask it, under 50 concurrent clients — goal P95 <= 10 ms on this machine.

An index on PostgreSQL holds `--users` users (default 1,000), each owning a namespace (half of
them private) with a publish token. `rigging-indexer serve --workers 2` runs with a key folder
from `rigging-indexer keys init`. wrk then asks for tokens the way `docker push` does (Basic
credentials, `repository:NS/PKG:pull,push`, a different repository each request) and the way an
anonymous `docker pull` does (no credentials, `pull` on a public namespace):

  - closed loop, 50 connections (each sends its next request when the last one answers): the
    comparison the goal was stated for; at saturation its latency is mostly the queue;
  - open loop (bench/open_loop.lua, wrk2's method) for the anonymous mix at fixed rates
    (`--open-rates`) and at `--open-fraction` of the closed loop's throughput: below saturation
    the latency is the service's own, not the queue's;
  - one client, one request at a time: the floor, what a request costs with nobody waiting.

Needs PostgreSQL (RIGGING_TEST_DATABASE_URL, default the local server) and wrk.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import Report

from indexer import _wrk, _wrk_open  # the search benchmark's wrk runs, closed and open loop

SERVICE = "bench-registry"
GOAL_MS = 10


def fill(database: str, users: int) -> list[tuple[str, str]]:
    """`users` users, each owning namespace `ns{i}` (odd ones private) with a publish token:
    their (username, token)."""
    from rigging_indexer.db import make_engine, migrate, sessions

    from tests.support.index_db import add_namespace, add_token, add_user

    engine = make_engine(database)
    migrate(engine)
    factory = sessions(engine)
    credentials = []
    for i in range(users):
        user = add_user(factory, f"user{i}")
        add_namespace(factory, f"ns{i}", owner=user, private=i % 2 == 1)
        credentials.append((f"user{i}", add_token(factory, user, expires_in=86400, scopes=("read", "publish"))))
    engine.dispose()
    return credentials


def token_path(scope: str) -> str:
    return "/auth/registry/token?" + urlencode({"service": SERVICE, "scope": scope})


def one_at_a_time(base: str, path: str, headers: dict[str, str], count: int) -> dict[str, float]:
    """Latency with a single client and nothing else in flight (ms)."""
    import httpx

    with httpx.Client(base_url=base, headers=headers) as client:
        for _ in range(50):  # warm the connection and the server's pools
            client.get(path).raise_for_status()
        timings = []
        for _ in range(count):
            start = time.perf_counter()
            client.get(path).raise_for_status()
            timings.append((time.perf_counter() - start) * 1000)
    timings.sort()
    return {"p50_ms": statistics.median(timings), "p95_ms": timings[int(len(timings) * 0.95) - 1]}


def run(args: argparse.Namespace) -> dict[str, Any]:
    from tests.support.postgres import throwaway_database
    from tests.support.services import free_port, wait_http

    if shutil.which("wrk") is None:
        raise SystemExit("bench/token_service.py: wrk is missing; install it (apt-get install -y wrk)")
    results: dict[str, Any] = {}
    with throwaway_database() as database, tempfile.TemporaryDirectory() as tmp:
        credentials = fill(database, args.users)
        keys = Path(tmp) / "keys"
        indexer = Path(sys.executable).parent / "rigging-indexer"
        subprocess.run([str(indexer), "keys", "init", str(keys)], check=True, capture_output=True)
        port = free_port()
        env = {
            **os.environ,
            "RIGGING_INDEXER_REGISTRY_KEYS": str(keys),
            "RIGGING_INDEXER_REGISTRY_SERVICE": SERVICE,
        }
        command = [str(indexer), "serve", "--port", str(port), "--database", database, "--crawl-interval", "0"]
        server = subprocess.Popen(
            [*command, "--workers", str(args.workers)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_http(f"{base}/healthz", timeout=60, ok_statuses=(200,))
            user, token = credentials[1]  # owns the private ns1
            basic = {"Authorization": "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()}
            pushes = [token_path(f"repository:ns1/pkg-{n}:pull,push") for n in range(500)]
            pulls = [token_path(f"repository:ns{2 * n}/pkg-{n}:pull") for n in range(min(500, args.users // 2))]
            results["single_client_push"] = one_at_a_time(base, pushes[0], basic, args.single)
            results["single_client_pull"] = one_at_a_time(base, pulls[0], {}, args.single)
            results["push_closed"] = _wrk(base, args.clients, args.seconds, pushes, basic)
            results["pull_closed"] = _wrk(base, args.clients, args.seconds, pulls)
            rates = [float(r) for r in args.open_rates.split(",") if r]
            if args.open_fraction > 0:
                rates.append(results["pull_closed"]["requests_per_s"] * args.open_fraction)
            for rate in rates:
                results[f"pull_open_{rate:.0f}"] = _wrk_open(base, args.clients, args.seconds, rate, pulls)
        finally:
            server.terminate()
            server.wait()
    return results


def build_report(results: dict[str, Any], args: argparse.Namespace) -> Report:
    report = Report(f"token service: {args.users} users, {args.workers} server processes, {args.clients} clients")
    for label, how in (("single_client_push", "push token, Basic"), ("single_client_pull", "anonymous pull token")):
        run = results[label]
        report.figure(f"(a) one client at a time, {how}, P50", run["p50_ms"], "ms")
        report.figure(f"(a) one client at a time, {how}, P95", run["p95_ms"], "ms")
    runs = [
        ("push_closed", "push token with Basic credentials, closed loop"),
        ("pull_closed", "anonymous pull token, closed loop"),
    ]
    runs += [
        (label, f"anonymous pull token, open loop {label[10:]}/s")
        for label in results
        if label.startswith("pull_open_")
    ]
    for label, how in runs:
        run = results[label]
        note = f"{run['requests_per_s']:.0f} req/s, {run['errors']} errors; wrk used {run['generator_cpu_s']:.1f} CPU s"
        if run["loop"] == "open":
            note = f"at {run['target_per_s']:.0f}/s; " + note
        else:
            note = "the goal's own comparison; " + note
        report.figure(f"(b) {how}, P50", run["p50_ms"], "ms")
        report.goal(f"(b) {how}, P95", run["p95_ms"], "ms", "<=", GOAL_MS, note=note)
        report.figure(f"(b) {how}, P99", run["p99_ms"], "ms")
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=10, help="length of each load run")
    parser.add_argument("--workers", type=int, default=2, help="indexer server processes")
    parser.add_argument("--single", type=int, default=1000, help="requests timed one at a time")
    parser.add_argument("--open-fraction", type=float, default=0.6, help="open-loop rate as a share of closed loop's")
    parser.add_argument("--open-rates", default="250,500", help="open-loop rates (requests/s) measured as well")
    parser.add_argument("--quick", action="store_true", help="200 users, 3 s runs")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.users, args.seconds, args.single = 200, 3, 300
    results = run(args)
    if args.json:
        print(json.dumps(results, indent=2))
    build_report(results, args).show()
    return 0


if __name__ == "__main__":
    sys.exit(main())
