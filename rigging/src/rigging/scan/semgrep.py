"""Running our Semgrep rule pack (rules/semgrep.yml) offline, over one or many package folders.

Semgrep's start-up (about 4 s) dwarfs its scan of a package, so `run_semgrep` takes a batch of
folders and runs one process over all of them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from rigging.errors import RiggingError
from rigging.scan.checks import MARKDOWN, Source
from rigging.scan.files import TextFile, read_file
from rigging.scan.model import RULES, SEVERITIES, Finding, Severity

PACK = Path(__file__).with_name("rules") / "semgrep.yml"
TIMEOUT_SECONDS = 600
# Offline and quiet: no metrics, no version check, no registry rules (nothing leaves the machine)
OFFLINE_ENV = {"SEMGREP_ENABLE_VERSION_CHECK": "0", "SEMGREP_SEND_METRICS": "off"}


def find_semgrep() -> str | None:
    """RIGGING_SEMGREP (a path), else `semgrep` on PATH, else None."""
    configured = os.environ.get("RIGGING_SEMGREP")
    if configured:
        return configured
    return shutil.which("semgrep")


def run_semgrep(
    roots: Sequence[Path], semgrep: str | None = None, *, timeout: float = TIMEOUT_SECONDS
) -> dict[Path, list[Finding]]:
    """Findings of the pack in each of `roots`, from one Semgrep process; paths relative to the root."""
    program = semgrep or find_semgrep()
    if program is None:
        raise RiggingError("semgrep not found; install it (pip install semgrep) or set RIGGING_SEMGREP=PATH")
    resolved = {Path(os.path.realpath(r)): Path(r) for r in roots}
    if not resolved:
        return {}
    with tempfile.TemporaryDirectory(prefix="rigging-semgrep-") as home:
        command = [
            program,
            "scan",
            "--metrics=off",
            "--disable-version-check",
            "--config",
            str(PACK),
            "--json",
            "--quiet",
            # Semgrep skips tests/, node_modules/, … by default (and what .gitignore lists): a
            # package could hide a script there. Only this (unstable, hence the pinned Semgrep)
            # option turns the default list off; an empty .semgrepignore does not.
            "--no-git-ignore",
            "--x-ignore-semgrepignore-files",
            "--timeout",
            "30",
            # The native (OCaml) command line instead of the Python wrapper: on the 55-package
            # corpus 0.28 s against 10.2 s, with identical results and scanned paths (Semgrep 1.187)
            "--experimental",
            *map(str, resolved),
        ]
        env = {**os.environ, **OFFLINE_ENV, "SEMGREP_USER_HOME": home, "XDG_CONFIG_HOME": home}
        try:
            proc = subprocess.run(
                command, capture_output=True, text=True, cwd=home, env=env, timeout=timeout, check=False
            )
        except FileNotFoundError:
            raise RiggingError(f"{program}: semgrep not found there; fix RIGGING_SEMGREP or --semgrep") from None
        except subprocess.TimeoutExpired:
            raise RiggingError(f"semgrep took more than {timeout:.0f} s; scan fewer packages at once") from None
    try:
        output = json.loads(proc.stdout)
    except ValueError:
        detail = (proc.stderr.strip().splitlines() or ["no output"])[-1][:200]
        raise RiggingError(f"semgrep failed (exit {proc.returncode}): {detail}; or scan with --no-semgrep") from None
    # a script Semgrep cannot parse is only a warning of its; a pack it cannot load is our bug
    broken = [e for e in output.get("errors") or [] if "rule" in str(e.get("type", "")).lower()]
    if broken:
        detail = " ".join(str(broken[0].get("message", broken[0].get("type"))).split())[:200]
        raise RiggingError(f"semgrep could not load the rule pack {PACK}: {detail}; or scan with --no-semgrep")
    found: dict[Path, list[Finding]] = {original: [] for original in resolved.values()}
    sources: dict[Path, Source | None] = {}
    for result in output.get("results") or []:
        path = Path(result.get("path", ""))
        placed = _place(path, resolved)
        if placed is None:
            continue
        root, rel = placed
        finding = _finding(result, rel)
        if rel.lower().endswith(MARKDOWN):
            if path not in sources:
                sources[path] = _markdown(path, rel)
            finding = _in_context(finding, sources[path], result)
        found[root].append(finding)
    for findings in found.values():
        findings.sort(key=lambda f: (f.file, f.line, f.rule))
    return found


def _place(path: Path, resolved: dict[Path, Path]) -> tuple[Path, str] | None:
    real = Path(os.path.realpath(path))
    # the deepest root first: one package folder may lie inside another's
    for root in sorted(resolved, key=lambda r: len(r.parts), reverse=True):
        if real.is_relative_to(root):
            return resolved[root], real.relative_to(root).as_posix()
    return None


def _finding(result: dict[str, Any], rel: str) -> Finding:
    extra = result.get("extra") or {}
    metadata = extra.get("metadata") or {}
    rule = str(metadata.get("rule", ""))
    rule = rule if rule in RULES else "RIG-G010"  # the pack's test holds every rule to RULES
    severity: Severity = metadata.get("severity") if metadata.get("severity") in SEVERITIES else "warn"
    line = int((result.get("start") or {}).get("line") or 0)
    message = " ".join(str(extra.get("message", "")).split())
    return Finding(rule, severity, rel, line, f"{message} (semgrep)", RULES[rule].fix)


def _markdown(path: Path, rel: str) -> Source | None:
    file = read_file(path, rel)
    return Source(file) if isinstance(file, TextFile) else None


def _in_context(finding: Finding, src: Source | None, result: dict[str, Any]) -> Finding:
    """Text patterns cannot see Markdown's code spans; a phrase quoted in code is an example, as the
    built-in checks hold."""
    start = result.get("start") or {}
    line, col = int(start.get("line") or 1), int(start.get("col") or 1)
    if src is None or line > len(src.starts) or not src.in_code(src.starts[line - 1] + col - 1):
        return finding
    return replace(finding, severity="info", reason=f"{finding.reason}, quoted in code (not an instruction)")
