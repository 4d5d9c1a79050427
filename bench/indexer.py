"""Indexer benchmarks (not tests), in one run:

(a) full crawl of a generated catalogue (default 2,000 packages x 5 versions) from a local
    registry into PostgreSQL — goal <= 60 s — with the per-manifest rate;
(b) an unchanged re-crawl of it — goal <= 5 s;
(c) search API latency (P50/P95) at 100k versions with 50 concurrent clients — goal P95 <= 20 ms —
    driven by wrk over a Zipf-like mix of about 1,900 distinct queries: with the server's result
    cache from cold, with it warm (every distinct query served once first), and without it.

Needs Debian's docker-registry and wrk, and a PostgreSQL (RIGGING_TEST_DATABASE_URL, default the
local server).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import random
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from install import _start_registry  # the sibling benchmark's registry helper

from tests.support.raw_package import package_manifest, tar_gz

WORDS = (
    "python",
    "shell",
    "docker",
    "review",
    "testing",
    "security",
    "style",
    "rust",
    "go",
    "react",
    "sql",
    "release",
    "docs",
    "lint",
    "format",
    "api",
    "cloud",
    "terraform",
    "kotlin",
    "swift",
)


def _package_blobs(name: str, version: str, rng: random.Random) -> tuple[bytes, bytes, bytes]:
    """(config, content layer, manifest) of a small package, in our exact format."""
    words = rng.sample(WORDS, 3)
    manifest_json = {"name": name, "version": version, "description": f"{' '.join(words)} rules", "keywords": words[:2]}
    config = json.dumps(manifest_json, sort_keys=True, separators=(",", ":")).encode()
    title = name.split("/")[1]
    files = {
        "rigging.json": config,
        "README.md": f"# {name}\n\nRules about {words[2]}.\n".encode(),
        "rules/main.md": f"---\ntrigger: always_on\n---\nUse {words[0]}.\n".encode(),
    }
    content = tar_gz({f"{title}/{path}": data for path, data in files.items()})
    return config, content, package_manifest(config, content, title)


def generate(host: str, packages: int, versions: int) -> float:
    from rigging.registry.client import RegistryClient

    from rigging import mediatypes as mt

    client = RegistryClient(host)

    def push(index: int) -> None:
        name = f"gen{index % 40}/pkg-{index:05d}"
        local = random.Random(index)
        for v in range(versions):
            config, content, manifest = _package_blobs(name, f"1.{v}.0", local)
            for blob in (config, content):
                client.upload_blob(name, "sha256:" + hashlib.sha256(blob).hexdigest(), blob)
            client.put_manifest(name, f"1.{v}.0", manifest, mt.OCI_MANIFEST)

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(push, range(packages)))
    client.close()
    return time.perf_counter() - start


def crawl(database: str, host: str, processes: int, concurrency: int) -> tuple[float, dict]:
    from rigging_indexer.crawler import Crawler, crawl_in_processes
    from rigging_indexer.db import make_engine, migrate, sessions

    engine = make_engine(database)
    migrate(engine)
    crawler = Crawler(sessions(engine), concurrency=concurrency)
    start = time.perf_counter()
    crawler.enqueue(f"http://{host}")
    if processes > 1:
        stats = crawl_in_processes(crawler, database, processes, concurrency=concurrency)
    else:
        stats = crawler.run()
    elapsed = time.perf_counter() - start
    crawler.close()
    engine.dispose()
    return elapsed, stats.__dict__


def fill_search_index(database: str, total_versions: int) -> None:
    """100k versions straight into the database, through the same store functions the crawler uses."""
    from rigging_indexer import store
    from rigging_indexer.db import make_engine, migrate, sessions
    from sqlalchemy import text

    engine = make_engine(database)
    migrate(engine)
    factory = sessions(engine)
    rng = random.Random(2)
    per_package = 5
    with factory() as session:
        src = store.source_id(session, "http://bench.invalid")
        for p in range(total_versions // per_package):
            name = f"bulk{p % 50}/{rng.choice(WORDS)}-{rng.choice(WORDS)}-{p:06d}"
            words = rng.sample(WORDS, 3)
            items = []
            for v in range(per_package):
                digest = "sha256:" + hashlib.sha256(f"{name}{v}".encode()).hexdigest()
                items.append(
                    store.IndexedVersion(
                        name=name,
                        version=f"1.{v}.0",
                        manifest_digest=digest,
                        content_digest=digest,
                        content_size=1,
                        config={
                            "name": name,
                            "version": f"1.{v}.0",
                            "description": f"{' '.join(words)} rules",
                            "keywords": words[:2],
                        },
                        readme=f"Rules about {words[2]} and {rng.choice(WORDS)}.",
                        signed_by=["bundle"] if rng.random() < 0.3 else [],
                    )
                )
            store.upsert_versions(session, store.repository_id(session, src, name), items)
            if p % 1000 == 999:
                session.commit()
        store.refresh_latest(session)
        session.execute(text("UPDATE packages SET downloads = (id * 7919) % 1000"))
        session.commit()
    engine.dispose()


WRK_SCRIPT = """
local paths = {%s}
local threads = 0
function setup(thread)
  thread:set("offset", threads * 7919)
  threads = threads + 1
