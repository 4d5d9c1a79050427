"""Start-up and validate timings of the installed CLI (a benchmark, not a test).

Reports the median wall time of several runs, beside Python's bare start-up, against the goals:
`rigging --help` and `rigging --version` <= 60 ms, `rigging completion bash` (the one command that
reads every command's options) <= 150 ms, and `rigging validate` on a 20-file package <= 150 ms.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import Report, parse_sized, sized_parser

BIN = Path(sys.executable).parent
GOALS_MS = {
    "rigging --help": 60.0,
    "rigging --version": 60.0,
    "rigging completion bash": 150.0,
    "rigging validate (20 files)": 150.0,
}


def make_package(root: Path) -> Path:
    """rigging.json, README.md and 18 rules/workflows/docs: 20 files."""
    (root / "rules").mkdir(parents=True)
    (root / "workflows").mkdir()
    (root / "docs").mkdir()
    (root / "rigging.json").write_text(
        json.dumps(
            {
                "name": "bench/twenty",
                "version": "1.0.0",
                "description": "benchmark package",
                "keywords": ["bench"],
                "targets": ["windsurf", "cursor", "copilot", "claude", "agents"],
            }
        )
    )
    (root / "README.md").write_text("# bench\n")
    for i in range(10):
        (root / "rules" / f"rule{i}.md").write_text(
            f"---\ntrigger: glob\ndescription: rule {i}\nglobs: **/*.py\n---\n\n" + "- do this\n" * 40
        )
    for i in range(5):
        (root / "workflows" / f"flow{i}.md").write_text(f"---\ndescription: flow {i}\n---\n1. step\n" * 5)
    for i in range(3):
        (root / "docs" / f"doc{i}.md").write_text("# doc\n" + "text " * 200)
    assert sum(1 for p in root.rglob("*") if p.is_file()) == 20
    return root


def median_ms(cmd: list[str], runs: int) -> float:
    subprocess.run(cmd, capture_output=True, check=False)  # warm the page cache and .pyc files
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=False)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main() -> int:
    args = parse_sized(sized_parser(__doc__, "runs", 21, 7))
    with tempfile.TemporaryDirectory() as tmp:
        pkg = make_package(Path(tmp) / "pkg")
        rigging = str(BIN / "rigging")
        check = subprocess.run([rigging, "validate", str(pkg)], capture_output=True, text=True)
        if check.returncode != 0:
            print(f"bench: the benchmark package does not validate:\n{check.stdout}", file=sys.stderr)
            return 1
        results = {
            "python -c pass": median_ms([sys.executable, "-c", "pass"], args.runs),
            "python -I -S -c pass": median_ms([sys.executable, "-I", "-S", "-c", "pass"], args.runs),
            "rigging --help": median_ms([rigging, "--help"], args.runs),
            "rigging --version": median_ms([rigging, "--version"], args.runs),
            "rigging completion bash": median_ms([rigging, "completion", "bash"], args.runs),
            "rigging validate (20 files)": median_ms([rigging, "validate", str(pkg)], args.runs),
        }
    report = Report(f"startup: median of {args.runs} runs")
    for name, ms in results.items():
        goal = GOALS_MS.get(name)
        if goal is None:
            report.figure(name, ms, "ms", note="baseline")
        else:
            report.goal(name, ms, "ms", "<=", goal)
    if args.json:
        print(json.dumps({"runs": args.runs, "median_ms": results, "goals_ms": GOALS_MS, "goals": report.as_dict()}))
        return 0
    report.show()
    return 0


if __name__ == "__main__":
    sys.exit(main())
