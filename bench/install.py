"""Resolution and install benchmarks (not tests), in one run:

(a) resolve a generated 2,000-package catalogue (40 chains, each 50 deep, 3 versions a package),
    metadata already in memory — goal <= 100 ms — in two forms:
    - no conflicts: the newest allowed version of everything fits (as before);
    - backtracking: in some chains (default 4 of the 40, `--conflicting-chains`) the newest
      allowed version of the head (c-0 1.1.0) also needs the chain's tail at ^2.0.0, while the
      link just above the tail (c-48, every version) needs it at ^1.0.0. The conflict only shows
      48 levels down, so the resolver must back the head off to 1.0.0; the bench checks that it
      did (exactly those heads at 1.0.0, every other package at its newest allowed, 1.1.0).
      The cost grows much faster than the number of conflicting chains (on the 2-core machine:
      1 chain ~0.2 s, 4 ~1.3 s, 8 ~6 s, all 40 ~50 s), so the default is 4, not 40.
    The goal was stated for the catalogue; it is applied to both forms and the lines say which.
(b) `rigging install` of 50 locked packages with the blob cache warm — goal 0 requests — in two
    cases:
    - everything installed (the no-op install): the files are as the lock says, so install
      returns early and never reads the cache — goal <= 40 ms;
    - fresh checkout: only rigging.json and rigging.lock in a new folder, files absent, cache
      warm. Install must render every file from the cached blobs with 0 registry requests
      (`install --json` reports them) — goal <= 100 ms; plain `install` and `install --frozen`
      are both timed.
    And from the lock into a fresh checkout with an empty cache: requests per package (the
    physical limit is 1, the content blob the lock names).
(c) cold install of a 50-package tree from a local registry (fresh cache, no lock), against the
    same 50 packages copied with skopeo (`skopeo copy docker://… oci:…`, one layout folder per
    package) in two ways: one after another (what the goal was first stated against) and 8 at a
    time (the fair comparison: rigging fetches with 8 workers). Goals: <= 0.3x one after another,
    <= 0.5x 8 at a time; the runs are interleaved (rigging, sequential, 8-wide) so that each
    ratio is measured side by side. Requests per package of the cold install (by range: the
    physical limit is 3, tag list, manifest and content). Also the cold install's peak memory: the maximum RSS
    of the CLI process (ru_maxrss, read by GNU time: see `_timed`), median over the runs — goal <= 64 MB
    (MiB here) — and, without a goal, that of a cold `rigging pull` of one package in each run.

Every `rigging` here runs from a CLI-only environment built the way users install (bench/pull.py's
`build_cli_env`: the two wheels and their dependencies in a fresh venv), not the development venv.

Needs uv, Debian's docker-registry and skopeo for (b) and (c), and its time (GNU time) for the
peak memory.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pull import build_cli_env
from report import Report, parse_sized, sized_parser

PACKAGES = 50
CHAINS, DEPTH = 40, 50
SKOPEO_WIDTH = 8  # as rigging's installer fetches (FETCH_WORKERS)


def catalogue(conflicting: int):  # a MemoryCatalog
    """40 chains of 50 packages, versions 1.0.0, 1.1.0 and 2.0.0; `^1.0.0` links each to the next.

    In the first `conflicting` chains, c-0 1.1.0 also needs c-49 ^2.0.0 while c-48 needs c-49
    ^1.0.0: the newest head cannot be used, which the resolver only learns at the chain's bottom."""
    from rigging.catalog_memory import MemoryCatalog

    cat = MemoryCatalog()
    for c in range(CHAINS):
        for d in range(DEPTH):
            for version in ("1.0.0", "1.1.0", "2.0.0"):
                deps = {f"bench/c{c}-{d + 1}": "^1.0.0"} if d + 1 < DEPTH else {}
                if c < conflicting and d == 0 and version == "1.1.0":
                    deps[f"bench/c{c}-{DEPTH - 1}"] = "^2.0.0"
                cat.add(f"bench/c{c}-{d}", version, deps)
    return cat


