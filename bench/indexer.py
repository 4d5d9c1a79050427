"""Indexer benchmarks (not tests), in one run:

(a) full crawl of a generated catalogue (default 2,000 packages x 5 versions) from a local
    registry into PostgreSQL — goal <= 60 s — with the per-manifest rate, and the crawl's peak
    memory — goal <= 300 MB (MiB here) for the largest crawler process. The crawl runs in a
    process of its own so that its peak RSS is the crawler's (see `crawl` for how it is read);
(b) an unchanged re-crawl of it — goal <= 5 s — and against its registry-only floor — goal
    <= 1.5x: the very requests the re-crawl sent (read from the registry's access log: the
    _catalog page(s), a tag list per repository, a HEAD per tag), sent once each by curl over as
    many connections as the crawler has threads in all, right after the re-crawl, against the same
    registry (`registry_floor` says why curl rather than wrk); re-crawl and floor take turns
    `--floor-runs` times and the ratio is of their medians. Both request counts are printed;
(c) search API latency at 100k versions with 50 clients — goal P95 <= 20 ms — driven by wrk over
    a Zipf-like mix of about 1,900 distinct queries: with the server's result cache from cold,
    with it warm (every distinct query served once first), and without it. Each is measured
    closed loop (50 connections, each sending its next request when the last one answers: the
    figure the goal was first stated for) and, for the warm cache and no cache, open loop too.

Packages that skip the crawler's config shortcuts. `rigging pack` embeds the config in its
descriptor's `data` (oci-media-types/SPEC.md), which the crawler reads instead of a config GET;
the bench's "pack" packages do too. Without `data`, the crawler still downloads the content layer
anyway, and when the layer's content-title annotation names the folder its files lie under and
the canonical JSON (sorted keys, no spaces) of that folder's rigging.json has exactly the config
descriptor's size and sha256, it takes those bytes as the config (crawler.py, `_config_in_layer`).
A share of the packages (default 25%, `--other-publishers`) is published as other tools do,
with no `data`, which costs the crawler a third GET per version:
  - "oras": the config blob is the author's rigging.json as written (indented, with a final
    newline), as `oras push --config rigging.json:application/vnd.rigging.package.config.v1+json`
    uploads it: its canonical form hashes differently, so the shortcut does not match;
  - "untitled": the content layer carries no org.opencontainers.image.title, so the crawler cannot
    locate rigging.json in the layer before it knows the package name, and fetches the config.
The bench checks every generated version against the crawler's own test and prints the counts.

Open loop. In a closed loop each connection waits for its answer before it sends again, so while
the server stalls the requests that would have arrived are neither sent nor timed (coordinated
omission); and with 50 connections it holds the server at saturation, where latency is mostly the
queue of requests in flight. (wrk 4 adjusts its closed-loop histogram after the run, adding
samples for responses slower than the mean interval; those are the closed-loop percentiles here,
as before.) The open loop sends at a constant rate below saturation (default 60% of the closed
loop's throughput for the same server configuration, measured just before) from 50 connections,
each on its own fixed schedule, and times each request from when it was meant to be sent
(bench/open_loop.lua: wrk2's method in a wrk 4 script, since Debian has no wrk2). It reports how
late requests left, overall and by the generator's fault alone (connection idle, send still late),
and wrk's CPU time, so that the generator can be seen not to be the bottleneck.

Needs Debian's docker-registry, wrk and curl, and a PostgreSQL (RIGGING_TEST_DATABASE_URL, default the
local server).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import math
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from install import _start_registry  # the sibling benchmark's registry helper
from report import Report

from tests.support.raw_package import package_manifest, tar_gz

HERE = Path(__file__).resolve().parent

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


PUBLISHERS = ("pack", "oras", "untitled")


def publisher(index: int, other_share: int) -> str:
    """How package `index` is published: spread evenly over the namespaces, `other_share` percent
    of them not as `rigging pack` does."""
    if (index * 37) % 100 >= other_share:
        return "pack"
    return "oras" if index % 2 == 0 else "untitled"


def _package_blobs(name: str, version: str, rng: random.Random, kind: str = "pack") -> tuple[bytes, bytes, bytes]:
    """(config, content layer, manifest) of a small package, published as `kind`:
    "pack" in our exact format; "oras" with the author's rigging.json as the config blob;
    "untitled" with no title annotation on the content layer."""
    words = rng.sample(WORDS, 3)
    manifest_json = {"name": name, "version": version, "description": f"{' '.join(words)} rules", "keywords": words[:2]}
    if kind == "oras":  # as written by hand and uploaded as it is
        config = (json.dumps(manifest_json, indent=2) + "\n").encode()
    else:
        config = json.dumps(manifest_json, sort_keys=True, separators=(",", ":")).encode()
    title = name.split("/")[1]
    files = {
        "rigging.json": config,
        "README.md": f"# {name}\n\nRules about {words[2]}.\n".encode(),
        "rules/main.md": f"---\ntrigger: always_on\n---\nUse {words[0]}.\n".encode(),
    }
    content = tar_gz({f"{title}/{path}": data for path, data in files.items()})
    # as `rigging pack` writes it: the config embedded in its descriptor (the others do not)
    manifest = package_manifest(config, content, title, embed_config=kind == "pack")
    if kind == "untitled":
        parsed = json.loads(manifest)
        for layer in parsed["layers"]:
            layer.pop("annotations", None)
        manifest = json.dumps(parsed, separators=(",", ":")).encode()
    return config, content, manifest


def takes_shortcut(config: bytes, content: bytes, manifest: bytes) -> bool | None:
    """Whether the crawler reads this version's config without a GET: embedded in the manifest, or
    from its content layer (the crawler's own test); None when it no longer has the functions to ask."""
    try:
        from rigging.transfer import parse_package_manifest
        from rigging_indexer.crawler import _config_in_layer, _read_layer
    except ImportError:
        return None
    package = parse_package_manifest(manifest, "bench")
    if package.blobs.get(package.config.digest) == config:
        return True
    title = package.annotated_content_title()
    if not title:
        return False
    return _config_in_layer(package, _read_layer(content, title, "bench")) == config


def generate(host: str, packages: int, versions: int, other_share: int) -> tuple[float, dict[str, int]]:
    """Seconds to push the catalogue, and how many versions take the crawler's config shortcut."""
    from rigging.registry.client import RegistryClient

    from rigging import mediatypes as mt

    client = RegistryClient(host)
    counts = {"shortcut": 0, "config_fetched": 0, "unchecked": 0, **{kind: 0 for kind in PUBLISHERS}}

    def push(index: int) -> list[tuple[str, bool | None]]:
        name = f"gen{index % 40}/pkg-{index:05d}"
        kind = publisher(index, other_share)
        local = random.Random(index)
        outcome = []
        for v in range(versions):
            config, content, manifest = _package_blobs(name, f"1.{v}.0", local, kind)
            for blob in (config, content):
                client.upload_blob(name, "sha256:" + hashlib.sha256(blob).hexdigest(), blob)
            client.put_manifest(name, f"1.{v}.0", manifest, mt.OCI_MANIFEST)
            outcome.append((kind, takes_shortcut(config, content, manifest)))
        return outcome

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = [item for items in pool.map(push, range(packages)) for item in items]
    elapsed = time.perf_counter() - start
    client.close()
    for kind, shortcut in outcomes:
        counts[kind] += 1
        counts["unchecked" if shortcut is None else "shortcut" if shortcut else "config_fetched"] += 1
        if shortcut is not None:
            assert shortcut == (kind == "pack"), f"a {kind} version {'took' if shortcut else 'missed'} the shortcut"
    return elapsed, counts


def crawl(database: str, host: str, processes: int, concurrency: int) -> tuple[float, dict, dict[str, float]]:
    """Seconds, the crawler's stats, and its peak memory (MiB): the crawl runs in a Python process of
    its own (`_crawl_main`, started as `python -c`), so that its peak is the crawler's and not this
    bench's, which also generated the catalogue. That process enqueues the registry and works as
    the first crawler process; with `processes` > 1, crawl_in_processes spawns the others.

    Peaks are VmHWM (the high-water RSS of a process's memory since it last exec'd), not ru_maxrss:
    Python starts children with vfork, so a child runs on its parent's memory until it execs, and
    Linux keeps the parent's high-water RSS as the child's ru_maxrss (tried: a 200 MiB Python
    parent gets 210 MiB for /bin/true), which would report this bench's, or the first crawler's,
    memory as the next one's. The first process reads its own VmHWM when done (exact); a thread in
    it reads the other crawler processes' every 20 ms while they run (their growth in the last
    20 ms before they exit can be missed). The time is taken inside it, from enqueue to the end,
    as before."""
    code = (
        f"import sys; sys.path[:0] = {[str(HERE), str(HERE.parent)]!r}; "
        "from indexer import _crawl_main; _crawl_main(*sys.argv[1:])"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, database, host, str(processes), str(concurrency)],
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"bench: the crawl process failed ({proc.returncode}):\n{proc.stdout}")
    result = json.loads(proc.stdout.splitlines()[-1])
    memory = {
        "first_process_mib": result["peak_self_kib"] / 1024,
        "other_processes_mib": result["peak_others_kib"] / 1024,  # the largest of them; 0 with one process
        "other_processes_seen": result["others_seen"],
    }
    return result["seconds"], result["stats"], memory


