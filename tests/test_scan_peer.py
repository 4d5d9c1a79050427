"""Our scan beside Cisco's AI skill scanner (cisco-ai-skill-scanner, tools/requirements.txt) on the
corpus of tests/scan_corpus.py, with its offline static analyzers only (static, bytecode and
pipeline: no LLM, no VirusTotal, no network).

What is held: every threat case the peer flags at HIGH or CRITICAL, ours flags at warn or block
(our scan misses nothing it catches), and our block precision and recall are 1.00. The table
(`pytest -s`, or RIGGING_PEER_TABLE=1 writes /tmp/scan_peer_table.md) shows both verdicts.

Benign cases the peer flags HIGH or CRITICAL are its false positives, which we do not copy:
- benign-teaches-shell-safety, benign-labels-bad-example, benign-quotes-injection: the pipe to a
  shell and the injection phrases stand in fenced code blocks after prose (or a "Bad:" label) that
  warns against them. Markdown code is how a rule quotes an example; the peer's patterns read text
  without Markdown's structure.
- benign-js-tool: `execFile("git", ["status"])` runs a fixed program with fixed arguments; nothing
  fetched reaches it. The peer flags any child_process call.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.scan_corpus import CORPUS, write_case
from tests.support.services import unavailable
from tests.test_scan import semgrep_program

PEER = REPO_ROOT / ".venv-tools" / "bin" / "skill-scanner"
PEER_FLAGS = ("CRITICAL", "HIGH")
TABLE = Path("/tmp/scan_peer_table.md")  # the table to paste into a closing note
# The peer scans a skill: a folder with SKILL.md at its top. Its copy of each case gets this one,
# which the peer passes as it is (the `clean` case shows it), so its verdicts are about the case.
PEER_SKILL = """---
name: {name}
description: A scanner comparison case. Use it when comparing how two scanners judge the files beside this one.
license: MIT
---

# Case

The files beside this one are the case.
"""


def _offline_env() -> dict[str, str]:
    # no keys, no way out: the peer's optional analyzers stay off even if a key is set here
    env = {k: v for k, v in os.environ.items() if "API_KEY" not in k and not k.startswith(("OPENAI", "ANTHROPIC"))}
    return {**env, "NO_PROXY": "*", "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"}


@pytest.fixture(scope="module")
def peer_results(tmp_path_factory) -> dict[str, dict]:
    if not os.access(PEER, os.X_OK):
        unavailable(f"skill-scanner not found at {PEER} (./dev setup installs it into .venv-tools)")
    base = tmp_path_factory.mktemp("peer")
    for name, (files, _, _) in CORPUS.items():
        write_case(base / name, files)
        (base / name / "SKILL.md").write_text(PEER_SKILL.format(name=name))
    proc = subprocess.run(
        [str(PEER), "scan-all", str(base), "--format", "json"],
        capture_output=True,
        text=True,
        env=_offline_env(),
        timeout=600,
        check=False,
    )
    assert proc.stdout.strip(), f"skill-scanner failed (exit {proc.returncode}): {proc.stderr[-500:]}"
    output = json.loads(proc.stdout)
    results = {Path(r["skill_path"]).name: r for r in output["results"]}
    assert set(results) == set(CORPUS), sorted(set(CORPUS) ^ set(results))
    return results


@pytest.fixture(scope="module")
def our_results(tmp_path_factory) -> dict[str, dict]:
    from rigging.scan import scan_packages

    base = tmp_path_factory.mktemp("ours")
    roots = {name: write_case(base / name, files) for name, (files, _, _) in CORPUS.items()}
    reports = scan_packages(list(roots.values()), semgrep=semgrep_program())
    return {name: reports[root].as_dict() for name, root in roots.items()}


def _ours(report: dict) -> tuple[str, str]:
    """(verdict, the rules at that severity)"""
    for severity in ("block", "warn"):
        rules = sorted({f["rule"] for f in report["findings"] if f["severity"] == severity})
        if rules:
            return severity, ", ".join(rules)
    return "pass", ""


def _theirs(result: dict) -> tuple[str, str]:
    severity = result.get("max_severity") or "SAFE"
    rules = sorted({f["rule_id"] for f in result["findings"] if f["severity"] == severity})
    return severity, ", ".join(rules[:3]) + (" …" if len(rules) > 3 else "")


def _table(our_results: dict[str, dict], peer_results: dict[str, dict]) -> str:
    lines = [
        "| case | expected | ours (rigging scan) | theirs (skill-scanner 2.3.2, static) |",
        "|---|---|---|---|",
    ]
    for name, (_, rule, severity) in CORPUS.items():
        expected = f"{severity} {rule}" if rule else "nothing"
        ours, our_rules = _ours(our_results[name])
        theirs, their_rules = _theirs(peer_results[name])
        lines.append(f"| {name} | {expected} | {ours} {our_rules} | {theirs} {their_rules} |")
    threats = {n for n, (_, rule, sev) in CORPUS.items() if rule and sev == "block"}
    benign = {n for n, (_, rule, _) in CORPUS.items() if rule is None}
    for label, flagged in (
        ("ours: block", {n for n, r in our_results.items() if r["blocked"]}),
        ("theirs: HIGH or CRITICAL", {n for n, r in peer_results.items() if r.get("max_severity") in PEER_FLAGS}),
    ):
        hits = len(flagged & threats)
        precision = hits / len(flagged) if flagged else 1.0
        lines.append(
            f"\n{label}: precision {precision:.2f}, recall {hits / len(threats):.2f} ({hits}/{len(threats)} "
            f"threats), benign flagged {len(flagged & benign)}/{len(benign)}"
        )
    return "\n".join(lines) + "\n"


def test_side_by_side(our_results, peer_results, capsys):
    table = _table(our_results, peer_results)
    with capsys.disabled():
        print("\n" + table)
    if os.environ.get("RIGGING_PEER_TABLE"):
        TABLE.write_text(table)

    missed = [
        name
        for name, (_, rule, _) in CORPUS.items()
        if rule is not None
        and peer_results[name].get("max_severity") in PEER_FLAGS
        and _ours(our_results[name])[0] == "pass"
    ]
    assert not missed, f"the peer flags these HIGH/CRITICAL and we pass them: {missed}"

    threats = {n for n, (_, rule, sev) in CORPUS.items() if rule and sev == "block"}
    blocked = {n for n, r in our_results.items() if r["blocked"]}
    assert blocked == threats, {"missed": sorted(threats - blocked), "false": sorted(blocked - threats)}
