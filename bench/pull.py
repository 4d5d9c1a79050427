"""Cold `rigging pull` against skopeo (a benchmark, not a test): how close a cold pull comes to the wire.

1. A CLI-only environment built the way users install (as pipx would): `uv build` of rigging-cli
   and rigging-core (sdist, then the wheel from it), a fresh `uv venv`, and `uv pip install
   --compile-bytecode` of the two wheels (their dependencies from the index). It is rebuilt every
   run, which takes a few seconds with uv's cache warm: no cache key to get wrong.
2. A throw-away docker-registry on loopback holding a ~100 KB package (bench/scan.py's), then,
   interleaved, N times: a cold `rigging pull REF -o DIR` from the CLI-only env (empty
   RIGGING_CACHE_DIR, fresh output folder), the same from the development .venv, `skopeo copy` of
   the same artifact into a fresh OCI layout, and `python -c pass` of the CLI-only env. Goal: the
   CLI-only pull / skopeo <= 1.0x (median of the per-run ratios, each measured side by side).
   Then N cold `rigging add` of the package into a new project (empty cache): goal P95 <= 200 ms.
3. Where a cold pull's time goes: the top 10 cumulative import costs (`-X importtime`, median per
   module), and the HTTP requests and bytes one pull costs, read from the registry's access log.

    .venv/bin/python bench/pull.py [--quick] [--runs N] [--json]

Needs uv, Debian's docker-registry and skopeo.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))
from report import Report, parse_sized, sized_parser  # noqa: E402 - after the path set-up above
from scan import make_package  # noqa: E402

DEV_BIN = Path(sys.executable).parent
NAME, TAG = "bench/scan", "1.0.0"  # the name make_package writes into rigging.json
GOAL_RATIO = 1.0
ADD_GOAL_MS = 200.0  # the project plan's install latency, on loopback
# distribution's access log is Apache's combined format: "METHOD PATH PROTO" STATUS BYTES "REFERER" "AGENT"
ACCESS = re.compile(r'"([A-Z]+) (\S+) HTTP/[\d.]+" \d{3} (\d+|-) "[^"]*" "([^"]*)"')
SKOPEO = ["skopeo", "copy", "--quiet", "--src-tls-verify=false"]
IMPORT = re.compile(r"import time:\s+\d+ \|\s+(\d+) \|( +)(\S+)")


def _run(cmd: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"bench: {' '.join(cmd)} failed:\n{proc.stderr.strip()}")
    return proc.stderr


def build_cli_env(work: Path) -> tuple[Path, dict[str, float]]:
    """The bin folder of a venv holding only the CLI's closure, and the seconds each step took."""
    uv = shutil.which("uv")
    if uv is None:
        raise SystemExit("bench: uv is needed to build the CLI-only environment")
    wheels, venv = work / "wheels", work / "cli-venv"
    start = time.perf_counter()
    for package in ("rigging-cli", "rigging-core"):
        _run([uv, "build", "--quiet", "--package", package, "-o", str(wheels)], cwd=ROOT)
    built = time.perf_counter()
    # the dev venv's interpreter, so that the two envs differ in what is installed, not in Python
    _run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)])
    # both wheels named: uv must take rigging-core from here, never an index's project of that name
    python = str(venv / "bin" / "python")
    _run([uv, "pip", "install", "--quiet", "--compile-bytecode", "--python", python, *map(str, wheels.glob("*.whl"))])
    return venv / "bin", {"wheels_s": built - start, "venv_s": time.perf_counter() - built}


def _access_lines(log: str) -> list[tuple[str, str, int, str]]:
    """(method, path, bytes, user agent) of each request in the registry's log."""
    found = []
    for match in ACCESS.finditer(log):
        method, path, size, agent = match.groups()
        found.append((method, path, 0 if size == "-" else int(size), agent))
    return found


def _settled_log(server) -> str:  # a RegistryServer
    """The log once no line has been added for 200 ms: a line is written after its response is
    sent, so the client may exit before the registry logs its last request."""
    log, deadline = server.log(), time.monotonic() + 3
    while time.monotonic() < deadline:
        time.sleep(0.2)
        again = server.log()
        if again == log:
            break
        log = again
    return log


