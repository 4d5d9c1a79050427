"""`rigging import`: each agent's own files become a package that validates, and installing it for
that agent (through a real registry) gives files that mean what the originals meant.

"Meaning" is read here by small per-agent readers written from each agent's documentation
(test-local, independent of rigging's importer and renderers): when a file applies (trigger,
globs), what the model is told about it (description), its command keys, and its body.
"""

from __future__ import annotations

import json
import os
import stat
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.catalog_publish import unique_namespace
from tests.conftest import run_cli


def _split(text: str) -> tuple[list[str], str]:
    """Frontmatter lines and body ('---' fenced, as every agent here writes it)."""
    if not text.startswith("---\n"):
        return [], text
    head, _, body = text[4:].partition("\n---\n")
    return head.split("\n"), body


def _fields(text: str) -> tuple[dict[str, object], str]:
    """`key: value` lines and `  - item` lists; values unquoted (Cursor/Windsurf globs are not YAML)."""
    lines, body = _split(text)
    fields: dict[str, object] = {}
    key = ""
    for line in lines:
        if line.lstrip().startswith("- ") and key:
            items = fields[key] if isinstance(fields[key], list) else []
            fields[key] = [*items, line.strip()[2:].strip().strip('"')]
        elif ":" in line:
            key, _, value = line.partition(":")
            value = value.strip()
            single = len(value) >= 2 and value[0] == value[-1] == '"' and '"' not in value[1:-1]
            fields[key.strip()] = value[1:-1] if single else value
    return fields, body.strip()


def _comma(value: object) -> list[str]:
    if isinstance(value, list):
        return value
    text = str(value or "").strip()
    if text.startswith("[") and text.endswith("]"):
        return [item.strip().strip('"') for item in text[1:-1].split(",") if item.strip()]
    return [item.strip().strip('"') for item in text.split(",") if item.strip()]


def cursor_rule(text: str) -> dict[str, object]:
    f, body = _fields(text)
    always = f.get("alwaysApply") == "true"
    return {
        "always": always,
        "globs": [] if always else _comma(f.get("globs")),
        "description": f.get("description", ""),
        "body": body,
    }


def windsurf_rule(text: str) -> dict[str, object]:
    f, body = _fields(text)
    return {
        "trigger": f.get("trigger"),
        "globs": _comma(f.get("globs")),
        "description": f.get("description", ""),
        "body": body,
    }


def copilot_instructions(text: str) -> dict[str, object]:
    f, body = _fields(text)
    apply_to = _comma(f.get("applyTo"))
    return {
        "applyTo": ["**"] if apply_to in (["**"], ["**/*"]) else apply_to,
        "description": f.get("description", ""),
        "body": body,
    }


def yaml_front(text: str) -> dict[str, object]:
    """Claude commands and Copilot prompt files: YAML frontmatter, compared as data."""
    lines, body = _split(text)
    return {"front": yaml.safe_load("\n".join(lines)) if lines else None, "body": body.strip()}


def paths_rule(text: str) -> dict[str, object]:
    """Claude's .claude/rules and Cline's .clinerules: `paths:` (a list) or none for always."""
    f, body = _fields(text)
    return {"paths": _comma(f.get("paths")), "body": body}


def kiro_steering(text: str) -> dict[str, object]:
    f, body = _fields(text)
    inclusion = f.get("inclusion", "always")
    return {
        "inclusion": inclusion,
        "pattern": _comma(f.get("fileMatchPattern")),
        "description": f.get("description", "") if inclusion == "auto" else "",
        "body": body,
    }


def gemini_command(text: str) -> dict[str, object]:
    data = tomllib.loads(text)
    return {"description": data.get("description", ""), "prompt": data["prompt"].strip()}


def plain(text: str) -> dict[str, object]:
    return {"body": text.strip()}