def bench_resolve(runs: int, conflicting: int) -> dict[str, object]:
    from rigging.resolver import resolve

    requirements = {f"bench/c{c}-0": "^1.0.0" for c in range(CHAINS)}
    times = []
    resolution = None
    for _ in range(runs):
        cat = catalogue(conflicting)  # a fresh catalogue each run: nothing cached from the last one
        start = time.perf_counter()
        resolution = resolve(cat, requirements, max_depth=60)
        times.append((time.perf_counter() - start) * 1000)
        assert len(resolution.versions) == CHAINS * DEPTH
    assert resolution is not None
    chosen = {name: str(version) for name, version in resolution.versions.items()}
    heads_backed_off = sum(1 for c in range(CHAINS) if chosen[f"bench/c{c}-0"] == "1.0.0")
    others_newest = sum(1 for name, v in chosen.items() if not name.endswith("-0") and v == "1.1.0")
    assert heads_backed_off == conflicting, f"expected {conflicting} heads backed off to 1.0.0, got {heads_backed_off}"
    assert others_newest == CHAINS * (DEPTH - 1)
    return {
        "median_ms": statistics.median(times),
        "first_ms": times[0],
        "packages": len(chosen),
        "heads_backed_off": heads_backed_off,
        "conflicting_chains": conflicting,
    }


def _start_registry(workdir: Path, access_log: Path | None = None) -> tuple[subprocess.Popen, str]:
    """A docker-registry on a free loopback port (its process, its host:port); with `access_log`,
    its access log (Apache's combined format, which distribution writes to stdout) goes there."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = workdir / "registry.json"
    config.write_text(
        json.dumps(
            {
                "version": 0.1,
                "log": {"level": "error", "accesslog": {"disabled": access_log is None}},
                # the blob descriptor cache, as distribution's and Debian's shipped configs have it
                "storage": {
                    "filesystem": {"rootdirectory": str(workdir / "data")},
                    "cache": {"blobdescriptor": "inmemory"},
                },
                "http": {"addr": f"127.0.0.1:{port}"},
            }
        )
    )
    with open(access_log or os.devnull, "ab") as out:  # the child keeps its own copy open
        proc = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=out, stderr=subprocess.DEVNULL)
    import urllib.request

    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1)
            break
        except OSError:
            time.sleep(0.05)
    return proc, f"127.0.0.1:{port}"


def _publish_tree(work: Path, host: str) -> list[str]:
    """50 packages: 10 top-level ones, each with a chain of 4 below it."""
    from rigging.transfer import publish

    names = []
    for top in range(10):
        for level in range(5):
            name = f"bench/t{top}-l{level}"
            deps = {f"bench/t{top}-l{level + 1}": "^1.0.0"} if level < 4 else {}
            folder = work / "src" / name.replace("/", "_")
            (folder / "rules").mkdir(parents=True)
            (folder / "workflows").mkdir()
            (folder / "rigging.json").write_text(json.dumps({"name": name, "version": "1.0.0", "dependencies": deps}))
            (folder / "rules" / "style.md").write_text(
                f"---\ntrigger: glob\ndescription: {name}\nglobs: **/*.py\n---\n\n" + "- a rule line\n" * 20
            )
            (folder / "workflows" / "flow.md").write_text("---\ndescription: flow\n---\n1. step\n")
            publish(str(folder), f"{host}/{name}")
            names.append(name)
    return names


GNU_TIME = "/usr/bin/time"  # Debian's `time` package


def _timed(cmd: list[str], env: dict[str, str], *, peak: bool = False) -> tuple[float, str, float | None]:
    """ms the command took, its stdout, and with `peak` its peak memory (maximum RSS, MiB).

    The peak comes from GNU time (`-f %M`), not from os.wait4 on our own child: Python starts
    children with vfork, so the child runs on this bench's memory until it execs, and Linux then
    keeps this process's high-water RSS as the child's ru_maxrss (tried: a 200 MiB Python parent
    gets 210 MiB for /bin/true). GNU time forks from its own ~1 MiB process, so the ru_maxrss it
    reads is the command's own (the largest of it and of the processes it waits for, never a sum).
    The time wrapper's fork and exec (about 1 ms) are inside the timed span then."""
    wrapped = cmd
    with tempfile.TemporaryDirectory() as tmp:
        usage = Path(tmp) / "maxrss"
        if peak:
            wrapped = [GNU_TIME, "-f", "%M", "-o", str(usage), *cmd]
        start = time.perf_counter()
        proc = subprocess.run(wrapped, capture_output=True, text=True, env=env, check=False)
        elapsed = (time.perf_counter() - start) * 1000
        if proc.returncode != 0:
            raise SystemExit(f"bench: {' '.join(cmd)} failed: {proc.stderr.strip()}")
        kib = int(usage.read_text().split()[-1]) if peak else None
    return elapsed, proc.stdout, None if kib is None else kib / 1024