def wire(server, since: int, agent: str, pulls: int) -> dict[str, object]:
    """Requests and response bytes per pull by clients whose user agent starts with `agent`."""
    mine = [line for line in _access_lines(_settled_log(server))[since:] if line[3].startswith(agent)]
    kinds = {"manifest": 0, "blob": 0, "other": 0}
    for _, path, _, _ in mine:
        kinds["manifest" if "/manifests/" in path else "blob" if "/blobs/" in path else "other"] += 1
    return {
        "requests": len(mine) / pulls,
        "bytes": sum(line[2] for line in mine) / pulls,
        **{kind: count / pulls for kind, count in kinds.items()},
    }


def cold_pull(bin_dir: Path, ref: str, work: Path, env: dict[str, str], tag: str) -> tuple[list[str], dict[str, str]]:
    """`rigging pull` into a fresh folder, with an empty cache of its own: both named by `tag`."""
    cold = {**env, "RIGGING_CACHE_DIR": str(work / f"cache-{tag}")}
    return [str(bin_dir / "rigging"), "pull", ref, "-o", str(work / f"out-{tag}")], cold


def import_costs(bin_dir: Path, ref: str, work: Path, env: dict[str, str], runs: int) -> dict[str, object]:
    """Median cumulative import time per module (ms) over `runs` cold pulls, and of all imports."""
    per_module: dict[str, list[float]] = {}
    totals = []
    for run in range(runs):
        cmd, cold = cold_pull(bin_dir, ref, work, {**env, "PYTHONPROFILEIMPORTTIME": "1"}, f"imports-{run}")
        stderr = _run(cmd, env=cold)
        total = 0.0
        for cumulative, indent, module in IMPORT.findall(stderr):
            per_module.setdefault(module, []).append(int(cumulative) / 1000)
            if len(indent) == 1:  # top level: the cumulative figures below it are inside this one
                total += int(cumulative) / 1000
        totals.append(total)
    medians = {module: statistics.median(ms) for module, ms in per_module.items()}
    top = sorted(medians.items(), key=lambda item: item[1], reverse=True)[:10]
    return {"total_ms": statistics.median(totals), "modules": len(medians), "top_cumulative_ms": dict(top)}


def cold_add(bin_dir: Path, host: str, work: Path, env: dict[str, str], tag: str) -> tuple[list[str], dict[str, str]]:
    """`rigging add NAME` into a new project that names the registry, with an empty cache: the
    range resolution (tag list, manifest) and the install of one package."""
    project = work / f"project-{tag}"
    project.mkdir()
    (project / "rigging.json").write_text(json.dumps({"registry": host}))
    cold = {**env, "RIGGING_CACHE_DIR": str(work / f"cache-{tag}")}
    return [str(bin_dir / "rigging"), "add", NAME, "-C", str(project)], cold


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20, method="inclusive")[18]


def _timed(cmd: list[str], env: dict[str, str]) -> float:
    """Wall time of one run, in ms."""
    start = time.perf_counter()
    _run(cmd, env=env)
    return (time.perf_counter() - start) * 1000


def run(runs: int, import_runs: int) -> dict[str, object]:
    from rigging.transfer import publish

    from tests.support.registry import RegistryServer

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cli_bin, build = build_cli_env(work)
        # an empty docker config: no credential helper of the machine's user is asked
        env = {**os.environ, "DOCKER_CONFIG": str(work / "docker"), "RIGGING_CONFIG": str(work / "config.json")}
        server = RegistryServer({"log": {"accesslog": {"disabled": False}}})
        registry = server.start()
        try:
            package = make_package(work / "pkg")
            size = sum(p.stat().st_size for p in package.rglob("*") if p.is_file())
            publish(str(package), f"{registry.host}/{NAME}")
            ref = f"{registry.host}/{NAME}:{TAG}"
            since = len(_access_lines(_settled_log(server)))

            commands = {
                "cli": lambda tag: cold_pull(cli_bin, ref, work, env, f"cli-{tag}"),
                "dev": lambda tag: cold_pull(DEV_BIN, ref, work, env, f"dev-{tag}"),
                "skopeo": lambda tag: ([*SKOPEO, f"docker://{ref}", f"oci:{work / f'oci-{tag}'}:{TAG}"], env),
                "python": lambda tag: ([str(cli_bin / "python"), "-c", "pass"], env),
            }
            samples: dict[str, list[float]] = {kind: [] for kind in commands}
            # run -1 is a warm-up, not kept: page cache, and the .pyc files of the editable dev install
            for attempt in range(-1, runs):
                times = {kind: _timed(*command(attempt)) for kind, command in commands.items()}
                if attempt >= 0:
                    for kind, ms in times.items():
                        samples[kind].append(ms)
                    print(f"  run {attempt}:", ", ".join(f"{k} {v:.0f} ms" for k, v in times.items()), file=sys.stderr)
            pulls = 2 * (runs + 1)  # both envs, warm-up included: every pull so far
            rigging_wire = wire(server, since, "rigging/", pulls)
            skopeo_wire = wire(server, since, "skopeo/", runs + 1)
            # cold `rigging add`, after the pulls so that each one's requests are counted apart
            since = len(_access_lines(_settled_log(server)))
            adds = [_timed(*cold_add(cli_bin, registry.host, work, env, f"add-{run}")) for run in range(-1, runs)][1:]
            add_wire = wire(server, since, "rigging/", runs + 1)
            imports = import_costs(cli_bin, ref, work, env, import_runs)
        finally:
            server.stop()
    medians = {kind: statistics.median(ms) for kind, ms in samples.items()}
    return {
        "runs": runs,
        "package_bytes": size,
        "env_build_s": build,
        "median_ms": medians,
        # ratios per interleaved run, then their median: each one measured side by side
        "cli_over_skopeo": statistics.median(c / s for c, s in zip(samples["cli"], samples["skopeo"], strict=True)),
        "dev_over_skopeo": statistics.median(d / s for d, s in zip(samples["dev"], samples["skopeo"], strict=True)),
        "add_p95_ms": p95(adds),
        "add_median_ms": statistics.median(adds),
        "add_wire": add_wire,
        "rigging_wire": rigging_wire,
        "skopeo_wire": skopeo_wire,
        "imports": imports,
        "samples_ms": samples,
    }


