"""Signing benchmarks (not tests): keyed sign and verify against a local registry, and what the
verify path costs to import.

Each run publishes a fresh package (its own repository and digest, untimed), then times
`rigging sign` (bundle), `rigging sign --format legacy` and `rigging verify` on it, so that every
verify finds exactly that package's two signatures. (The bench used to re-sign one package every
run, so later signs rewrote an ever longer referrers index and `verify` timed 2 x runs signatures.)
The bench checks the count from `verify --json`. `--also-resigned` adds, for contrast, the old
method in the same run: one package signed `runs` times in each format, then verified `runs` times.

No goals have been set for signing; the figures are printed without a verdict, beside the
check that each verify saw exactly 2 signatures.

Needs Debian's docker-registry.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from install import _start_registry
from install import _timed as _ms
from report import Report, parse_sized, sized_parser

BIN = Path(sys.executable).parent


def _median_ms(cmd: list[str], env: dict[str, str], runs: int) -> float:
    return statistics.median(_ms(cmd, env)[0] for _ in range(runs))


def _import_ms(module: str) -> float:
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"], capture_output=True, text=True, check=True
    ).stderr
    line = next(line for line in reversed(out.splitlines()) if line.rstrip().endswith(f"| {module}"))
    return int(re.split(r"\s*\|\s*", line)[1]) / 1000  # cumulative microseconds


def bench_registry(runs: int, also_resigned: bool) -> dict[str, object]:
    rigging = str(BIN / "rigging")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        proc, host = _start_registry(work)
        try:
            env = {
                **os.environ,
                "COSIGN_PASSWORD": "bench",
                "RIGGING_CACHE_DIR": str(work / "cache"),
                "DOCKER_CONFIG": str(work / "docker"),
            }
            subprocess.run(
                [rigging, "generate-key-pair", "--output-dir", str(work / "keys")],
                check=True,
                env=env,
                capture_output=True,
            )
            key, pub = str(work / "keys/cosign.key"), str(work / "keys/cosign.pub")
            times: dict[str, list[float]] = {"sign_bundle_ms": [], "sign_legacy_ms": [], "verify_ms": []}
            found: list[int] = []
            digests = set()
            for run in range(runs):
                name = f"bench/signed-{run}"
                folder = work / f"pkg-{run}"
                for cmd in (
                    [rigging, "new", str(folder), "--name", name],
                    [rigging, "publish", str(folder), f"{host}/{name}"],
                ):
                    subprocess.run(cmd, check=True, env=env, capture_output=True)
                ref = f"{host}/{name}:0.1.0"
                times["sign_bundle_ms"].append(_ms([rigging, "sign", ref, "--key", key], env)[0])
                times["sign_legacy_ms"].append(_ms([rigging, "sign", ref, "--key", key, "--format", "legacy"], env)[0])
                ms, out = _ms([rigging, "verify", ref, "--key", pub, "--json"], env)
                times["verify_ms"].append(ms)
                verified = json.loads(out)
                found.append(len(verified["signatures"]))
                digests.add(verified["digest"])
            resigned: dict[str, object] = {}
            if also_resigned:  # the old method: the same package signed again every run
                ref = f"{host}/bench/signed-0:0.1.0"
                for label, extra in (("sign_bundle_ms", []), ("sign_legacy_ms", ["--format", "legacy"])):
                    resigned[label] = statistics.median(
                        _ms([rigging, "sign", ref, "--key", key, *extra], env)[0] for _ in range(runs)
                    )
                resigned["verify_ms"] = _median_ms([rigging, "verify", ref, "--key", pub], env, runs)
                out = _ms([rigging, "verify", ref, "--key", pub, "--json"], env)[1]
                resigned["signatures_found"] = len(json.loads(out)["signatures"])
        finally:
            proc.terminate()
            proc.wait()
    assert len(digests) == runs, "every run must sign a package of its own"
    return {
        **{name: statistics.median(values) for name, values in times.items()},
        "signatures_found_per_verify": found,
        "runs_ms": times,
        **({"resigned": resigned} if resigned else {}),
    }


def main() -> int:
    parser = sized_parser(__doc__, "runs", 7, 3)
    parser.add_argument(
        "--also-resigned", action="store_true", help="also time the old method (one package re-signed every run)"
    )
    args = parse_sized(parser)
    if not shutil.which("docker-registry"):
        print("bench: docker-registry is needed")
        return 1
    results: dict[str, object] = bench_registry(args.runs, args.also_resigned)
    from rigging.signing.keys import load_private_key  # in-process: the key's scrypt alone

    with tempfile.TemporaryDirectory() as tmp:
        from rigging.signing.keys import generate_key_pair

        private, _ = generate_key_pair(Path(tmp), b"bench")
        start = time.perf_counter()
        load_private_key(private, b"bench")
        results["decrypt_key_scrypt_ms"] = (time.perf_counter() - start) * 1000
    results["import_keyed_verify_ms"] = _import_ms("rigging.signing.verifier")
    results["import_sigstore_verify_ms"] = _import_ms("sigstore.verify")
    results["python_startup_ms"] = _median_ms([sys.executable, "-c", "pass"], os.environ.copy(), args.runs)

    report = Report(f"signing: median of {args.runs} runs, a fresh 4-file package each run, local registry")
    found = results["signatures_found_per_verify"]
    report.goal(
        "verify found exactly the package's 2 signatures (bundle + legacy)",
        max(found),  # type: ignore[arg-type]
        "",
        "==",
        2,
        note=f"per run {found}",
    )
    for name, label in (
        ("sign_bundle_ms", "rigging sign (bundle)"),
        ("sign_legacy_ms", "rigging sign --format legacy"),
        ("verify_ms", "rigging verify --key (1 bundle + 1 legacy)"),
        ("decrypt_key_scrypt_ms", "decrypt cosign key (scrypt), in process"),
        ("import_keyed_verify_ms", "import rigging.signing.verifier"),
        ("import_sigstore_verify_ms", "import sigstore.verify"),
        ("python_startup_ms", "python -c pass"),
    ):
        report.figure(label, results[name], "ms")  # type: ignore[arg-type]
    resigned = results.get("resigned")
    if isinstance(resigned, dict):
        note = "for contrast: one package re-signed every run, as the bench used to"
        report.figure("  re-signed package: rigging sign (bundle)", resigned["sign_bundle_ms"], "ms", note=note)
        report.figure("  re-signed package: rigging sign --format legacy", resigned["sign_legacy_ms"], "ms", note=note)
        report.figure(
            f"  re-signed package: rigging verify ({resigned['signatures_found']} signatures)",
            resigned["verify_ms"],
            "ms",
            note=note,
        )
    return report.finish(results, args.json)


if __name__ == "__main__":
    sys.exit(main())