# One case per source format: originals (path -> text), the target to install for, and, per original,
# the file install writes for it (ID stands for the package's NS.NAME) and the reader of its meaning.
Case = tuple[dict[str, str], str, dict[str, tuple[str, Callable[[str], dict[str, object]]]]]
CASES: dict[str, Case] = {
    "cursor rules": (
        {
            ".cursor/rules/python.mdc": "---\ndescription: Python style\nglobs: src/**/*.py, tests/**\n"
            "alwaysApply: false\n---\n\nUse type hints.\n",
            ".cursor/rules/base.mdc": "---\ndescription: House style\nglobs:\nalwaysApply: true\n---\nBe brief.\n",
            ".cursor/rules/sql.mdc": "---\ndescription: When writing SQL queries\nglobs:\nalwaysApply: false\n---\n"
            "Use CTEs.\n",
            ".cursor/rules/frontend/react.mdc": '---\ndescription:\nglobs: "*.tsx"\n---\nHooks only.\n',
            ".cursor/rules/asked.mdc": "---\ndescription:\nglobs:\nalwaysApply: false\n---\nOnly when @-mentioned.\n",
            ".cursor/commands/ship.md": "Ship it: run the tests, then tag.\n",
        },
        "cursor",
        {
            ".cursor/rules/python.mdc": (".cursor/rules/ID.python.mdc", cursor_rule),
            ".cursor/rules/base.mdc": (".cursor/rules/ID.base.mdc", cursor_rule),
            ".cursor/rules/sql.mdc": (".cursor/rules/ID.sql.mdc", cursor_rule),
            ".cursor/rules/frontend/react.mdc": (".cursor/rules/ID.frontend-react.mdc", cursor_rule),
            ".cursor/rules/asked.mdc": (".cursor/rules/ID.asked.mdc", cursor_rule),
            ".cursor/commands/ship.md": (".cursor/commands/ID.ship.md", plain),
        },
    ),
    "windsurf rules and workflows": (
        {
            ".windsurf/rules/always.md": "---\ntrigger: always_on\n---\n\nBe brief.\n",
            ".windsurf/rules/py.md": '---\ntrigger: glob\ndescription: Python\nglobs: "**/*.py", "**/*.pyi"\n---\n'
            "Type hints.\n",
            ".windsurf/rules/sql.md": "---\ntrigger: model_decision\ndescription: When writing SQL\n---\nUse CTEs.\n",
            ".windsurf/rules/asked.md": "---\ntrigger: manual\n---\nOnly when asked.\n",
            ".windsurf/workflows/release.md": "---\ndescription: Cut a release\n---\n\n1. Tag.\n2. Push.\n",
        },
        "windsurf",
        {
            ".windsurf/rules/always.md": (".windsurf/rules/ID.always.md", windsurf_rule),
            ".windsurf/rules/py.md": (".windsurf/rules/ID.py.md", windsurf_rule),
            ".windsurf/rules/sql.md": (".windsurf/rules/ID.sql.md", windsurf_rule),
            ".windsurf/rules/asked.md": (".windsurf/rules/ID.asked.md", windsurf_rule),
            ".windsurf/workflows/release.md": (".windsurf/workflows/ID.release.md", windsurf_rule),
        },
    ),
    "copilot instructions and prompts": (
        {
            ".github/copilot-instructions.md": "Answer in English.\n",
            ".github/instructions/ts.instructions.md": '---\napplyTo: "**/*.ts,**/*.tsx"\n---\n\nStrict TS.\n',
            ".github/instructions/all.instructions.md": '---\napplyTo: "**"\n---\nEverywhere.\n',
            ".github/instructions/db.instructions.md": '---\ndescription: "Database migrations"\n---\nReversible.\n',
            ".github/prompts/review.prompt.md": '---\ndescription: "Review a PR"\nmode: agent\nmodel: GPT-5\n'
            "tools: ['codebase', 'githubRepo']\nargument-hint: PR number\n---\n\nReview PR ${input:pr}.\n",
        },
        "copilot",
        {
            ".github/copilot-instructions.md": (
                ".github/instructions/ID.copilot-instructions.instructions.md",
                lambda text: copilot_instructions(
                    text if text.startswith("---") else '---\napplyTo: "**"\n---\n' + text
                ),
            ),
            ".github/instructions/ts.instructions.md": (
                ".github/instructions/ID.ts.instructions.md",
                copilot_instructions,
            ),
            ".github/instructions/all.instructions.md": (
                ".github/instructions/ID.all.instructions.md",
                copilot_instructions,
            ),
            ".github/instructions/db.instructions.md": (
                ".github/instructions/ID.db.instructions.md",
                copilot_instructions,
            ),
            ".github/prompts/review.prompt.md": (".github/prompts/ID.review.prompt.md", yaml_front),
        },
    ),
    "claude commands and rules": (
        {
            ".claude/commands/fix.md": "---\nargument-hint: [issue-number]\nallowed-tools: Bash(gh issue view:*), "
            "Bash(git diff:*)\nmodel: claude-sonnet-4-5\ndescription: Fix a GitHub issue\n---\n\nFix issue "
            "$ARGUMENTS.\n",
            ".claude/commands/plain.md": "Explain the code.\n",
            ".claude/commands/private.md": "---\ndescription: Deploy\ndisable-model-invocation: true\n---\nDeploy.\n",
            ".claude/rules/always.md": "Be brief.\n",
            ".claude/rules/api.md": '---\npaths:\n  - "src/api/**/*.ts"\n  - "lib/**"\n---\n\nValidate input.\n',
        },
        "claude",
        {
            ".claude/commands/fix.md": (".claude/commands/ID.fix.md", yaml_front),
            ".claude/commands/plain.md": (".claude/commands/ID.plain.md", yaml_front),
            ".claude/commands/private.md": (".claude/commands/ID.private.md", yaml_front),
            ".claude/rules/always.md": (".claude/rules/ID.always.md", paths_rule),
            ".claude/rules/api.md": (".claude/rules/ID.api.md", paths_rule),
        },
    ),
    "cline rules and workflows": (
        {
            ".clinerules/style.md": "Use tabs.\n",
            ".clinerules/docs.md": '---\npaths:\n  - "docs/**"\n  - "*.md"\n---\n\nDocs style.\n',
            ".clinerules/workflows/deploy.md": "1. Build.\n2. Deploy.\n",
        },
        "cline",
        {
            ".clinerules/style.md": (".clinerules/ID.style.md", paths_rule),
            ".clinerules/docs.md": (".clinerules/ID.docs.md", paths_rule),
            ".clinerules/workflows/deploy.md": (".clinerules/workflows/ID.deploy.md", plain),
        },
    ),
    "kiro steering": (
        {
            ".kiro/steering/product.md": "# Product\n\nA todo app.\n",
            ".kiro/steering/always.md": "---\ninclusion: always\n---\n\nBe brief.\n",
            ".kiro/steering/go.md": '---\ninclusion: fileMatch\nfileMatchPattern: ["**/*.go", "go.mod"]\n---\nGo.\n',
            ".kiro/steering/ts.md": '---\ninclusion: fileMatch\nfileMatchPattern: "components/**/*.tsx"\n---\nTSX.\n',
            ".kiro/steering/sql.md": "---\ninclusion: auto\nname: sql\ndescription: Writing SQL queries\n---\nCTEs.\n",
            ".kiro/steering/asked.md": "---\ninclusion: manual\n---\nWhen asked.\n",
        },
        "kiro",
        {
            ".kiro/steering/product.md": (".kiro/steering/ID.product.md", kiro_steering),
            ".kiro/steering/always.md": (".kiro/steering/ID.always.md", kiro_steering),
            ".kiro/steering/go.md": (".kiro/steering/ID.go.md", kiro_steering),
            ".kiro/steering/ts.md": (".kiro/steering/ID.ts.md", kiro_steering),
            ".kiro/steering/sql.md": (".kiro/steering/ID.sql.md", kiro_steering),
            ".kiro/steering/asked.md": (".kiro/steering/ID.asked.md", kiro_steering),
        },
    ),
    "gemini commands": (
        {".gemini/commands/explain.toml": 'description = "Explain code"\nprompt = """Explain {{args}} simply."""\n'},
        "gemini",
        {".gemini/commands/explain.toml": (".gemini/commands/ID.explain.toml", gemini_command)},
    ),
}