def build_report(r: dict) -> Report:
    build, medians, imports = r["env_build_s"], r["median_ms"], r["imports"]
    rw, sw = r["rigging_wire"], r["skopeo_wire"]
    report = Report(
        f"pull: median of {r['runs']} interleaved runs, a {r['package_bytes'] // 1024} KB package "
        f"({rw['bytes']:.0f} B on the wire)"
    )
    report.figure(
        "CLI-only env built (uv build x2, uv venv, uv pip install)",
        build["wheels_s"] + build["venv_s"],
        "s",
        note=f"wheels {build['wheels_s']:.1f} s, venv + install {build['venv_s']:.1f} s; rebuilt every run",
    )
    report.figure("python -c pass (CLI-only env)", medians["python"], "ms", note="baseline")
    report.figure("cold rigging pull, CLI-only env", medians["cli"], "ms")
    report.figure("cold rigging pull, dev .venv", medians["dev"], "ms")
    report.figure("skopeo copy docker:// -> oci:", medians["skopeo"], "ms")
    report.goal("cold pull / skopeo, CLI-only env", r["cli_over_skopeo"], "x", "<=", GOAL_RATIO)
    report.figure("cold pull / skopeo, dev .venv", r["dev_over_skopeo"], "x", note="the goal is for CLI-only")
    report.figure(
        "HTTP requests per cold pull",
        rw["requests"],
        "",
        note=f"{rw['manifest']:g} manifest, {rw['blob']:g} blob, {rw['other']:g} other",
    )
    aw = r["add_wire"]
    report.goal("cold rigging add of one package, P95, CLI-only env", r["add_p95_ms"], "ms", "<=", ADD_GOAL_MS)
    report.figure("cold rigging add, median", r["add_median_ms"], "ms")
    report.figure(
        "HTTP requests per cold add",
        aw["requests"],
        "",
        note=f"{aw['manifest']:g} manifest, {aw['blob']:g} blob, {aw['other']:g} other (the tag list)",
    )
    report.figure(
        "HTTP requests per skopeo copy",
        sw["requests"],
        "",
        note=f"{sw['manifest']:g} manifest, {sw['blob']:g} blob, {sw['other']:g} other",
    )
    report.figure(
        "imports of a cold pull, CLI-only env (all, top level summed)",
        imports["total_ms"],
        "ms",
        note=f"{imports['modules']} modules, -X importtime",
    )
    for module, ms in imports["top_cumulative_ms"].items():
        report.figure(f"  import {module} (cumulative)", ms, "ms")
    return report


def main() -> int:
    args = parse_sized(sized_parser(__doc__, "runs", 21, 7))
    missing = [tool for tool in ("uv", "docker-registry", "skopeo") if shutil.which(tool) is None]
    if missing:
        print(f"bench: {', '.join(missing)} needed", file=sys.stderr)
        return 1
    results = run(args.runs, import_runs=3 if args.quick else 5)
    report = build_report(results)
    return report.finish(results, args.json)


if __name__ == "__main__":
    sys.exit(main())