def _skopeo(host: str, name: str, layout: Path) -> None:
    proc = subprocess.run(
        [
            "skopeo",
            "copy",
            "--quiet",
            "--src-tls-verify=false",
            f"docker://{host}/{name}:1.0.0",
            f"oci:{layout / name.replace('/', '-')}:1.0.0",
        ],
        check=False,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise SystemExit(f"bench: skopeo copy of {name} failed: {proc.stderr.strip()}")


def _skopeo_all(host: str, names: list[str], layout: Path, width: int) -> float:
    """ms to copy every package, `width` skopeo processes at a time (one layout folder each, so
    that concurrent copies never write the same index.json)."""
    layout.mkdir()
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=width) as pool:
        list(pool.map(lambda name: _skopeo(host, name, layout), names))
    return (time.perf_counter() - start) * 1000


def _clear_project(project: Path) -> None:
    for leftover in ("rigging.lock", "AGENTS.md", "CLAUDE.md", "GEMINI.md"):
        (project / leftover).unlink(missing_ok=True)
    for folder in (".windsurf", ".cursor", ".github", ".claude", ".agents", ".clinerules", ".kiro"):
        shutil.rmtree(project / folder, ignore_errors=True)


def bench_install(runs: int) -> dict[str, object]:
    if not (shutil.which("docker-registry") and shutil.which("skopeo") and shutil.which("uv")):
        return {"skipped": "uv, docker-registry and skopeo are needed"}
    peak = Path(GNU_TIME).exists()  # else no peak memory figures
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        proc, host = _start_registry(work)
        try:
            names = _publish_tree(work, host)
            cli_bin, _ = build_cli_env(work)
            rigging = str(cli_bin / "rigging")
            project = work / "project"
            project.mkdir()
            (project / "rigging.json").write_text(
                json.dumps({"registry": host, "dependencies": {f"bench/t{t}-l0": "^1.0.0" for t in range(10)}})
            )
            env = {**os.environ, "DOCKER_CONFIG": str(work / "docker")}

            # (c) interleaved: each run times rigging, then skopeo one by one, then 8 at a time; then
            # a cold `rigging pull` of one of the packages, for its peak memory only
            cold, sequential, parallel, cold_rss, pull_rss, cold_requests = [], [], [], [], [], set()
            for run in range(runs):
                _clear_project(project)
                ms, out, rss = _timed(
                    [rigging, "install", "-C", str(project), "--json"],
                    {**env, "RIGGING_CACHE_DIR": str(work / f"cold-cache-{run}")},
                    peak=peak,
                )
                assert len(json.loads(out)["packages"]) == PACKAGES
                cold_requests.add(json.loads(out)["requests"])
                cold.append(ms)
                cold_rss.append(rss)
                sequential.append(_skopeo_all(host, names, work / f"skopeo-seq-{run}", 1))
                parallel.append(_skopeo_all(host, names, work / f"skopeo-par-{run}", SKOPEO_WIDTH))
                _, _, rss = _timed(
                    [rigging, "pull", f"{host}/{names[0]}:1.0.0", "-o", str(work / f"pulled-{run}")],
                    {**env, "RIGGING_CACHE_DIR": str(work / f"pull-cache-{run}")},
                    peak=peak,
                )
                pull_rss.append(rss)
                memory = f"; peak RSS: cold install {cold_rss[-1]:.1f} MiB, cold pull {rss:.1f} MiB" if peak else ""
                print(
                    f"  run {run}: cold install {ms:.0f} ms, skopeo sequential {sequential[-1]:.0f} ms, "
                    f"skopeo {SKOPEO_WIDTH} at a time {parallel[-1]:.0f} ms{memory}",
                    file=sys.stderr,
                )

            # (b) the project as the last cold run left it: lock and files present, cache warm
            warm_env = {**env, "RIGGING_CACHE_DIR": str(work / f"cold-cache-{runs - 1}")}
            installed, installed_requests = [], set()
            for _ in range(runs * 3):
                ms, out, _ = _timed([rigging, "install", "-C", str(project), "--json"], warm_env)
                installed.append(ms)
                installed_requests.add(json.loads(out)["requests"])

            # (b) fresh checkout: rigging.json and rigging.lock only, in a new folder each run
            # from the lock with an empty cache: only the content blobs the lock names
            lock_cold_requests = set()
            for run in range(runs):
                checkout = work / f"checkout-cold-{run}"
                checkout.mkdir()
                for kept in ("rigging.json", "rigging.lock"):
                    shutil.copy2(project / kept, checkout / kept)
                cold_env = {**env, "RIGGING_CACHE_DIR": str(work / f"lock-cache-{run}")}
                _, out, _ = _timed([rigging, "install", "-C", str(checkout), "--json"], cold_env)
                lock_cold_requests.add(json.loads(out)["requests"])

            fresh: dict[str, list[float]] = {"install": [], "install --frozen": []}
            fresh_requests: dict[str, set[int]] = {"install": set(), "install --frozen": set()}
            written = set()
            for run in range(runs * 3):
                for mode, extra in (("install", []), ("install --frozen", ["--frozen"])):
                    checkout = work / f"checkout-{run}-{len(extra)}"
                    checkout.mkdir()
                    for kept in ("rigging.json", "rigging.lock"):
                        shutil.copy2(project / kept, checkout / kept)
                    ms, out, _ = _timed([rigging, "install", "-C", str(checkout), "--json", *extra], warm_env)
                    result = json.loads(out)
                    fresh[mode].append(ms)
                    fresh_requests[mode].add(result["requests"])
                    written.add(len(result["written"]))
                    assert len(result["packages"]) == 50 and result["written"], "a fresh checkout must write files"
        finally:
            proc.terminate()
            proc.wait()
    return {
        "warm_installed_median_ms": statistics.median(installed),
        "warm_installed_requests": sorted(installed_requests),
        "fresh_checkout_median_ms": statistics.median(fresh["install"]),
        "fresh_checkout_requests": sorted(fresh_requests["install"]),
        "fresh_checkout_frozen_median_ms": statistics.median(fresh["install --frozen"]),
        "fresh_checkout_frozen_requests": sorted(fresh_requests["install --frozen"]),
        "fresh_checkout_files_written": sorted(written),
        "cold_install_median_ms": statistics.median(cold),
        "cold_install_requests_per_package": sorted(r / PACKAGES for r in cold_requests),
        "lock_install_cold_cache_requests_per_package": sorted(r / PACKAGES for r in lock_cold_requests),
        "cold_install_max_rss_median_mib": statistics.median(cold_rss) if peak else None,
        "cold_pull_max_rss_median_mib": statistics.median(pull_rss) if peak else None,
        "skopeo_50_sequential_median_ms": statistics.median(sequential),
        "skopeo_50_by_8_median_ms": statistics.median(parallel),
        # ratios per interleaved run, then their median: each one measured side by side
        "cold_over_skopeo_sequential": statistics.median(c / s for c, s in zip(cold, sequential, strict=True)),
        "cold_over_skopeo_by_8": statistics.median(c / p for c, p in zip(cold, parallel, strict=True)),
        "runs": {
            "cold_ms": cold,
            "skopeo_sequential_ms": sequential,
            "skopeo_by_8_ms": parallel,
            "cold_max_rss_mib": cold_rss,
            "cold_pull_max_rss_mib": pull_rss,
        },
    }