def _vm_hwm_kib(pid: int | str = "self") -> int:
    """A process's peak RSS since its exec (VmHWM, KiB); 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            return next((int(line.split()[1]) for line in status if line.startswith("VmHWM:")), 0)
    except OSError:
        return 0


def _crawler_children() -> list[int]:
    """This process's children that are spawned multiprocessing workers (not its resource tracker)."""
    found = []
    for task in Path("/proc/self/task").iterdir():  # a child is listed under the thread that started it
        with contextlib.suppress(OSError):
            for pid in (task / "children").read_text().split():
                with contextlib.suppress(OSError):
                    if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                        found.append(int(pid))
    return found


def _crawl_main(database: str, host: str, processes: str, concurrency: str) -> None:
    """The crawl, in the process `crawl` starts: prints its time, stats and peak RSS as JSON."""
    import threading

    from rigging_indexer.crawler import Crawler, crawl_in_processes
    from rigging_indexer.db import make_engine, migrate, sessions

    others: dict[int, int] = {}  # pid -> highest VmHWM seen
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.02):
            for pid in _crawler_children():
                others[pid] = max(others.get(pid, 0), _vm_hwm_kib(pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    engine = make_engine(database)
    migrate(engine)
    crawler = Crawler(sessions(engine), concurrency=int(concurrency))
    start = time.perf_counter()
    crawler.enqueue(f"http://{host}")
    if int(processes) > 1:
        stats = crawl_in_processes(crawler, database, int(processes), concurrency=int(concurrency))
    else:
        stats = crawler.run()
    elapsed = time.perf_counter() - start
    crawler.close()
    engine.dispose()
    done.set()
    sampler.join()
    result = {
        "seconds": elapsed,
        "stats": stats.__dict__,
        "peak_self_kib": _vm_hwm_kib(),
        "peak_others_kib": max(others.values(), default=0),
        "others_seen": len(others),
    }
    print(json.dumps(result), flush=True)


# distribution's access log is Apache's combined format: "METHOD PATH PROTO" STATUS BYTES "REFERER" "AGENT"
ACCESS = re.compile(r'"([A-Z]+) (\S+) HTTP/[\d.]+" (\d{3}) \S+ "[^"]*" "([^"]*)"')


def logged_since(log: Path, offset: int) -> list[tuple[str, str, int, str]]:
    """(method, path, status, user agent) of every request the registry logged after byte `offset`
    of its access log, read once no line has been added for 200 ms (a line is written after its
    response is sent, so a client can be done before the registry has logged its last request)."""
    size, deadline = -1, time.monotonic() + 5
    while time.monotonic() < deadline and log.stat().st_size != size:
        size = log.stat().st_size
        time.sleep(0.2)
    with log.open("rb") as file:
        file.seek(offset)
        text = file.read().decode(errors="replace")
    found = []
    for match in ACCESS.finditer(text):
        method, path, status, agent = match.groups()
        found.append((method, path, int(status), agent))
    return found


def _request_kinds(sent: list[tuple[str, str, int, str]]) -> dict[str, int]:
    kinds = {"catalog": 0, "tag_lists": 0, "manifest_heads": 0, "other": 0}
    for method, path, *_ in sent:
        if path.startswith("/v2/_catalog"):
            kinds["catalog"] += 1
        elif method == "GET" and "/tags/list" in path:
            kinds["tag_lists"] += 1
        elif method == "HEAD" and "/manifests/" in path:
            kinds["manifest_heads"] += 1
        else:
            kinds["other"] += 1
    return kinds


def registry_floor(
    host: str, requests: list[tuple[str, str]], connections: int, log: Path, runs: int
) -> dict[str, Any]:
    """The registry-only floor of the unchanged re-crawl: the very requests the crawler sent
    (method and path as the registry logged them, in its order: the _catalog page(s), each
    repository's tag list, a HEAD per tag), each sent exactly once by a C client over at most
    `connections` keep-alive connections (the crawler's processes x threads), `runs` times in turn.

    The client is curl (libcurl, one event loop: `--parallel --parallel-max N`), not wrk. wrk 4.1
    cannot send these HEADs: its HTTP parser learns that a response has no body only from an
    on_headers_complete callback, which wrk does not register, so a HEAD answered with a
    Content-Length (distribution sends the manifest's size) waits for a body that never comes and
    its connection stalls (tried: 0 of 5 HEADs completed in 3 s). wrk also runs for a set duration,
    so "these N requests once" could only be had from it as N / (its requests per second), which
    drops the ramp-up and the tail (the last, slowest answers) that the crawler's time includes.
    curl walks the list once and exits when the last answer is in: its wall time is the time for
    these N requests, process start (a few ms) included. Its CPU time is reported so that it can be
    seen not to be the bottleneck, and every run's requests are counted again in the access log."""
    from rigging.registry.client import MANIFEST_ACCEPT  # the Accept header the crawler's HEADs carry

    runs_s, cpu_s, counts, statuses = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "requests.curl"
        with config.open("w") as out:  # one curl operation per request (`next` between them)
            for number, (method, path) in enumerate(requests):
                out.write("next\n" if number else "")
                out.write("globoff\noutput = /dev/null\n")
                if method == "HEAD":
                    out.write(f'head\nheader = "Accept: {MANIFEST_ACCEPT}"\n')
                elif method != "GET":
                    raise SystemExit(f"bench: the re-crawl sent a {method} {path}; the floor only replays GET and HEAD")
                out.write(f'url = "http://{host}{path}"\n')
        command = [
            "curl",
            "--no-progress-meter",
            "--parallel",
            "--parallel-max",
            str(connections),
            "--config",
            str(config),
        ]
        for _ in range(runs):
            offset = log.stat().st_size
            before = _children_cpu()
            start = time.perf_counter()
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
            runs_s.append(time.perf_counter() - start)
            cpu_s.append(_children_cpu() - before)
            seen = logged_since(log, offset)
            counts.append(len(seen))
            statuses.append(sorted({status for *_, status, _ in seen}))
    return {
        "seconds": statistics.median(runs_s),
        "runs_s": runs_s,
        "requests": counts,
        "statuses": statuses,
        "client_cpu_s": cpu_s,
        "connections": connections,
    }


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

    def packages() -> Iterator[tuple[str, list[store.IndexedVersion]]]:
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
            yield name, items

    with factory() as session:
        write_packages(session, store.source_id(session, "http://bench.invalid"), packages())
        store.refresh_latest(session)
        session.execute(text("UPDATE packages SET downloads = (id * 7919) % 1000"))
        session.commit()
    engine.dispose()


def write_packages(session: Any, source: int, packages: Iterable[tuple[str, list[Any]]], *, tags: bool = False) -> None:
    """Each package's versions (store.IndexedVersion) into its own repository of `source`, as the
    crawler writes a repository (bench/portal.py seeds its index with this too), committing every
    1,000 packages; with `tags`, each version tagged with its version as a registry would. The
    packages' latest versions and search documents, and the last commit, are left to the caller
    (store.refresh_latest once for all of them: per package it would be most of the time)."""
    from rigging_indexer import store

    for p, (name, items) in enumerate(packages):
        repo = store.repository_id(session, source, name)
        store.upsert_versions(session, repo, items)
        if tags:
            store.set_tags(session, repo, {item.version: item.manifest_digest for item in items})
        if p % 1000 == 999:
            session.commit()


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
local headers = {%s}
function request()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1], headers)
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %%d %%d %%d %%d %%d %%d %%d %%d\\n", summary.requests, latency:percentile(50),
    latency:percentile(95), latency:percentile(99), e.status + e.connect + e.read + e.write + e.timeout,
    summary.duration, e.status, e.connect + e.read + e.write + e.timeout))
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