SKILL = "---\nname: {name}\ndescription: {name} things. Use when asked about {name}.\n---\n\n# {name}\n"


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


def _import(repo: Path, out: Path, name: str, *more: str) -> dict:
    done = run_cli("import", repo, "-o", out, "--name", name, "--json", *more)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["validation"]["valid"] and not report["validation"]["problems"], report["validation"]
    assert run_cli("validate", out).returncode == 0
    return report


def _install(tmp_path: Path, registry, env, package: Path, name: str, target: str) -> Path:
    published = run_cli("publish", package, f"{registry.host}/{name}", env=env)
    assert published.returncode == 0, published.stderr
    project = tmp_path / "project"
    project.mkdir()
    (project / "rigging.json").write_text(
        json.dumps({"registry": registry.host, "dependencies": {name: "^0"}, "targets": [target]})
    )
    done = run_cli("install", "-C", project, env=env)
    assert done.returncode == 0, done.stderr
    return project


@pytest.mark.parametrize("case", sorted(CASES))
def test_import_then_install_means_what_the_originals_meant(tmp_path, registry, env, case):
    originals, target, expected = CASES[case]
    repo, name = tmp_path / "repo", f"{unique_namespace('i')}/team"
    _write(repo, originals)
    report = _import(repo, tmp_path / "pkg", name)
    assert sorted(f["source"] for f in report["files"]) == sorted(originals)
    project = _install(tmp_path, registry, env, tmp_path / "pkg", name, target)
    ident = name.replace("/", ".")
    for original, (installed, meaning) in expected.items():
        written = project / installed.replace("ID", ident)
        assert written.is_file(), f"{original}: nothing at {written.relative_to(project)}"
        assert meaning(written.read_text()) == meaning(originals[original]), original


