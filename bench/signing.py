"""Signing benchmarks (not tests): keyed sign and verify of one package against a local registry,
and what the verify path costs to import.

Needs Debian's docker-registry.
"""

from __future__ import annotations

import argparse
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

BIN = Path(sys.executable).parent


def _median_ms(cmd: list[str], env: dict[str, str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        times.append((time.perf_counter() - start) * 1000)
        if proc.returncode != 0:
            raise SystemExit(f"bench: {' '.join(cmd)} failed: {proc.stderr.strip()}")
    return statistics.median(times)


def _import_ms(module: str) -> float:
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"], capture_output=True, text=True, check=True
    ).stderr
    line = next(line for line in reversed(out.splitlines()) if line.rstrip().endswith(f"| {module}"))
    return int(re.split(r"\s*\|\s*", line)[1]) / 1000  # cumulative microseconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not shutil.which("docker-registry"):
        print("bench: docker-registry is needed")
        return 1
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
                [rigging, "new", str(work / "pkg"), "--name", "bench/signed"], check=True, env=env, capture_output=True
            )
            subprocess.run(
                [rigging, "publish", str(work / "pkg"), f"{host}/bench/signed"],
                check=True,
                env=env,
                capture_output=True,
            )
            subprocess.run(
                [rigging, "generate-key-pair", "--output-dir", str(work / "keys")],
                check=True,
                env=env,
                capture_output=True,
            )
            ref = f"{host}/bench/signed:0.1.0"
            results = {
                "sign_bundle_ms": _median_ms(
                    [rigging, "sign", ref, "--key", str(work / "keys/cosign.key")], env, args.runs
                ),
                "sign_legacy_ms": _median_ms(
                    [rigging, "sign", ref, "--key", str(work / "keys/cosign.key"), "--format", "legacy"], env, args.runs
                ),
                "verify_ms": _median_ms(
                    [rigging, "verify", ref, "--key", str(work / "keys/cosign.pub")], env, args.runs
                ),
            }
        finally:
            proc.terminate()
            proc.wait()
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
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"median of {args.runs} runs (ms), one 4-file package, local registry")
    for name, value in results.items():
        print(f"  {name:<30} {value:8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