def _wrk(base: str, clients: int, seconds: int, paths: list[str], headers: dict[str, str] | None = None) -> dict:
    """One wrk run (C, closed loop: each of `clients` connections sends its next request when
    the last one answers) over `paths` in turn. Its percentiles are wrk 4's own, which wrk
    corrects after the run for coordinated omission (synthetic samples for every response slower
    than the mean interval per connection), as it always has in this bench."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        lua_headers = ",".join(f"[{json.dumps(k)}] = {json.dumps(v)}" for k, v in (headers or {}).items())
        script.write(WRK_SCRIPT % (",".join(json.dumps(p) for p in paths), lua_headers))
        script.flush()
        before = _children_cpu()
        out = subprocess.run(
            ["wrk", "-t2", f"-c{clients}", f"-d{seconds}s", "--timeout", "10s", "-s", script.name, base],
            capture_output=True,
            text=True,
            check=True,
        )
        cpu = _children_cpu() - before
    line = next(x for x in out.stdout.splitlines() if x.startswith("RESULT "))
    requests, p50, p95, p99, errors, duration, status, socket = (int(x) for x in line.split()[1:])
    return {
        "loop": "closed",
        "requests": requests,
        "requests_per_s": requests / (duration / 1e6),
        "errors": errors,
        "non_2xx": status,  # answers other than 2xx/3xx (wrk's "status" errors), within `errors`
        "socket_errors": socket,  # connect, read, write and timeout errors, within `errors`
        "p50_ms": p50 / 1000,
        "p95_ms": p95 / 1000,
        "p99_ms": p99 / 1000,
        "generator_cpu_s": cpu,
    }


def _children_cpu() -> float:
    """CPU seconds used so far by finished child processes (wrk, here)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _percentiles(histogram: dict[int, int], points: tuple[float, ...] = (50, 95, 99)) -> dict[float, float]:
    """Percentiles (ms) of a histogram of 10 us buckets, each counted at its upper edge."""
    total = sum(histogram.values())
    found: dict[float, float] = {}
    if not total:
        return {p: math.nan for p in points}
    seen = 0
    buckets = sorted(histogram.items())
    for point in points:
        wanted = math.ceil(total * point / 100)
        for bucket, count in buckets:
            seen += count
            if seen >= wanted:
                found[point] = (bucket + 1) * 10 / 1000
                break
        seen = 0
    return found


