"""Built-in scan throughput (a benchmark, not a test): versions scanned per second.

One version is a ~100 KB package: rigging.json, rules, workflows, a skill with a script, and docs,
with the look-alikes the checks must read closely (code blocks, URLs, a pinned download). The scan
runs in-process through `rigging.scan.scan_package`, as the indexer's scan service will call it, so
the figure excludes the CLI's start-up (bench/startup.py measures that). Goal: >= 50 versions/s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import Report

GOAL_PER_SECOND = 50.0
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
    args = parser.parse_args()
    if args.quick:
        args.versions = min(args.versions, 50)
    from rigging.scan import scan_package

    with tempfile.TemporaryDirectory() as tmp:
        pkg = make_package(Path(tmp) / "pkg")
        size = sum(p.stat().st_size for p in pkg.rglob("*") if p.is_file())
        first = scan_package(pkg)  # warm the page cache and compile the patterns once
        if first.blocked:
            print(f"bench: the benchmark package blocks: {first.findings[0].format()}", file=sys.stderr)
            return 1
        samples = []
        for _ in range(args.versions):
            start = time.perf_counter()
            scan_package(pkg)
            samples.append(time.perf_counter() - start)
    median_ms = statistics.median(samples) * 1000
    per_second = args.versions / sum(samples)
    if args.json:
        print(json.dumps({"bytes": size, "versions": args.versions, "median_ms": median_ms, "per_second": per_second}))
        return 0
    report = Report(f"scan: built-in checks, {args.versions} scans of a {size // 1024} KB package")
    report.figure("one version (median)", median_ms, "ms")
    report.goal("throughput", per_second, "/s", ">=", GOAL_PER_SECOND)
    report.show()
    return 0


if __name__ == "__main__":
    sys.exit(main())
