"""Every benchmark in turn, as `./dev bench` runs them: startup, install, pull, signing, scan,
scan_service, indexer, token_service, portal.

    ./dev bench                      all nine at their real sizes (the indexer and portal take minutes)
    ./dev bench --quick              smaller sizes and fewer runs, for a quick look
    ./dev bench install signing      only these

Each benchmark prints its figures with each goal beside it, MET or MISSED; at the end every goal
line is repeated together. Benchmarks are not tests: a MISSED goal does not fail the run, a
benchmark that breaks does. The indexer and portal need PostgreSQL (RIGGING_TEST_DATABASE_URL, default
the local server), and docker-registry, skopeo and wrk (Debian packages); pull also needs uv.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = ("startup", "install", "pull", "signing", "scan", "scan_service", "indexer", "token_service", "portal")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("benches", nargs="*", metavar="BENCH", help=f"any of {', '.join(BENCHES)} (default: all)")
    parser.add_argument("--quick", action="store_true", help="smaller sizes and fewer runs in every benchmark")
    args = parser.parse_args()
    chosen = args.benches or list(BENCHES)
    unknown = sorted(set(chosen) - set(BENCHES))
    if unknown:
        parser.error(f"no such benchmark: {', '.join(unknown)}")
    failed = []
    with tempfile.NamedTemporaryFile("r", suffix=".txt") as summary:
        env = {**os.environ, "RIGGING_BENCH_SUMMARY": summary.name}
        for name in chosen:
            print(f"== bench/{name}.py{' --quick' if args.quick else ''}", flush=True)
            start = time.perf_counter()
            cmd = [sys.executable, str(HERE / f"{name}.py"), *(["--quick"] if args.quick else [])]
            code = subprocess.run(cmd, env=env, check=False).returncode
            print(f"   ({time.perf_counter() - start:.0f} s)\n", flush=True)
            if code != 0:
                failed.append(name)
        lines = summary.read().splitlines()
    print("== goals")
    for line in lines:
        print(f"  {line}")
    missed = sum(1 for line in lines if line.startswith("MISSED"))
    print(f"  {len(lines) - missed} met, {missed} missed" + (f"; failed to run: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