def _wrk_open(base: str, clients: int, seconds: int, rate: float, paths: list[str]) -> dict:
    """One open-loop run (bench/open_loop.lua): `clients` connections, one per wrk thread, that
    together send `rate` requests a second on fixed schedules, each timed from its intended send
    time; connection j walks the same query sequence as the closed loop's threads, from j x 7919."""
    per_connection = rate / clients
    count = math.ceil(per_connection * seconds) + 50
    with tempfile.TemporaryDirectory() as tmp:
        paths_file, prelude = Path(tmp) / "paths.txt", Path(tmp) / "prelude.lua"
        with paths_file.open("w") as out:
            for j in range(clients):
                for k in range(count):
                    out.write(paths[(j * 7919 + k) % len(paths)] + "\n")
        script = Path(__file__).resolve().parent / "open_loop.lua"
        prelude.write_text(
            f"RATE = {per_connection!r}\nTHREADS = {clients}\nCOUNT = {count}\n"
            f"PATHS_FILE = {json.dumps(str(paths_file))}\ndofile({json.dumps(str(script))})\n"
        )
        before = _children_cpu()
        out = subprocess.run(
            ["wrk", f"-t{clients}", f"-c{clients}", f"-d{seconds}s", "--timeout", "10s", "-s", str(prelude), base],
            capture_output=True,
            text=True,
            check=True,
        )
        cpu = _children_cpu() - before
    histograms: dict[str, dict[int, int]] = {"OPEN_LATENCY": {}, "OPEN_LAG": {}, "OPEN_GENERATOR_LAG": {}}
    sent = completed = 0
    wrk_line: list[int] = []
    for line in out.stdout.splitlines():
        kind, *fields = line.split() or [""]
        if kind in histograms:
            bucket, number = int(fields[0]), int(fields[1])
            histograms[kind][bucket] = histograms[kind].get(bucket, 0) + number
        elif kind == "OPEN_THREAD":
            sent, completed = sent + int(fields[0]), completed + int(fields[1])
        elif kind == "OPEN_WRK":
            wrk_line = [int(float(x)) for x in fields]
    if not wrk_line:
        raise SystemExit(f"bench: the open-loop wrk run printed no summary:\n{out.stdout}\n{out.stderr}")
    _, duration, errors, w50, w95, w99 = wrk_line
    from_intended = _percentiles(histograms["OPEN_LATENCY"])
    late, generator = _percentiles(histograms["OPEN_LAG"]), _percentiles(histograms["OPEN_GENERATOR_LAG"])
    return {
        "loop": "open",
        "target_per_s": rate,
        "scheduled": round(rate * seconds),
        "sent": sent,
        "requests": completed,
        "requests_per_s": completed / (duration / 1e6),
        "errors": errors,
        "p50_ms": from_intended[50],
        "p95_ms": from_intended[95],
        "p99_ms": from_intended[99],
        "send_lag_ms": {"p50": late[50], "p99": late[99]},
        "generator_lag_ms": {"p50": generator[50], "p99": generator[99]},
        "from_actual_send_ms": {"p50": w50 / 1000, "p95": w95 / 1000, "p99": w99 / 1000},
        "generator_cpu_s": cpu,
    }


