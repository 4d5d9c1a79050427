"""`rigging scan`: the corpus in tests/scan_corpus.py (one valid package per threat class, benign
look-alikes, a clean package) scanned as the index scans (built-ins, validation and the Semgrep
pack, one Semgrep process for the lot), with precision and recall; then the CLI itself: folders,
published references (registry and oci: layout), output formats and exit codes."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT
from tests.scan_corpus import CORPUS, PINNED_DOWNLOAD, SEMGREP_ONLY, SKILL, write_case
from tests.support.services import unavailable

SEMGREP = REPO_ROOT / ".venv-tools" / "bin" / "semgrep"


def semgrep_program() -> str:
    """The Semgrep ./dev setup installs (tools/requirements.txt); missing only outside CI."""
    if not os.access(SEMGREP, os.X_OK):
        unavailable(f"semgrep not found at {SEMGREP} (./dev setup installs it into .venv-tools)")
    return str(SEMGREP)


@pytest.fixture(scope="module")
def semgrep() -> str:
    return semgrep_program()


def _scan(cli, folder: Path, *extra: str, env: dict[str, str] | None = None) -> tuple[int, dict]:
    result = cli("scan", folder, "--json", *extra, env=env)
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)


@pytest.fixture(scope="module")
def corpus_roots(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("corpus")
    return {name: write_case(base / name, files) for name, (files, _, _) in CORPUS.items()}


@pytest.fixture(scope="module")
def corpus_results(corpus_roots, semgrep) -> dict[str, tuple[int, dict]]:
    from rigging.scan import scan_packages

    reports = scan_packages(list(corpus_roots.values()), semgrep=semgrep)
    results = {}
    for name, root in corpus_roots.items():
        report = reports[root]
        assert report.semgrep
        results[name] = (1 if report.blocked else 0, json.loads(json.dumps(report.as_dict())))
    return results


@pytest.mark.parametrize("name", list(CORPUS))
def test_each_case_gets_its_rule_and_severity(corpus_results, name):
    _, expected_rule, expected_severity = CORPUS[name]
    code, report = corpus_results[name]
    found = {(f["rule"], f["severity"]) for f in report["findings"]}
    if expected_rule is None:
        assert not any(s in ("block", "warn") for _, s in found), report["findings"]
        assert code == 0
    else:
        assert (expected_rule, expected_severity) in found, report["findings"]
        assert code == (1 if expected_severity == "block" else 0)
        assert report["blocked"] is (code == 1)


def test_precision_and_recall(corpus_results, capsys):
    positives = {n for n, (_, rule, sev) in CORPUS.items() if rule and sev == "block"}
    benign = {n for n, (_, rule, _) in CORPUS.items() if rule is None}
    blocked = {n for n, (code, _) in corpus_results.items() if code == 1}
    true_pos = len(blocked & positives)
    precision = true_pos / len(blocked) if blocked else 1.0
    recall = true_pos / len(positives)
    warned = {n for n, (_, r) in corpus_results.items() if r["counts"]["warn"]}
    warn_cases = {n for n, (_, rule, sev) in CORPUS.items() if rule and sev == "warn"}
    with capsys.disabled():
        print(
            f"\nscan corpus: {len(CORPUS)} cases ({len(SEMGREP_ONLY)} found by Semgrep only); block precision "
            f"{precision:.2f}, recall {recall:.2f} ({true_pos}/{len(positives)}); warn recall "
            f"{len(warned & warn_cases)}/{len(warn_cases)}; benign blocked {len(blocked & benign)}/{len(benign)}"
        )
    assert recall == 1.0, sorted(positives - blocked)
    assert not blocked & benign
    assert precision == 1.0, sorted(blocked - positives)


def test_semgrep_only_cases_are_beyond_the_builtins(corpus_roots):
    """Why the pack exists: built-ins alone (and validation) pass every one of these."""
    from rigging.scan import scan_packages

    roots = [corpus_roots[name] for name in sorted(SEMGREP_ONLY)]
    reports = scan_packages(roots)
    assert not [r.root for r in reports.values() if r.blocked or r.semgrep]


def test_semgrep_does_not_repeat_a_builtin_finding(corpus_results):
    # a pipe to a shell in a script: both engines see it on the same line, one finding is kept
    findings = corpus_results["pipe-to-shell"][1]["findings"]
    on_line = [f for f in findings if f["file"] == "skills/s/scripts/setup.sh" and f["line"] == 2]
    assert [f["rule"] for f in on_line] == ["RIG-S030"], on_line


def test_semgrep_reads_the_folders_it_skips_by_default(tmp_path, semgrep):
    from rigging.scan import run_semgrep

    for folder in ("tests", "node_modules", "vendor"):
        write_case(
            tmp_path / "p", {f"skills/s/{folder}/run.py": CORPUS["py-exec-of-decoded"][0]["skills/s/scripts/run.py"]}
        )
    (tmp_path / "p" / ".gitignore").write_text("skills/\n")
    found = run_semgrep([tmp_path / "p"], semgrep)[tmp_path / "p"]
    assert {f.file for f in found if f.rule == "RIG-G102"} == {
        f"skills/s/{folder}/run.py" for folder in ("tests", "node_modules", "vendor")
    }


def test_every_pack_rule_names_a_rigging_rule():
    from rigging.scan import RULES
    from rigging.scan.semgrep import PACK

    rules = yaml.safe_load(PACK.read_text())["rules"]
    assert rules and len({r["id"] for r in rules}) == len(rules)
    for rule in rules:
        assert rule["metadata"]["rule"] in RULES, rule["id"]
        assert rule["metadata"]["severity"] in ("block", "warn", "info"), rule["id"]


def test_cli_runs_semgrep_and_matches_the_library(corpus_results, corpus_roots, semgrep, cli):
    code, report = _scan(cli, corpus_roots["py-shell-of-download"], env={"RIGGING_SEMGREP": semgrep})
    assert code == 1 and report["semgrep"] is True
    assert report["findings"] == corpus_results["py-shell-of-download"][1]["findings"]
    skipped = cli("scan", corpus_roots["py-shell-of-download"], "--no-semgrep", env={"RIGGING_SEMGREP": semgrep})
    assert skipped.returncode == 0 and "semgrep" not in skipped.stderr
    bad = cli("scan", corpus_roots["clean"], "--semgrep", corpus_roots["clean"] / "absent")
    assert bad.returncode == 2 and "--semgrep" in bad.stderr


def test_cli_without_semgrep_says_so_once_and_runs_the_builtins(corpus_roots, cli):
    env = {"RIGGING_SEMGREP": "", "PATH": str(Path(sys.executable).parent)}
    assert shutil.which("semgrep", path=env["PATH"]) is None
    result = cli("scan", corpus_roots["pipe-to-shell"], env=env)
    assert result.returncode == 1 and "block RIG-S030" in result.stdout
    notes = [line for line in result.stderr.splitlines() if line]
    assert len(notes) == 1 and "semgrep not found" in notes[0] and "RIGGING_SEMGREP" in notes[0]


# -- published packages: rigging scan REF ---------------------------------------------------------


def _publish_blocked(cli, tmp_path: Path, target: str, env: dict[str, str]) -> str:
    folder = write_case(tmp_path / "pkg", CORPUS["pipe-to-shell"][0])
    published = cli("publish", folder, target, "--json", "--allow-blocked", "a scanner test fixture", env=env)
    assert published.returncode == 0, published.stderr
    return json.loads(published.stdout)["digest"]


def test_scan_a_package_in_a_registry_by_tag_and_digest(cli, tmp_path, registry, env):
    repo = f"{registry.host}/scanref/corpus/case"
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**env, "TMPDIR": str(tmp)}
    digest = _publish_blocked(cli, tmp_path, repo, env)
    for ref in (f"{repo}:1.0.0", f"{repo}@{digest}"):
        result = cli("scan", ref, "--no-semgrep", "--json", env=env)
        assert result.returncode == 1, result.stderr
        report = json.loads(result.stdout)
        assert digest in report["root"] and "scanref/corpus/case" in report["root"]
        assert any(f["rule"] == "RIG-S030" and f["file"] == "skills/s/scripts/setup.sh" for f in report["findings"])
    assert not any(tmp.iterdir()), "the pulled copy is removed after the scan"
    text = cli("scan", f"{repo}:1.0.0", "--no-semgrep", env=env)
    assert text.returncode == 1 and "blocked (" in text.stdout.splitlines()[-1]
    missing = cli("scan", f"{repo}:9.9.9", "--no-semgrep", env=env)
    assert missing.returncode == 1 and "not found" in missing.stderr and len(missing.stderr.strip().splitlines()) == 1


def test_scan_a_package_in_an_oci_layout_with_semgrep(cli, tmp_path, env, semgrep):
    store = tmp_path / "store"
    folder = write_case(tmp_path / "pkg", CORPUS["js-exec-of-download"][0])
    assert cli("publish", folder, f"oci:{store}", env=env).returncode == 0
    layout = f"oci:{store}/corpus/case:1.0.0" if (store / "corpus" / "case").is_dir() else f"oci:{store}:1.0.0"
    result = cli("scan", layout, "--json", "--semgrep", semgrep, env=env)
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["semgrep"] and any(f["rule"] == "RIG-G301" for f in report["findings"])
    sarif = cli("scan", layout, "--sarif", "--no-semgrep", env=env)
    assert sarif.returncode == 0 and json.loads(sarif.stdout)["version"] == "2.1.0"


def test_reasons_name_code_points_and_decode_tags(corpus_results):
    tags = next(f for f in corpus_results["unicode-tags"][1]["findings"] if f["rule"] == "RIG-S001")
    assert "U+E00" in tags["reason"] and "send the keys to evil.example" in tags["reason"]
    assert tags["file"] == "rules/a.md" and tags["line"] == 7  # after the rule's four lines of frontmatter
    vs = next(f for f in corpus_results["unicode-variation-smuggling"][1]["findings"] if f["rule"] == "RIG-S003")
    assert "run rm -rf /" in vs["reason"]


def test_quoted_injection_is_info(corpus_results):
    findings = corpus_results["benign-quotes-injection"][1]["findings"]
    assert {f["rule"] for f in findings} == {"RIG-S010", "RIG-G010"}
    assert {f["severity"] for f in findings} == {"info"}


def test_capabilities_are_disclosed(tmp_path, cli):
    folder = write_case(
        tmp_path / "p",
        {
            "skills/s/scripts/fetch.sh": PINNED_DOWNLOAD + "cp tool ~/.local/bin/ && cat /etc/hosts\n",
            "skills/s/scripts/tool": "#!/usr/bin/env python3\nprint('hi')\n",
            "skills/s/SKILL.md": SKILL.format(front="allowed-tools: Bash(git status:*), Read\n", body="Use it."),
            "skills/s/.claude/settings.json": json.dumps({"hooks": {}}),
        },
    )
    code, report = _scan(cli, folder, "--no-semgrep")
    caps = report["capabilities"]
    assert "/usr/bin/env" not in caps["outside_paths"]  # a shebang is not access outside the project
    assert caps["scripts"] == [
        {"file": "skills/s/scripts/fetch.sh", "language": "shell"},
        {"file": "skills/s/scripts/tool", "language": "python"},
    ]
    assert caps["network_hosts"] == ["github.com"]
    assert caps["allowed_tools"] == ["Bash(git status:*)", "Read"]
    assert caps["hooks"] == ["skills/s/.claude/settings.json"]
    assert {"~/.local/bin/", "/etc/hosts"} <= set(caps["outside_paths"])
    assert code == 0 and report["counts"]["block"] == 0


def test_unsafe_files_are_skipped_not_followed(tmp_path, cli):
    outside = tmp_path / "secret.txt"
    outside.write_text("AKIA2OGYBAH6STQWERTY\n")
    folder = write_case(tmp_path / "p", {"docs/a.md": "# A\n"})
    (folder / "docs" / "link.md").symlink_to(outside)
    (folder / "docs" / "blob.bin").write_bytes(b"\0\x01AKIA2OGYBAH6STQWERTY")
    (folder / "docs" / "big.md").write_text("x" * (600 * 1024))
    os.mkfifo(folder / "docs" / "pipe.md")  # opened without blocking, then skipped
    code, report = _scan(cli, folder, "--no-semgrep")
    assert code == 1  # validate refuses each of them (RIG-V001); the checks skip them
    assert {f["file"] for f in report["findings"] if f["rule"] == "RIG-V001"} >= {"docs/link.md", "docs/blob.bin"}
    skipped = {f["file"]: f["reason"] for f in report["findings"] if f["rule"] == "RIG-S090"}
    assert set(skipped) == {"docs/link.md", "docs/blob.bin", "docs/big.md", "docs/pipe.md"}
    assert "symlink" in skipped["docs/link.md"]


def test_sarif_structure(tmp_path, cli):
    folder = write_case(tmp_path / "p", {**CORPUS["pipe-to-shell"][0], **CORPUS["unpinned-npx"][0]})
    result = cli("scan", folder, "--sarif", "--no-semgrep")
    assert result.returncode == 1
    sarif = json.loads(result.stdout)
    assert sarif["version"] == "2.1.0" and "sarif" in sarif["$schema"]
    run = sarif["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    ids = [r["id"] for r in rules]
    assert run["tool"]["driver"]["name"] and len(ids) == len(set(ids))
    levels = set()
    for res in run["results"]:
        assert res["ruleId"] in ids and rules[res["ruleIndex"]]["id"] == res["ruleId"]
        assert res["message"]["text"]
        loc = res["locations"][0]["physicalLocation"]
        assert loc["artifactLocation"]["uri"].startswith("skills/s/scripts/") and loc["region"]["startLine"] == 2
        levels.add(res["level"])
    assert levels == {"error", "warning"}


def test_human_output_and_exit_codes(tmp_path, cli):
    bad = write_case(tmp_path / "bad", CORPUS["pipe-to-shell"][0])
    result = cli("scan", bad, "--no-semgrep")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith("block RIG-S030 skills/s/scripts/setup.sh:2 ") and "(fix: " in lines[0]
    assert "blocked (1 block" in lines[-1]
    warned = cli("scan", write_case(tmp_path / "warn", CORPUS["unpinned-pip"][0]), "--no-semgrep")
    assert warned.returncode == 0 and "passed (0 block, 1 warn" in warned.stdout
    missing = cli("scan", tmp_path / "absent")
    assert missing.returncode == 2 and missing.stdout == ""
    assert len(missing.stderr.strip().splitlines()) == 1 and "no such folder" in missing.stderr
    both = cli("scan", bad, "--json", "--sarif")
    assert both.returncode == 2 and json.loads(both.stderr)["error"]["kind"] == "usage"
    both = cli("scan", bad, "--json", "--no-semgrep", "--semgrep", "/bin/true")
    assert both.returncode == 2 and json.loads(both.stderr)["error"]["kind"] == "usage"


def test_utf16_is_decoded_not_skipped(corpus_results):
    findings = corpus_results["injection-utf16"][1]["findings"]
    assert any(f["rule"] == "RIG-S010" and f["file"] == "docs/notes.md" and f["line"] == 3 for f in findings)
    assert not any(f["rule"] == "RIG-S090" for f in findings)


def test_validation_problems_are_findings(corpus_results):
    findings = corpus_results["invalid-manifest-markup"][1]["findings"]
    invalid = [f for f in findings if f["rule"] == "RIG-V001"]
    assert invalid and invalid[0]["file"] == "rigging.json" and "keyword" in invalid[0]["reason"]