def build_report(results: dict[str, dict[str, object]], runs: int) -> Report:
    report = Report(f"install: median of {runs} runs ((b): {runs * 3})")
    plain, back = results["resolve_2000"], results["resolve_2000_backtracking"]
    report.goal("(a) resolve 2,000 packages, no conflicts", plain["median_ms"], "ms", "<=", 100)  # type: ignore[arg-type]
    report.goal(
        f"(a) resolve 2,000 packages, backtracking in {back['conflicting_chains']} chain(s)",
        back["median_ms"],  # type: ignore[arg-type]
        "ms",
        "<=",
        100,
        note=f"same goal; {back['heads_backed_off']} of {CHAINS} chain heads backed off to 1.0.0",
    )
    report.figure("(a) backtracking / no conflicts", back["median_ms"] / plain["median_ms"], "x")  # type: ignore[operator]
    i = results["install_50"]
    if "skipped" in i:
        report.figure(f"(b)/(c) skipped: {i['skipped']}", 0, "")
        return report
    for label, key, goal_ms in (
        ("(b) no-op install, files already installed", "warm_installed", 40),
        ("(b) warm install, fresh checkout (lock only)", "fresh_checkout", 100),
        ("(b) warm install --frozen, fresh checkout", "fresh_checkout_frozen", 100),
    ):
        requests = i[f"{key}_requests"]
        report.goal(f"{label}: requests", max(requests), "", "==", 0, note=f"seen {requests}")  # type: ignore[arg-type]
        report.goal(f"{label}: time", i[f"{key}_median_ms"], "ms", "<=", goal_ms)  # type: ignore[arg-type]
    for label, key, limit, which in (  # the physical limits: what each kind of install must fetch
        ("(b) lock install, empty cache", "lock_install_cold_cache", 1, "the content blob the lock names"),
        ("(c) cold install (by range)", "cold_install", 3, "tag list, manifest (the config in it), content"),
    ):
        seen = i[f"{key}_requests_per_package"]
        report.goal(f"{label}: requests per package", max(seen), "", "<=", limit, note=f"seen {seen}: {which}")  # type: ignore[arg-type]
    report.figure("(c) cold install, 50 packages", i["cold_install_median_ms"], "ms")  # type: ignore[arg-type]
    if i["cold_install_max_rss_median_mib"] is None:
        report.figure(f"(c) peak RSS skipped: GNU time ({GNU_TIME}) is needed", 0, "")
    else:
        rss_runs = ", ".join(f"{x:.1f}" for x in i["runs"]["cold_max_rss_mib"])  # type: ignore[index]
        report.goal(
            "(c) cold install, 50 packages: peak RSS of the CLI process",
            i["cold_install_max_rss_median_mib"],  # type: ignore[arg-type]
            "MiB",
            "<=",
            64,
            note=f"GNU time %M; runs {rss_runs}",
        )
        report.figure(
            "(c) cold `rigging pull` of one package: peak RSS",
            i["cold_pull_max_rss_median_mib"],  # type: ignore[arg-type]
            "MiB",
            note="GNU time %M, fresh cache each run; median",
        )
    report.figure("(c) 50 x skopeo copy, one after another", i["skopeo_50_sequential_median_ms"], "ms")  # type: ignore[arg-type]
    report.figure(f"(c) 50 x skopeo copy, {SKOPEO_WIDTH} at a time", i["skopeo_50_by_8_median_ms"], "ms")  # type: ignore[arg-type]
    report.goal(
        "(c) cold install / skopeo one after another",
        i["cold_over_skopeo_sequential"],  # type: ignore[arg-type]
        "x",
        "<=",
        0.3,
        note="the comparison the goal was first stated against",
    )
    report.goal(
        f"(c) cold install / skopeo {SKOPEO_WIDTH} at a time",
        i["cold_over_skopeo_by_8"],  # type: ignore[arg-type]
        "x",
        "<=",
        0.5,
        note="the fair comparison: same concurrency",
    )
    return report


def main() -> int:
    parser = sized_parser(__doc__, "runs", 5, 3)
    parser.add_argument("--conflicting-chains", type=int, default=4, help="chains that force backtracking (<= 40)")
    args = parse_sized(parser)
    if args.quick:  # and one conflicting chain
        args.conflicting_chains = min(args.conflicting_chains, 1)
    if not 1 <= args.conflicting_chains <= CHAINS:
        parser.error(f"--conflicting-chains must be 1 to {CHAINS}")
    results = {
        "resolve_2000": bench_resolve(args.runs, conflicting=0),
        "resolve_2000_backtracking": bench_resolve(args.runs, conflicting=args.conflicting_chains),
        "install_50": bench_install(args.runs),
    }
    report = build_report(results, args.runs)
    return report.finish(results, args.json)


if __name__ == "__main__":
    sys.exit(main())