def load(
    database: str,
    clients: int,
    seconds: int,
    workers: int,
    cache_entries: int,
    paths: list[str],
    open_fraction: float,
) -> dict:
    """The query mix against one server. With the cache: a first run from cold, then every
    distinct query of the mix is requested (unmeasured) so that each server process has seen
    it, then a second run measures the steady state, closed loop and then open loop at
    `open_fraction` of the closed loop's throughput. Without it, a closed loop and an open loop."""
    with _serving(database, workers, cache_entries) as base:
        runs = {}
        if cache_entries:
            runs["cache_cold"] = _wrk(base, clients, seconds, paths)
            _wrk(base, clients, seconds, sorted(set(paths)))  # priming, not measured
            label = "cache_warm"
        else:
            label = "uncached"
        closed = runs[label] = _wrk(base, clients, seconds, paths)
        if open_fraction > 0:
            rate = closed["requests_per_s"] * open_fraction
            runs[f"{label}_open"] = _wrk_open(base, clients, seconds, rate, paths)
        return runs


@contextlib.contextmanager
def _serving(database: str, workers: int, cache_entries: int) -> Iterator[str]:
    """`rigging-indexer serve` on a free port (its base URL once it answers), stopped afterwards."""
    import shutil

    from tests.support.services import free_port, wait_http

    if shutil.which("wrk") is None:
        raise SystemExit("bench/indexer.py: wrk is missing; install it (apt-get install -y wrk)")
    port = free_port()
    indexer = str(Path(sys.executable).parent / "rigging-indexer")
    # no scan workers: the filled versions live in no registry, and scanning them would take CPU
    # from the searches measured here (bench/scan_service.py measures the scan service)
    options = ["--workers", str(workers), "--cache-entries", str(cache_entries), "--scan-workers", "0"]
    server = subprocess.Popen(
        [indexer, "serve", "--port", str(port), "--database", database, *options],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/healthz", timeout=60, ok_statuses=(200,))
        yield base
    finally:
        server.terminate()
        server.wait()


PRIVATE_NAMESPACES = 10  # of the 50 bulk namespaces fill_search_index makes


def _member_token(database: str) -> str:
    """A user owning the namespaces that visibility runs make private, with a read token."""
    import secrets
    from datetime import UTC, datetime, timedelta

    from rigging_indexer.access import hash_token
    from rigging_indexer.db import make_engine, sessions
    from rigging_indexer.models import AccessToken, Namespace, User
    from sqlalchemy import select

    token = "rig_" + secrets.token_urlsafe(32)
    engine = make_engine(database)
    with sessions(engine)() as session:
        user = session.scalar(select(User).where(User.username == "bench"))  # a --search-database run before
        if user is None:
            user = User(issuer="https://bench.invalid", subject="bench", username="bench")
            session.add(user)
            session.flush()
            for n in range(PRIVATE_NAMESPACES):
                session.add(Namespace(name=f"bulk{n}", owner_user_id=user.id, private=False))
        session.add(
            AccessToken(
                user_id=user.id,
                name="bench",
                hash=hash_token(token),
                hint=token[:8],
                scopes=["read"],
                expires=datetime.now(UTC) + timedelta(days=1),
            )
        )
        session.commit()
    engine.dispose()
    return token


def _set_private(database: str, private: bool) -> None:
    from rigging_indexer.db import make_engine
    from sqlalchemy import text

    engine = make_engine(database)
    with engine.begin() as connection:
        connection.execute(text("UPDATE namespaces SET private = :p"), {"p": private})
    engine.dispose()


def visibility_runs(database: str, clients: int, seconds: int, workers: int, paths: list[str], rounds: int) -> dict:
    """Search without the result cache (every request a database query), side by side and
    interleaved over `rounds` rounds: with no private namespace; with 10 of the 50 namespaces
    private, asked anonymously; and asked by their owner's token (the filter then also admits
    them). The median P95 of each kind is compared with the first's."""
    token = _member_token(database)
    kinds: dict[str, list[dict]] = {"none_private": [], "anonymous": [], "member": []}
    with _serving(database, workers, 0) as base:
        _wrk(base, clients, max(2, seconds // 3), paths)  # warm the database's caches, not measured
        for _ in range(rounds):
            _set_private(database, False)
            kinds["none_private"].append(_wrk(base, clients, seconds, paths))
            _set_private(database, True)
            kinds["anonymous"].append(_wrk(base, clients, seconds, paths))
            kinds["member"].append(_wrk(base, clients, seconds, paths, {"Authorization": f"Bearer {token}"}))
    _set_private(database, False)  # as found: a kept --search-database measures the same next time
    out = {}
    for kind, runs in kinds.items():
        p95s = sorted(run["p95_ms"] for run in runs)
        out[kind] = {
            "p95_ms": p95s[len(p95s) // 2],
            "p95_runs_ms": p95s,
            "requests_per_s": sorted(r["requests_per_s"] for r in runs)[len(runs) // 2],
            "errors": sum(r["errors"] for r in runs),
        }
    return out


def build_report(results: dict[str, Any], args: argparse.Namespace) -> Report:
    report = Report(f"indexer: {args.packages} packages x {args.versions} versions; search at {args.search_versions}")
    if "crawl" in results:
        crawled, recrawl, kinds = results["crawl"], results["recrawl"], results["generated_versions"]
        report.figure(
            "(a) versions taking the crawler's config shortcut",
            kinds["shortcut"],
            "",
            note=f"config fetched for {kinds['config_fetched']} (oras {kinds['oras']}, untitled {kinds['untitled']})"
            + (f", {kinds['unchecked']} unchecked" if kinds["unchecked"] else ""),
        )
        report.goal(f"(a) full crawl, {args.processes} processes", crawled["seconds"], "s", "<=", 60)
        errors = f"{crawled['errors']} errors"
        report.figure("(a) crawl time per manifest", crawled["per_manifest_ms"], "ms", note=errors)
        memory = crawled["max_rss_mib"]
        report.goal(
            "(a) full crawl: peak RSS of the largest crawler process",
            max(memory["first_process_mib"], memory["other_processes_mib"]),
            "MiB",
            "<=",
            300,
            note=f"VmHWM: the process that enqueues and crawls {memory['first_process_mib']:.0f} MiB"
            + (
                f", the largest of the other {memory['other_processes_seen']} (sampled every 20 ms) "
                f"{memory['other_processes_mib']:.0f} MiB"
                if args.processes > 1
                else ""
            ),
        )
        report.figure(
            f"(a) full crawl: peak RSS, all {args.processes} crawler processes",
            memory["first_process_mib"] + memory["other_processes_mib"] * (args.processes - 1),
            "MiB",
            note="the peaks added up: an upper bound, they need not coincide",
        )
        kinds = recrawl["request_kinds"]
        report.goal(
            "(b) unchanged re-crawl",
            recrawl["seconds"],
            "s",
            "<=",
            5,
            note=f"median of runs {', '.join(f'{x:.2f}' for x in recrawl['runs_s'])} s, each followed by a floor run; "
            f"{recrawl['manifests']} manifests fetched, {recrawl['unchanged_tags']} tags unchanged; "
            f"{recrawl['requests']} requests: {kinds['catalog']} _catalog, {kinds['tag_lists']} tag lists, "
            f"{kinds['manifest_heads']} HEAD manifests, {kinds['other']} other; statuses {recrawl['statuses']}",
        )
        floor = results["recrawl_floor"]
        runs = ", ".join(f"{x:.2f}" for x in floor["runs_s"])
        cpu = ", ".join(f"{x:.2f}" for x in floor["client_cpu_s"])
        report.figure(
            f"(b) registry-only floor: the same requests from curl, {floor['connections']} conns",
            floor["seconds"],
            "s",
            note=f"median of runs {runs} s; requests per run {floor['requests']} (the crawler's: "
            f"{recrawl['requests']}); statuses {floor['statuses']}; curl CPU {cpu} s",
        )
        same = all(count == recrawl["requests"] for count in floor["requests"])
        report.goal(
            "(b) unchanged re-crawl / registry-only floor",
            recrawl["seconds"] / floor["seconds"],
            "x",
            "<=",
            1.5,
            note=f"{recrawl['seconds']:.2f} s / {floor['seconds']:.2f} s; "
            + ("same request count" if same else "REQUEST COUNTS DIFFER"),
        )
        report.figure(
            "(b) unchanged re-crawl: peak RSS of the largest crawler process",
            max(recrawl["max_rss_mib"]["first_process_mib"], recrawl["max_rss_mib"]["other_processes_mib"]),
            "MiB",
        )
    for label, kind in (
        ("cache_cold", "cache cold"),
        ("cache_warm", "cache warm"),
        ("cache_warm_open", "cache warm"),
        ("uncached", "no cache"),
        ("uncached_open", "no cache"),
    ):
        run = results.get(f"search_{label}")
        if run is None:
            continue
        cpu = f"wrk used {run['generator_cpu_s']:.1f} CPU s in {args.seconds} s"
        if run["loop"] == "closed":
            how = f"closed loop, {args.clients} conns"
            note = f"{run['requests_per_s']:.0f} req/s, {run['errors']} errors; {cpu}"
        else:
            how = f"open loop {run['target_per_s']:.0f}/s"
            note = (
                f"{run['requests_per_s']:.0f} of {run['target_per_s']:.0f} req/s done, {run['errors']} errors; "
                f"sent late P99 {run['send_lag_ms']['p99']:.1f} ms, by the generator P99 "
                f"{run['generator_lag_ms']['p99']:.1f} ms; from actual send P95 "
                f"{run['from_actual_send_ms']['p95']:.1f} ms; {cpu}"
            )
        report.figure(f"(c) search P50, {kind}, {how}", run["p50_ms"], "ms")
        report.goal(
            f"(c) search P95, {kind}, {how}",
            run["p95_ms"],
            "ms",
            "<=",
            20,
            note=note if run["loop"] == "open" else f"the goal's own comparison; {note}",
        )
        report.figure(f"(c) search P99, {kind}, {how}", run["p99_ms"], "ms")
    visibility = results.get("search_visibility")
    if visibility:
        base = visibility["none_private"]
        how = f"no cache, closed loop, {args.clients} conns, median of {args.visibility_rounds} interleaved runs"
        report.figure(
            f"(d) search P95, no private namespace, {how}",
            base["p95_ms"],
            "ms",
            note=f"{base['requests_per_s']:.0f} req/s, {base['errors']} errors; runs {base['p95_runs_ms']}",
        )
        for kind, who in (("anonymous", "anonymous"), ("member", "their owner's token")):
            run = visibility[kind]
            report.goal(
                f"(d) search P95 with {PRIVATE_NAMESPACES} of 50 namespaces private, asked by {who}, vs none private",
                run["p95_ms"] / base["p95_ms"],
                "x",
                "<=",
                1.10,
                note=f"{run['p95_ms']:.1f} ms vs {base['p95_ms']:.1f} ms; {run['requests_per_s']:.0f} req/s, "
                f"{run['errors']} errors; runs {run['p95_runs_ms']}",
            )
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--packages", type=int, default=2000)
    parser.add_argument("--versions", type=int, default=5)
    parser.add_argument(
        "--other-publishers",
        type=int,
        default=25,
        metavar="PERCENT",
        help="packages published so that the crawler must fetch their config (0 = all as rigging pack)",
    )
    parser.add_argument("--processes", type=int, default=2, help="crawler processes")
    parser.add_argument("--concurrency", type=int, default=8, help="crawler threads per process")
    parser.add_argument("--search-versions", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=15, help="length of each search load run")
    parser.add_argument("--workers", type=int, default=2, help="indexer server processes")
    parser.add_argument("--distinct-queries", type=int, default=5000)
    parser.add_argument(
        "--open-fraction",
        type=float,
        default=0.6,
        help="open-loop rate as a share of the closed loop's throughput (0 skips the open loop)",
    )
    parser.add_argument(
        "--visibility-rounds", type=int, default=3, help="interleaved rounds of the visibility comparison (0 skips)"
    )
    parser.add_argument(
        "--floor-runs", type=int, default=3, help="turns of re-crawl and registry-only floor (the median of each kept)"
    )
    parser.add_argument("--skip-crawl", action="store_true")
    parser.add_argument("--skip-search", action="store_true")
    parser.add_argument("--search-database", help="an already filled index database (skips the fill)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="200 packages, 10,000 search versions, 5 s load runs (smaller than the goals)",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.packages, args.search_versions, args.seconds = 200, 10_000, 5
    from tests.support.postgres import throwaway_database

    results: dict[str, Any] = {}
    if not args.skip_crawl:
        with tempfile.TemporaryDirectory() as tmp:
            # the access log (one write per request) tells which requests the re-crawl sent
            log = Path(tmp) / "registry-access.log"
            proc, host = _start_registry(Path(tmp), access_log=log)
            try:
                results["generate_s"], results["generated_versions"] = generate(
                    host, args.packages, args.versions, args.other_publishers
                )
                with throwaway_database() as database:
                    offset = log.stat().st_size
                    seconds, stats, memory = crawl(database, host, args.processes, args.concurrency)
                    manifests = stats["manifests_fetched"]
                    results["crawl"] = {
                        "seconds": seconds,
                        "manifests": manifests,
                        "per_manifest_ms": seconds * 1000 / max(manifests, 1),
                        "errors": len(stats["errors"]),
                        "indexed": stats["indexed"],
                        "requests": len(logged_since(log, offset)),
                        "max_rss_mib": memory,
                    }
                    offset = log.stat().st_size
                    seconds, stats, memory = crawl(database, host, args.processes, args.concurrency)
                    sent = logged_since(log, offset)
                    # the floor replays what this re-crawl sent; then both take turns, so that the
                    # ratio is of medians measured side by side, not of one crawl against 3 floors
                    recrawl_runs, floors = [seconds], []
                    for turn in range(args.floor_runs):
                        floors.append(
                            registry_floor(
                                host, [(m, path) for m, path, *_ in sent], args.processes * args.concurrency, log, 1
                            )
                        )
                        if turn + 1 < args.floor_runs:
                            recrawl_runs.append(crawl(database, host, args.processes, args.concurrency)[0])
                    results["recrawl"] = {
                        "seconds": statistics.median(recrawl_runs),
                        "runs_s": recrawl_runs,
                        "manifests": stats["manifests_fetched"],
                        "unchanged_tags": stats["unchanged"],
                        "requests": len(sent),
                        "request_kinds": _request_kinds(sent),
                        "statuses": sorted({status for *_, status, _ in sent}),
                        "agents": sorted({agent for *_, agent in sent}),
                        "max_rss_mib": memory,
                    }
                    results["recrawl_floor"] = {
                        "seconds": statistics.median(f["seconds"] for f in floors),
                        **{key: [f[key][0] for f in floors] for key in ("runs_s", "requests", "statuses")},
                        "client_cpu_s": [f["client_cpu_s"][0] for f in floors],
                        "connections": args.processes * args.concurrency,
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
            results["search_settings"] = {
                "workers": args.workers,
                "clients": args.clients,
                "seconds": args.seconds,
                "open_fraction": args.open_fraction,
            }
            for cache_entries in (10_000, 0):
                for label, run in load(
                    database, args.clients, args.seconds, args.workers, cache_entries, paths, args.open_fraction
                ).items():
                    results[f"search_{label}"] = run
            if args.visibility_rounds > 0:
                results["search_visibility"] = visibility_runs(
                    database, args.clients, args.seconds, args.workers, paths, args.visibility_rounds
                )
    report = build_report(results, args)
    return report.finish(results, args.json)


if __name__ == "__main__":
    sys.exit(main())