end
function init(args)
  i = offset
end
function request()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1])
end
function done(summary, latency, requests)
  io.write(string.format("RESULT %%d %%d %%d %%d %%d %%d\\n", summary.requests, latency:percentile(50),
    latency:percentile(95), latency:percentile(99), summary.errors.status + summary.errors.connect
    + summary.errors.read + summary.errors.write + summary.errors.timeout, summary.duration))
end
"""


def query_mix(count: int, distinct: int) -> tuple[list[str], int]:
    """`count` search requests drawn from `distinct` different ones with Zipf-like popularity, as
    search logs look: words, prefixes, two-word queries, and filters by namespace, keyword, signed."""
    from urllib.parse import urlencode

    rng = random.Random(5)
    pool: list[dict[str, str]] = []
    for word in WORDS:
        pool.append({"q": word})
        pool.extend({"q": word[:cut]} for cut in range(3, len(word)))
        pool.extend({"q": f"{word} {other}"} for other in WORDS if other != word)
        pool.extend({"q": word, "namespace": f"bulk{n}"} for n in range(50))
        pool.extend({"q": word, "keyword": other} for other in WORDS)
        pool.append({"q": word, "signed": "true"})
    pool.append({"q": ""})
    rng.shuffle(pool)
    pool = pool[:distinct]
    weights = [1 / (rank + 1) for rank in range(len(pool))]
    drawn = rng.choices(range(len(pool)), weights=weights, k=count)
    return [f"/api/v1/packages?{urlencode(pool[i])}" for i in drawn], len(set(drawn))


def _wrk(base: str, clients: int, seconds: int, paths: list[str]) -> dict:
    """One wrk run (C, closed loop: each of `clients` connections sends its next request when
    the last one answers) over `paths` in turn."""
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(WRK_SCRIPT % ",".join(json.dumps(p) for p in paths))
        script.flush()
        out = subprocess.run(
            ["wrk", "-t2", f"-c{clients}", f"-d{seconds}s", "--timeout", "10s", "-s", script.name, base],
            capture_output=True,
            text=True,
            check=True,
        )
    line = next(x for x in out.stdout.splitlines() if x.startswith("RESULT "))
    requests, p50, p95, p99, errors, duration = (int(x) for x in line.split()[1:])
    return {
        "requests": requests,
        "requests_per_s": requests / (duration / 1e6),
        "errors": errors,
        "p50_ms": p50 / 1000,
        "p95_ms": p95 / 1000,
        "p99_ms": p99 / 1000,
    }


def load(database: str, clients: int, seconds: int, workers: int, cache_entries: int, paths: list[str]) -> dict:
    """The query mix against one server. With the cache: a first run from cold, then every
    distinct query of the mix is requested (unmeasured) so that each server process has seen
    it, then a second run measures the steady state. Without it, one run."""
    import shutil

    from tests.support.services import free_port, wait_http

    if shutil.which("wrk") is None:
        raise SystemExit("bench/indexer.py: wrk is missing; install it (apt-get install -y wrk)")
    port = free_port()
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "rigging-indexer"),
            "serve",
            "--port",
            str(port),
            "--database",
            database,
            "--workers",
            str(workers),
            "--cache-entries",
            str(cache_entries),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/healthz", timeout=60, ok_statuses=(200,))
        if not cache_entries:
            return {"uncached": _wrk(base, clients, seconds, paths)}
        cold = _wrk(base, clients, seconds, paths)
        _wrk(base, clients, seconds, sorted(set(paths)))  # priming, not measured
        return {"cache_cold": cold, "cache_warm": _wrk(base, clients, seconds, paths)}
    finally:
        server.terminate()
        server.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--packages", type=int, default=2000)
    parser.add_argument("--versions", type=int, default=5)
    parser.add_argument("--processes", type=int, default=2, help="crawler processes")
    parser.add_argument("--concurrency", type=int, default=8, help="crawler threads per process")
    parser.add_argument("--search-versions", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=15, help="length of each search load run")
    parser.add_argument("--workers", type=int, default=2, help="indexer server processes")
    parser.add_argument("--distinct-queries", type=int, default=5000)
    parser.add_argument("--skip-crawl", action="store_true")
    parser.add_argument("--skip-search", action="store_true")
    parser.add_argument("--search-database", help="an already filled index database (skips the fill)")
    args = parser.parse_args()
    import tempfile

    from tests.support.postgres import throwaway_database

    results: dict[str, Any] = {}
    if not args.skip_crawl:
        with tempfile.TemporaryDirectory() as tmp:
            proc, host = _start_registry(Path(tmp))
            try:
                results["generate_s"] = generate(host, args.packages, args.versions)
                with throwaway_database() as database:
                    seconds, stats = crawl(database, host, args.processes, args.concurrency)
                    manifests = stats["manifests_fetched"]
                    results["crawl"] = {
                        "seconds": seconds,
                        "manifests": manifests,
                        "per_manifest_ms": seconds * 1000 / max(manifests, 1),
                        "errors": len(stats["errors"]),
                    }
                    seconds, stats = crawl(database, host, args.processes, args.concurrency)
                    results["recrawl"] = {
                        "seconds": seconds,
                        "manifests": stats["manifests_fetched"],
                        "unchanged_tags": stats["unchanged"],
                    }
            finally:
                proc.terminate()
                proc.wait()
    if not args.skip_search:
        with contextlib.nullcontext(args.search_database) if args.search_database else throwaway_database() as database:
            if not args.search_database:
                start = time.perf_counter()
                fill_search_index(database, args.search_versions)
                results["fill_search_s"] = time.perf_counter() - start
            paths, distinct = query_mix(200_000, args.distinct_queries)
            results["search_queries"] = {"sequence": len(paths), "distinct": distinct}
            results["search_settings"] = {"workers": args.workers, "clients": args.clients, "seconds": args.seconds}
            for label, run in {
                **load(database, args.clients, args.seconds, args.workers, 10_000, paths),
                **load(database, args.clients, args.seconds, args.workers, 0, paths),
            }.items():
                results[f"search_{label}"] = run
    print(json.dumps(results, indent=2))
    if "crawl" in results:
        crawled, recrawl = results["crawl"], results["recrawl"]
        print(
            f"(a) crawl {args.packages} x {args.versions}: {crawled['seconds']:.1f} s "
            f"({crawled['per_manifest_ms']:.1f} ms/manifest)  goal <= 60 s"
        )
        print(
            f"(b) unchanged re-crawl: {recrawl['seconds']:.1f} s, {recrawl['manifests']} manifests fetched  goal <= 5 s"
        )
    if "search_uncached" in results:
        for label in ("cache_cold", "cache_warm", "uncached"):
            run, kind = results[f"search_{label}"], label.replace("_", " ")
            print(
                f"(c) search P95 at {args.search_versions} versions, {args.clients} clients, {kind}: "
                f"{run['p95_ms']:.1f} ms (P50 {run['p50_ms']:.1f}, {run['requests_per_s']:.0f} req/s, "
                f"{run['errors']} errors)  goal <= 20 ms"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