@pytest.mark.parametrize("folder, target", [(".claude/skills", "claude"), (".agents/skills", "agents")])
def test_skills_import_and_install_byte_for_byte(tmp_path, registry, env, folder, target):
    repo, name = tmp_path / "repo", f"{unique_namespace('k')}/skills"
    _write(
        repo,
        {
            f"{folder}/pdf/SKILL.md": SKILL.format(name="pdf") + "\nRun scripts/extract.sh FILE.\n",
            f"{folder}/pdf/scripts/extract.sh": '#!/bin/sh\npdftotext "$1" -\n',
            f"{folder}/pdf/references/FORMS.md": "# Forms\n",
            f"{folder}/review/SKILL.md": SKILL.format(name="review"),
        },
    )
    (repo / folder / "pdf/scripts/extract.sh").chmod(0o755)
    _import(repo, tmp_path / "pkg", name)
    project = _install(tmp_path, registry, env, tmp_path / "pkg", name, target)
    for skill in ("pdf", "review"):
        source, installed = repo / folder / skill, project / folder / skill
        listing = sorted(p.relative_to(source).as_posix() for p in source.rglob("*") if p.is_file())
        assert sorted(p.relative_to(installed).as_posix() for p in installed.rglob("*") if p.is_file()) == listing
        for rel in listing:
            assert (installed / rel).read_bytes() == (source / rel).read_bytes(), rel
            mode = stat.S_IMODE((source / rel).stat().st_mode) & 0o111
            assert stat.S_IMODE((installed / rel).stat().st_mode) & 0o111 == mode, rel


def test_the_same_rule_for_two_agents_is_imported_once_and_different_ones_both(tmp_path):
    repo = tmp_path / "repo"
    _write(
        repo,
        {
            ".cursor/rules/py.mdc": "---\ndescription: Python\nglobs: **/*.py\nalwaysApply: false\n---\nHints.\n",
            ".windsurf/rules/py.md": "---\ntrigger: glob\ndescription: Python\nglobs: **/*.py\n---\n\nHints.\n",
            ".cursor/rules/sql.mdc": "---\ndescription: SQL\nglobs:\nalwaysApply: false\n---\nCTEs.\n",
            ".windsurf/rules/sql.md": "---\ntrigger: model_decision\ndescription: SQL\n---\nNo CTEs.\n",
        },
    )
    report = _import(repo, tmp_path / "pkg", "acme/team")
    assert sorted(f["path"] for f in report["files"]) == ["rules/py.md", "rules/sql-cursor.md", "rules/sql.md"]
    assert any("same as" in note for note in report["notes"]) and any("sql-cursor" in n for n in report["notes"])
    assert "No CTEs." in (tmp_path / "pkg/rules/sql.md").read_text()


