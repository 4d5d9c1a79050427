"""Resolution and install benchmarks (not tests), in one run:

(a) resolve a generated 2,000-package catalogue (40 chains, each 50 deep, 3 versions a package),
    metadata already in memory — goal <= 100 ms;
(b) warm `rigging install` of 50 locked, cached packages — goal 0 requests and <= 60 ms;
(c) cold install of a 50-package tree from a local registry, against 50 sequential
    `skopeo copy` of the same packages — goal <= 0.3x.

Needs Debian's docker-registry and skopeo for (b) and (c).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def bench_resolve(runs: int) -> dict[str, float]:
    from rigging.catalog_memory import MemoryCatalog
    from rigging.resolver import resolve

    def catalogue() -> MemoryCatalog:
        cat = MemoryCatalog()
        for c in range(40):
            for d in range(50):
                deps = {f"bench/c{c}-{d + 1}": "^1.0.0"} if d + 1 < 50 else {}
                for version in ("1.0.0", "1.1.0", "2.0.0"):
                    cat.add(f"bench/c{c}-{d}", version, deps)
        return cat

    requirements = {f"bench/c{c}-0": "^1.0.0" for c in range(40)}
    times = []
    for _ in range(runs):
        cat = catalogue()  # a fresh catalogue each run: nothing cached from the last one
        start = time.perf_counter()
        resolution = resolve(cat, requirements, max_depth=60)
        times.append((time.perf_counter() - start) * 1000)
        assert len(resolution.versions) == 2000
    return {"median_ms": statistics.median(times), "first_ms": times[0], "packages": 2000}


def _start_registry(workdir: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = workdir / "registry.json"
    config.write_text(
        json.dumps(
            {
                "version": 0.1,
                "log": {"level": "error", "accesslog": {"disabled": True}},
                # the blob descriptor cache, as distribution's and Debian's shipped configs have it
                "storage": {
                    "filesystem": {"rootdirectory": str(workdir / "data")},
                    "cache": {"blobdescriptor": "inmemory"},
                },
                "http": {"addr": f"127.0.0.1:{port}"},
            }
        )
    )
    proc = subprocess.Popen(
        ["docker-registry", "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
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


def _timed(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    elapsed = (time.perf_counter() - start) * 1000
    if proc.returncode != 0:
        raise SystemExit(f"bench: {' '.join(cmd)} failed: {proc.stderr.strip()}")
    return elapsed, proc.stdout


def bench_install(runs: int) -> dict[str, object]:
    if not (shutil.which("docker-registry") and shutil.which("skopeo")):
        return {"skipped": "docker-registry and skopeo are needed"}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        proc, host = _start_registry(work)
        try:
            names = _publish_tree(work, host)
            rigging = str(BIN / "rigging")
            project = work / "project"
            project.mkdir()
            (project / "rigging.json").write_text(
                json.dumps({"registry": host, "dependencies": {f"bench/t{t}-l0": "^1.0.0" for t in range(10)}})
            )
            env = {**os.environ, "DOCKER_CONFIG": str(work / "docker")}

            cold = []
            for run in range(runs):
                for leftover in ("rigging.lock", "AGENTS.md", "CLAUDE.md"):
                    (project / leftover).unlink(missing_ok=True)
                for folder in (".windsurf", ".cursor", ".github", ".claude"):
                    shutil.rmtree(project / folder, ignore_errors=True)
                ms, out = _timed(
                    [rigging, "install", "-C", str(project), "--json"],
                    {**env, "RIGGING_CACHE_DIR": str(work / f"cold-cache-{run}")},
                )
                assert len(json.loads(out)["packages"]) == 50
                cold.append(ms)
                print(f"  cold run {run}: {ms:.0f} ms", file=sys.stderr)

            warm, requests = [], set()
            warm_env = {**env, "RIGGING_CACHE_DIR": str(work / f"cold-cache-{runs - 1}")}
            for _ in range(runs * 3):
                ms, out = _timed([rigging, "install", "-C", str(project), "--json"], warm_env)
                warm.append(ms)
                requests.add(json.loads(out)["requests"])

            skopeo = []
            for run in range(runs):
                start = time.perf_counter()
                for name in names:
                    target = f"oci:{work / f'skopeo-{run}'}:{name.replace('/', '-')}"
                    subprocess.run(
                        [
                            "skopeo",
                            "copy",
                            "--quiet",
                            "--src-tls-verify=false",
                            f"docker://{host}/{name}:1.0.0",
                            target,
                        ],
                        check=True,
                        capture_output=True,
                    )
                skopeo.append((time.perf_counter() - start) * 1000)
        finally:
            proc.terminate()
            proc.wait()
    cold_ms, skopeo_ms = statistics.median(cold), statistics.median(skopeo)
    return {
        "warm_install_median_ms": statistics.median(warm),
        "warm_install_requests": sorted(requests),
        "cold_install_median_ms": cold_ms,
        "skopeo_50_sequential_median_ms": skopeo_ms,
        "cold_over_skopeo": cold_ms / skopeo_ms,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = {"resolve_2000": bench_resolve(args.runs), "install_50": bench_install(args.runs)}
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    r = results["resolve_2000"]
    print(f"(a) resolve 2,000 packages: first {r['first_ms']:.1f} ms, median {r['median_ms']:.1f} ms  (goal <= 100)")
    i = results["install_50"]
    if "skipped" in i:
        print(f"(b)/(c) skipped: {i['skipped']}")
        return 0
    print(
        f"(b) warm install, 50 packages: median {i['warm_install_median_ms']:.1f} ms, "
        f"requests {i['warm_install_requests']}  (goal <= 60 ms, [0])"
    )
    print(
        f"(c) cold install {i['cold_install_median_ms']:.0f} ms vs 50 x skopeo copy "
        f"{i['skopeo_50_sequential_median_ms']:.0f} ms = {i['cold_over_skopeo']:.2f}x  (goal <= 0.3x)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
