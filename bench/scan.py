"""Scan throughput (a benchmark, not a test): versions scanned per second, and Semgrep's cost.

One version is a ~100 KB package: rigging.json, rules, workflows, a skill with a script, and docs,
with the look-alikes the checks must read closely (code blocks, URLs, a pinned download). The scan
runs in-process, as the indexer's scan service calls it, so the figures exclude the CLI's start-up
(bench/startup.py measures that). Goal: the built-in checks >= 50 versions/s; `scan_package` adds
`rigging validate` (a few ms) to them. Then the Semgrep pack (RIGGING_SEMGREP, else PATH, else
.venv-tools/bin/semgrep): one version alone, and a batch of versions in one Semgrep process, which
is how the index should run it (start-up is most of the time).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import Report

GOAL_PER_SECOND = 50.0
BATCH = 20
TOOLS_SEMGREP = Path(__file__).resolve().parent.parent / ".venv-tools" / "bin" / "semgrep"
PARAGRAPH = (
    "Prefer small functions with clear names. See https://docs.python.org/3/library/re.html and keep "
    "`subprocess.run([...], check=True)` calls explicit. Never pipe a download into a shell:\n\n"
    '```sh\ncurl -fsSLo tool.tgz https://example.com/tool.tgz && echo "abc  tool.tgz" | sha256sum -c\n```\n\n'
)


def make_package(root: Path, size: int = 100 * 1024) -> Path:
    """A package of about `size` bytes spread over 20 rules, 5 workflows, a skill and docs."""
    for folder in ("rules", "workflows", "docs", "skills/check/scripts"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    (root / "rigging.json").write_text(json.dumps({"name": "bench/scan", "version": "1.0.0", "description": "b"}))
    skill = "---\nname: check\ndescription: checks\nallowed-tools: Bash(git status:*) Read\n---\n\nRun the script.\n"
    (root / "skills/check/SKILL.md").write_text(skill)
    (root / "skills/check/scripts/run.sh").write_text("#!/bin/sh\nset -eu\npip install ruff==0.6.0\nruff check .\n")
    files = [root / "rules" / f"r{i}.md" for i in range(20)] + [root / "workflows" / f"w{i}.md" for i in range(5)]
    files += [root / "docs" / f"d{i}.md" for i in range(5)]
    per_file = size // len(files)
    for path in files:
        path.write_text("---\ndescription: bench\n---\n\n" + PARAGRAPH * (per_file // len(PARAGRAPH) + 1))
    return root


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--versions", type=int, default=200, help="scans to time")
    parser.add_argument("--quick", action="store_true", help="50 scans instead of 200")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--batch", type=int, default=BATCH, help="versions in one Semgrep run")
    parser.add_argument("--no-semgrep", action="store_true", help="time the built-in checks only")
    args = parser.parse_args()
    if args.quick:
        args.versions = min(args.versions, 50)
    from rigging.scan import find_semgrep, scan_package
    from rigging.scan.checks import builtin_scan

    semgrep = None if args.no_semgrep else find_semgrep() or _tools_semgrep()
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        pkg = make_package(Path(tmp) / "pkg")
        size = sum(p.stat().st_size for p in pkg.rglob("*") if p.is_file())
        first = scan_package(pkg)  # warm the page cache and compile the patterns once
        if first.blocked:
            print(f"bench: the benchmark package blocks: {first.findings[0].format()}", file=sys.stderr)
            return 1
        samples = _time(lambda: scan_package(pkg), args.versions)
        builtin = _time(lambda: builtin_scan(pkg), args.versions)
        figures["median_ms"] = statistics.median(samples) * 1000
        figures["per_second"] = args.versions / sum(samples)
        figures["builtin_per_second"] = args.versions / sum(builtin)
        if semgrep is not None:
            batch = [pkg] + [shutil.copytree(pkg, Path(tmp) / f"pkg{i}") for i in range(1, args.batch)]
            figures["semgrep_one_s"] = min(_time(lambda: _semgrep([pkg], semgrep), 2))
            figures["semgrep_batch_s"] = _time(lambda: _semgrep(batch, semgrep), 1)[0]
    if args.json:
        print(json.dumps({"bytes": size, "versions": args.versions, "batch": args.batch, **figures}))
        return 0
    report = Report(f"scan: {args.versions} scans of a {size // 1024} KB package")
    report.goal("throughput, built-in checks", figures["builtin_per_second"], "/s", ">=", GOAL_PER_SECOND)
    report.figure("one version, built-ins + validation (median)", figures["median_ms"], "ms")
    report.figure("throughput, built-ins + validation (scan_package)", figures["per_second"], "/s")
    if semgrep is None:
        report.figure("semgrep", 0, "", note="not run: semgrep not found (RIGGING_SEMGREP, PATH, .venv-tools)")
    else:
        batch_s = figures["semgrep_batch_s"]
        report.figure("semgrep, one version alone (one process)", figures["semgrep_one_s"], "s")
        report.figure(f"semgrep, {args.batch} versions in one process", batch_s, "s")
        report.figure(f"semgrep per version, in a batch of {args.batch}", batch_s / args.batch * 1000, "ms")
    report.show()
    return 0


def _tools_semgrep() -> str | None:
    return str(TOOLS_SEMGREP) if os.access(TOOLS_SEMGREP, os.X_OK) else None


def _time(run: Callable[[], object], times: int) -> list[float]:
    samples = []
    for _ in range(times):
        start = time.perf_counter()
        run()
        samples.append(time.perf_counter() - start)
    return samples


def _semgrep(roots: list[Path], semgrep: str) -> None:
    from rigging.scan import run_semgrep

    found = run_semgrep(roots, semgrep)
    if any(f.severity == "block" for findings in found.values() for f in findings):
        raise SystemExit("bench: the Semgrep pack blocks the benchmark package")


if __name__ == "__main__":
    sys.exit(main())