def test_files_a_rigging_install_wrote_are_not_imported_again(tmp_path):
    repo = tmp_path / "repo"
    _write(
        repo,
        {
            ".cursor/rules/own.mdc": "---\ndescription: Ours\nglobs:\nalwaysApply: true\n---\nOurs.\n",
            ".cursor/rules/acme.dep.x.mdc": "---\ndescription: Theirs\nglobs:\nalwaysApply: true\n---\nTheirs.\n",
            ".agents/skills/dep-skill/SKILL.md": SKILL.format(name="dep-skill"),
        },
    )
    files = {
        ".cursor/rules/acme.dep.x.mdc": "sha256:" + "0" * 64,
        ".agents/skills/dep-skill/SKILL.md": "sha256:" + "1" * 64,
    }
    (repo / "rigging.lock").write_text(json.dumps({"lockfileVersion": 1, "packages": {"acme/dep": {"files": files}}}))
    report = _import(repo, tmp_path / "pkg", "acme/team")
    assert [f["path"] for f in report["files"]] == ["rules/own.md"]


def test_what_a_package_cannot_hold_is_left_out_with_a_note(tmp_path):
    repo = tmp_path / "repo"
    _write(repo, {".claude/skills/pdf/SKILL.md": SKILL.format(name="pdf"), "outside.md": "secret\n"})
    (repo / ".claude/skills/pdf/logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR")
    os.symlink(repo / "outside.md", repo / ".claude/skills/pdf/link.md")
    report = _import(repo, tmp_path / "pkg", "acme/team")
    assert sorted(p.name for p in (tmp_path / "pkg/skills/pdf").iterdir()) == ["SKILL.md"]
    notes = "\n".join(report["notes"])
    assert "logo.png: left out: binary" in notes and "link.md: left out: not a regular file" in notes


def test_from_limits_the_agents_read(tmp_path):
    repo = tmp_path / "repo"
    _write(
        repo,
        {
            ".cursor/rules/a.mdc": "---\nalwaysApply: true\n---\nA.\n",
            ".kiro/steering/b.md": "B.\n",
        },
    )
    report = _import(repo, tmp_path / "pkg", "acme/team", "--from", "kiro")
    assert [f["path"] for f in report["files"]] == ["rules/b.md"]


def test_bad_input_is_one_line_and_writes_nothing(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    nothing = run_cli("import", empty, "-o", tmp_path / "pkg", "--name", "acme/team")
    assert nothing.returncode == 1 and "no agent rules, workflows or skills to import" in nothing.stderr
    assert not (tmp_path / "pkg").exists() and "Traceback" not in nothing.stderr
    _write(tmp_path / "repo", {".kiro/steering/b.md": "B.\n", "pkg/keep.txt": "mine\n"})
    taken = run_cli("import", tmp_path / "repo", "-o", tmp_path / "repo/pkg", "--name", "acme/team")
    assert taken.returncode == 1 and "already exists and is not empty" in taken.stderr
    assert (tmp_path / "repo/pkg/keep.txt").read_text() == "mine\n"
    for args, message in (
        (["--name", "Acme/Team"], "--name 'Acme/Team'"),
        (["--name", "acme/team", "--version", "1.0"], "--version '1.0' is not strict SemVer"),
        (["--name", "acme/team", "--from", "vim"], "--from vim: not an agent"),
    ):
        refused = run_cli("import", tmp_path / "repo", "-o", tmp_path / "new", *args)
        assert refused.returncode == 2 and message in refused.stderr, refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "new").exists()
