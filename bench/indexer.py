"""Indexer benchmarks (not tests), in one run:

(a) full crawl of a generated catalogue (default 2,000 packages x 5 versions) from a local
    registry into PostgreSQL — goal <= 60 s — with the per-manifest rate;
(b) an unchanged re-crawl of it — goal <= 5 s;
(c) search API latency (P50/P95) at 100k versions with 50 concurrent clients — goal P95 <= 20 ms.

Needs Debian's docker-registry and a PostgreSQL (RIGGING_TEST_DATABASE_URL, default the local server).
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import hashlib
import io
import json
import random
import statistics
import subprocess
import sys
import tarfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from install import _start_registry  # the sibling benchmark's registry helper

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
    from rigging import mediatypes as mt

    words = rng.sample(WORDS, 3)
    manifest_json = {"name": name, "version": version, "description": f"{' '.join(words)} rules", "keywords": words[:2]}
    config = json.dumps(manifest_json, sort_keys=True, separators=(",", ":")).encode()
    title = name.split("/")[1]
    files = {
        "rigging.json": config,
        "README.md": f"# {name}\n\nRules about {words[2]}.\n".encode(),
        "rules/main.md": f"---\ntrigger: always_on\n---\nUse {words[0]}.\n".encode(),
    }
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for path, data in files.items():
            info = tarfile.TarInfo(f"{title}/{path}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    content = gzip.compress(raw.getvalue(), mtime=0)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": mt.OCI_MANIFEST,
            "artifactType": mt.ARTIFACT_TYPE,
            "config": {
                "mediaType": mt.CONFIG,
                "digest": "sha256:" + hashlib.sha256(config).hexdigest(),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": mt.CONTENT_LAYER,
                    "digest": "sha256:" + hashlib.sha256(content).hexdigest(),
                    "size": len(content),
                    "annotations": {mt.ANN_TITLE: title},
                }
            ],
        },
        separators=(",", ":"),
    ).encode()
    return config, content, manifest


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


def crawl(database: str, host: str) -> tuple[float, dict]:
    from rigging_indexer.crawler import Crawler
    from rigging_indexer.db import make_engine, migrate, sessions

    engine = make_engine(database)
    migrate(engine)
    crawler = Crawler(sessions(engine), concurrency=8)
    start = time.perf_counter()
    crawler.enqueue(f"http://{host}")
    stats = crawler.run()
    elapsed = time.perf_counter() - start
    crawler.close()
    engine.dispose()
    return elapsed, stats.__dict__


def fill_search_index(database: str, total_versions: int) -> None:
    """100k versions straight into the database, with the same search documents the store writes."""
    from rigging_indexer import store
    from rigging_indexer.db import make_engine, migrate, sessions

    engine = make_engine(database)
    migrate(engine)
    factory = sessions(engine)
    rng = random.Random(2)
    per_package = 5
    with factory() as session:
        src = store.source(session, "http://bench.invalid")
        for p in range(total_versions // per_package):
            name = f"bulk{p % 50}/pkg-{p:06d}"
            repo = store.repository(session, src, name)
            words = rng.sample(WORDS, 3)
            for v in range(per_package):
                digest = "sha256:" + hashlib.sha256(f"{name}{v}".encode()).hexdigest()
                store.upsert_version(
                    session,
                    repo,
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
                    ),
                )
            if p % 500 == 499:
                session.commit()
        session.commit()
        store.refresh_latest(session)
        session.commit()
    engine.dispose()


async def load(url: str, clients: int, requests: int) -> list[float]:
    import httpx

    latencies: list[float] = []
    queue = list(range(requests))
    rng = random.Random(3)

    async def client_loop(http: httpx.AsyncClient) -> None:
        while queue:
            queue.pop()
            query = rng.choice(WORDS)[: rng.randint(3, 6)]
            start = time.perf_counter()
            response = await http.get(f"{url}/api/v1/packages", params={"q": query})
            latencies.append((time.perf_counter() - start) * 1000)
            response.raise_for_status()

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(limits=limits, timeout=30) as http:
        await asyncio.gather(*(client_loop(http) for _ in range(clients)))
    return latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--packages", type=int, default=2000)
    parser.add_argument("--versions", type=int, default=5)
    parser.add_argument("--search-versions", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=5000)
    args = parser.parse_args()
    import tempfile

    from tests.support.postgres import throwaway_database
    from tests.support.services import free_port, wait_http

    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        proc, host = _start_registry(Path(tmp))
        try:
            results["generate_s"] = generate(host, args.packages, args.versions)
            with throwaway_database() as database:
                seconds, stats = crawl(database, host)
                manifests = stats["manifests_fetched"]
                results["crawl"] = {
                    "seconds": seconds,
                    "manifests": manifests,
                    "per_manifest_ms": seconds * 1000 / max(manifests, 1),
                    "errors": len(stats["errors"]),
                }
                seconds, stats = crawl(database, host)
                results["recrawl"] = {
                    "seconds": seconds,
                    "manifests": stats["manifests_fetched"],
                    "unchanged_tags": stats["unchanged"],
                }
        finally:
            proc.terminate()
            proc.wait()
    with throwaway_database() as database:
        start = time.perf_counter()
        fill_search_index(database, args.search_versions)
        results["fill_search_s"] = time.perf_counter() - start
        port = free_port()
        server = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "rigging-indexer"),
                "serve",
                "--port",
                str(port),
                "--database",
                database,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_http(f"http://127.0.0.1:{port}/healthz", timeout=60, ok_statuses=(200,))
            latencies = asyncio.run(load(f"http://127.0.0.1:{port}", args.clients, args.requests))
        finally:
            server.terminate()
            server.wait()
    latencies.sort()
    results["search"] = {
        "versions": args.search_versions,
        "clients": args.clients,
        "requests": len(latencies),
        "p50_ms": statistics.median(latencies),
        "p95_ms": latencies[int(len(latencies) * 0.95)],
        "p99_ms": latencies[int(len(latencies) * 0.99)],
    }
    print(json.dumps(results, indent=2))
    crawl_result, recrawl, search = results["crawl"], results["recrawl"], results["search"]
    print(
        f"(a) crawl {args.packages} x {args.versions}: {crawl_result['seconds']:.1f} s "
        f"({crawl_result['per_manifest_ms']:.1f} ms/manifest)  goal <= 60 s"
    )
    print(f"(b) unchanged re-crawl: {recrawl['seconds']:.1f} s, {recrawl['manifests']} manifests fetched  goal <= 5 s")
    print(
        f"(c) search P95 at {search['versions']} versions, {search['clients']} clients: {search['p95_ms']:.1f} ms "
        f"(P50 {search['p50_ms']:.1f})  goal <= 20 ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
