"""How every benchmark prints its figures: each goal beside its figure, with MET or MISSED.

    report = Report("install")
    report.goal("(a) resolve, no conflicts (median)", 12.3, "ms", "<=", 100)
    report.figure("(c) 50 x skopeo copy, 8 at a time (median)", 950, "ms")
    report.show()

A line with a goal ends in MET or MISSED; a figure without one says so. Where a goal was stated
for one comparison and is applied to another, the label says which (`for=`). When
RIGGING_BENCH_SUMMARY names a file (as `./dev bench` does), every goal line is appended to it too,
so that the runner can print all verdicts together at the end.
"""

from __future__ import annotations

import argparse
import json
import operator
import os
import sys
from dataclasses import asdict, dataclass
from typing import Any

_OPS = {"<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt, "==": operator.eq}


def number(value: float, unit: str = "") -> str:
    """Few digits, enough to compare: 0.49x, 12.3 ms, 1317 ms."""
    if unit == "x":
        return f"{value:.2f}"
    if isinstance(value, int) or abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


@dataclass
class Line:
    label: str
    value: float
    unit: str
    op: str | None = None
    limit: float | None = None
    met: bool | None = None
    note: str = ""

    def text(self) -> str:
        figure = f"{number(self.value, self.unit):>9} {self.unit:<5}"
        if self.op is None:
            verdict = "(no goal)"
        else:
            goal = f"goal {self.op} {number(self.limit, self.unit)} {self.unit}".rstrip()  # type: ignore[arg-type]
            verdict = f"{goal:<20} {'MET' if self.met else 'MISSED'}"
        note = f"  [{self.note}]" if self.note else ""
        return f"  {self.label:<62} {figure} {verdict}{note}"


class Report:
    def __init__(self, title: str) -> None:
        self.title = title
        self.lines: list[Line] = []

    def goal(self, label: str, value: float, unit: str, op: str, limit: float, *, note: str = "") -> bool:
        """A figure against its goal; returns whether the goal is met."""
        met = bool(_OPS[op](value, limit))
        self.lines.append(Line(label, value, unit, op, limit, met, note))
        return met

    def figure(self, label: str, value: float, unit: str, *, note: str = "") -> None:
        """A figure that has no goal of its own (a baseline, a comparison, a count)."""
        self.lines.append(Line(label, value, unit, note=note))

    def finish(self, results: dict[str, Any], as_json: bool) -> int:
        """Print the report, or (--json) the results with the goals; the exit status."""
        if as_json:
            print(json.dumps({**results, "goals": self.as_dict()}, indent=2))
        else:
            self.show()
        return 0

    def show(self, file: Any = None) -> None:
        file = file or sys.stdout
        print(f"{self.title}", file=file)
        for line in self.lines:
            print(line.text(), file=file)
        summary = os.environ.get("RIGGING_BENCH_SUMMARY")
        if summary:
            with open(summary, "a", encoding="utf-8") as out:
                for line in self.lines:
                    if line.op is not None:
                        out.write(
                            f"{'MET   ' if line.met else 'MISSED'} {self.title.split(':')[0]}: {line.text().strip()}\n"
                        )

    def as_dict(self) -> list[dict[str, Any]]:
        return [asdict(line) for line in self.lines]


def sized_parser(doc: str | None, size: str, default: int, quick: int) -> argparse.ArgumentParser:
    """The arguments every benchmark takes: --SIZE N, --quick (at most `quick` of them) and --json;
    add more, then `parse_sized`."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(f"--{size}", type=int, default=default)
    parser.add_argument("--quick", action="store_true", help=f"at most {quick} {size} (default {default})")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(quick_size=(size.replace("-", "_"), quick))
    return parser


def parse_sized(parser: argparse.ArgumentParser) -> argparse.Namespace:
    args = parser.parse_args()
    name, quick = args.quick_size
    if args.quick:
        setattr(args, name, min(getattr(args, name), quick))
    return args
