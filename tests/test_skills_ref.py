"""`rigging validate` against the Agent Skills reference validator (PyPI `skills-ref`).

AGREEMENT holds good and bad skill folders on which the two must give the same verdict (valid or
invalid). DIFFERENCES holds the cases where rigging deliberately decides otherwise (SPEC.md,
"Skills"); each is checked on both sides, so a new skills-ref that changes its mind fails here and
the decision gets revisited rather than silently drifting.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from rigging.validation import validate_package

from tests.conftest import run_cli

skills_ref = pytest.importorskip("skills_ref", reason="skills-ref is a dev dependency: ./dev setup installs it")

DESCRIBED = "description: Read PDF files. Use when the user asks about a PDF."


def front(*lines: str, body: str = "\n# Skill\n\nDo the thing.\n") -> str:
    return "---\n" + "\n".join(lines) + "\n---\n" + body


# case: (folder name, SKILL.md text or None for none, other files, valid?)
Case = tuple[str, str | None, dict[str, str], bool]
AGREEMENT: dict[str, Case] = {
    # valid
    "minimal": ("pdf-tools", front("name: pdf-tools", DESCRIBED), {}, True),
    "every specification field": (
        "pdf-tools",
        front(
            "name: pdf-tools",
            DESCRIBED,
            "license: Apache-2.0",
            "compatibility: Requires poppler-utils and network access",
            "metadata:",
            "  author: acme",
            "  version: '1.0'",
            "allowed-tools: Bash(pdftotext:*) Read",
        ),
        {},
        True,
    ),
    "folded description": (
        "pdf-tools",
        front("name: pdf-tools", "description: >", "  Read PDFs.", "  Often."),
        {},
        True,
    ),
    "literal description": (
        "pdf-tools",
        front("name: pdf-tools", "description: |", "  Line one.", "  Line two."),
        {},
        True,
    ),
    "quoted values": ("pdf-tools", front("name: 'pdf-tools'", 'description: "Read: PDFs, # not a comment"'), {}, True),
    "comments in frontmatter": ("pdf-tools", front("# the skill", "name: pdf-tools  # its name", DESCRIBED), {}, True),
    "digits and hyphens": ("v2-pdf-3", front("name: v2-pdf-3", DESCRIBED), {}, True),
    "name of 64 characters": ("a" * 64, front("name: " + "a" * 64, DESCRIBED), {}, True),
    "description of 1024 characters": ("pdf-tools", front("name: pdf-tools", "description: " + "d" * 1024), {}, True),
    "compatibility of 500 characters": (
        "pdf-tools",
        front("name: pdf-tools", DESCRIBED, "compatibility: " + "c" * 500),
        {},
        True,
    ),
    "numbers and booleans are text": ("pdf-tools", front("name: pdf-tools", "description: 2024"), {}, True),
    "metadata values that look like numbers": (
        "pdf-tools",
        front("name: pdf-tools", DESCRIBED, "metadata:", "  version: 1.0", "  stable: true"),
        {},
        True,
    ),
    "empty metadata": ("pdf-tools", front("name: pdf-tools", DESCRIBED, "metadata:"), {}, True),
    "allowed-tools as a block list": (
        "pdf-tools",
        front("name: pdf-tools", DESCRIBED, "allowed-tools:", "  - Read", "  - Grep"),
        {},
        True,
    ),
    "CRLF line ends": ("pdf-tools", front("name: pdf-tools", DESCRIBED).replace("\n", "\r\n"), {}, True),
    "scripts, references and assets": (
        "pdf-tools",
        front("name: pdf-tools", DESCRIBED),
        {
            "scripts/extract.py": "import sys\nprint(sys.argv)\n",
            "references/REFERENCE.md": "# Reference\n",
            "assets/template.html": "<p>{{ text }}</p>\n",
        },
        True,
    ),
    # invalid
    "no SKILL.md": ("pdf-tools", None, {"references/guide.md": "# Guide\n"}, False),
    "no frontmatter": ("pdf-tools", "# PDF tools\n", {}, False),
    "frontmatter never closed": ("pdf-tools", "---\nname: pdf-tools\n" + DESCRIBED + "\n", {}, False),
    "empty frontmatter": ("pdf-tools", "---\n---\n# PDF\n", {}, False),
    "frontmatter a list": ("pdf-tools", front("- name", "- description"), {}, False),
    "frontmatter not YAML": ("pdf-tools", front("name: pdf-tools", 'description: "never closed'), {}, False),
    "a key twice": ("pdf-tools", front("name: pdf-tools", DESCRIBED, "name: pdf-tools"), {}, False),
    "an anchor and alias": ("pdf-tools", front("name: &n pdf-tools", DESCRIBED, "license: *n"), {}, False),
    "an explicit tag": ("pdf-tools", front("name: pdf-tools", "description: !!str Read PDFs."), {}, False),
    "no name": ("pdf-tools", front(DESCRIBED), {}, False),
    "empty name": ("pdf-tools", front("name: ''", DESCRIBED), {}, False),
    "name in capitals": ("PDF-Tools", front("name: PDF-Tools", DESCRIBED), {}, False),
    "name starting with -": ("-pdf", front("name: -pdf", DESCRIBED), {}, False),
    "name ending with -": ("pdf-", front("name: pdf-", DESCRIBED), {}, False),
    "name with --": ("pdf--tools", front("name: pdf--tools", DESCRIBED), {}, False),
    "name with _": ("pdf_tools", front("name: pdf_tools", DESCRIBED), {}, False),
    "name with a dot": ("pdf.tools", front("name: pdf.tools", DESCRIBED), {}, False),
    "name of 65 characters": ("a" * 65, front("name: " + "a" * 65, DESCRIBED), {}, False),
    "name not the folder's": ("pdf-tools", front("name: pdf-reader", DESCRIBED), {}, False),
    "name a map": ("pdf-tools", front("name:", "  first: pdf", DESCRIBED), {}, False),
    "no description": ("pdf-tools", front("name: pdf-tools"), {}, False),
    "empty description": ("pdf-tools", front("name: pdf-tools", "description:"), {}, False),
    "blank description": ("pdf-tools", front("name: pdf-tools", "description: '   '"), {}, False),
    "description of 1025 characters": ("pdf-tools", front("name: pdf-tools", "description: " + "d" * 1025), {}, False),
    "description a list": ("pdf-tools", front("name: pdf-tools", "description:", "  - Read PDFs."), {}, False),
    "compatibility of 501 characters": (
        "pdf-tools",
        front("name: pdf-tools", DESCRIBED, "compatibility: " + "c" * 501),
        {},
        False,
    ),
    "compatibility a list": (
        "pdf-tools",
        front("name: pdf-tools", DESCRIBED, "compatibility:", "  - linux"),
        {},
        False,
    ),
}


def _package(tmp_path: Path, folder: str, text: str | None, others: dict[str, str]) -> Path:
    """A package holding only this skill, so any error rigging reports is about the skill."""
    root = tmp_path / "pkg"
    skill = root / "skills" / folder
    skill.mkdir(parents=True)
    (root / "rigging.json").write_text(json.dumps({"name": "acme/skills", "version": "1.0.0"}))
    if text is not None:
        (skill / "SKILL.md").write_bytes(text.encode())
    for rel, content in others.items():
        (skill / rel).parent.mkdir(parents=True, exist_ok=True)
        (skill / rel).write_text(content)
    return root


def _verdicts(root: Path, folder: str) -> tuple[bool, list[str], bool, list[str]]:
    """(skills-ref says valid, its errors, rigging says valid, rigging's problem codes)."""
    errors = skills_ref.validate(root / "skills" / folder)
    report = validate_package(root)
    return not errors, errors, report.valid, [f"{p.code} {p.message}" for p in report.problems]


@pytest.mark.parametrize("case", sorted(AGREEMENT))
def test_rigging_and_the_reference_validator_agree(tmp_path, case):
    folder, text, others, valid = AGREEMENT[case]
    root = _package(tmp_path, folder, text, others)
    reference, reference_errors, ours, problems = _verdicts(root, folder)
    assert reference == valid, f"skills-ref changed its verdict on {case!r}: {reference_errors}"
    assert ours == valid, f"rigging: {problems}"
    if valid:
        assert problems == [], "a skill both validators accept raises nothing"
    else:
        assert any(p.split()[0].startswith("RIG5") for p in problems), problems


def test_the_command_line_tools_agree_too(tmp_path):
    """The same, as users run them: `agentskills validate DIR` and `rigging validate`."""
    agentskills = shutil.which("agentskills", path=str(Path(sys.executable).parent))
    assert agentskills is not None, "skills-ref installs the agentskills command"
    for case in ("every specification field", "name not the folder's", "no SKILL.md", "blank description"):
        folder, text, others, valid = AGREEMENT[case]
        root = _package(tmp_path / case.replace(" ", "-").replace("'", ""), folder, text, others)
        theirs = subprocess.run([agentskills, "validate", str(root / "skills" / folder)], capture_output=True)
        ours = run_cli("validate", root)
        assert (theirs.returncode == 0, ours.returncode == 0) == (valid, valid), (case, theirs.stderr, ours.stdout)


# case: (folder, SKILL.md or None, other files, skills-ref valid?, rigging valid?, the one code rigging
# reports or None); why rigging decides otherwise is the comment above each case.
DIFFERENCES: dict[str, tuple[str, str | None, dict[str, str], bool, bool, str | None]] = {
    # Agent-documented keys are how an author configures a skill for Claude Code; they are kept
    # verbatim and raise nothing. skills-ref knows only the specification's six keys.
    "Claude Code keys": (
        "deploy",
        front(
            "name: deploy",
            "description: Deploy the service. Use only when the user asks to deploy.",
            "disable-model-invocation: true",
            "user-invocable: true",
            "argument-hint: '[environment]'",
            "allowed-tools: Bash(make deploy:*)",
            "model: sonnet",
            "effort: high",
            "context: fork",
            "agent: general-purpose",
            "paths: src/**",
            "shell: bash",
            "when_to_use: After a release is tagged.",
            "hooks:",
            "  PostToolUse:",
            "    - matcher: Bash",
            "      hooks:",
            "        - type: command",
            "          command: ./scripts/notify.sh",
        ),
        {},
        False,
        True,
        None,
    ),
    # Unknown keys: agents ignore them and may document new ones before rigging knows them, so a
    # warning (with the hint to move the value under metadata:), not an error.
    "unknown key": ("pdf-tools", front("name: pdf-tools", DESCRIBED, "version: 1.2.0"), {}, False, True, "RIG511"),
    # Flow style is YAML, agents parse it, and Claude documents `argument-hint: [issue]`;
    # skills-ref's strictyaml refuses it.
    "YAML flow style": (
        "pdf-tools",
        front("name: pdf-tools", DESCRIBED, "metadata: {author: acme}"),
        {},
        False,
        True,
        None,
    ),
    # A tab after the colon is YAML too; strictyaml refuses it.
    "tab after a colon": (
        "pdf-tools",
        front("name: pdf-tools", "description:\tRead PDF files."),
        {},
        False,
        True,
        None,
    ),
    # Names are ASCII: they are folder names on every user's disk and what users type after '/'.
    "non-ASCII name": ("café", front("name: café", DESCRIBED), {}, True, False, "RIG503"),
    # SKILL.md is spelt in capitals (the specification's spelling; Claude Code reads only that);
    # skills-ref also takes skill.md.
    "skill.md in lowercase": (
        "pdf-tools",
        None,
        {"skill.md": front("name: pdf-tools", DESCRIBED)},
        True,
        False,
        "RIG501",
    ),
    # metadata is a string-to-string map in the specification; skills-ref turns anything into a string.
    "nested metadata": (
        "pdf-tools",
        front("name: pdf-tools", DESCRIBED, "metadata:", "  author:", "    name: Ada"),
        {},
        True,
        False,
        "RIG507",
    ),
    "metadata a string": ("pdf-tools", front("name: pdf-tools", DESCRIBED, "metadata: v1"), {}, True, False, "RIG507"),
}


@pytest.mark.parametrize("case", sorted(DIFFERENCES))
def test_deliberate_differences_are_what_spec_md_says(tmp_path, case):
    folder, text, others, reference_valid, rigging_valid, code = DIFFERENCES[case]
    root = _package(tmp_path, folder, text, others)
    reference, reference_errors, ours, problems = _verdicts(root, folder)
    assert reference == reference_valid, f"skills-ref changed its verdict on {case!r}: {reference_errors}"
    assert ours == rigging_valid, problems
    assert [p.split()[0] for p in problems] == ([code] if code else []), problems


def test_claude_code_keys_are_packed_verbatim(tmp_path):
    folder, text, *_ = DIFFERENCES["Claude Code keys"]
    assert text is not None
    root = _package(tmp_path, folder, text, {})
    packed = run_cli("pack", root, "-o", tmp_path / "layout", "--json")
    assert packed.returncode == 0, packed.stderr
    pulled = run_cli("pull", f"oci:{tmp_path / 'layout'}:1.0.0", "-o", tmp_path / "out")
    assert pulled.returncode == 0, pulled.stderr
    assert (tmp_path / "out/skills/deploy/SKILL.md").read_bytes() == text.encode()


def test_a_scaffolded_skill_passes_the_reference_validator(tmp_path):
    pkg = tmp_path / "kit"
    assert run_cli("new", pkg, "--name", "acme/kit", "--skill", "pdf-tools").returncode == 0
    assert skills_ref.validate(pkg / "skills" / "pdf-tools") == []
    assert validate_package(pkg).problems == []
