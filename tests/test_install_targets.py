"""What install writes for each agent, checked against that agent's documented format (parsed
with a YAML or TOML parser, as the agents parse it), from packages published to the real registry.

The formats, from each agent's documentation (see README's table):
- windsurf: `.windsurf/rules/ID.md` `trigger`/`description`/`globs` (one comma-separated string)
- cursor: `.cursor/rules/ID.mdc` `description`, `globs` (comma-separated string), `alwaysApply` (bool)
- copilot: `.github/instructions/ID.instructions.md` `applyTo` (one comma-separated string)
- claude: `.claude/rules/ID.md`, `paths:` a YAML list; other rules as skills; commands keep frontmatter
- agents/gemini/junie: a managed section with always-on rules, the rest linked under `.agents/`
- cline: `.clinerules/ID.md`, `paths:` a YAML list (a string would be ignored)
- kiro: `.kiro/steering/ID.md`, `inclusion` + `fileMatchPattern` first in the file
"""

from __future__ import annotations

import json
import tomllib

import pytest
import yaml

from tests.catalog_publish import RULE, unique_namespace, write_package
from tests.test_install import snapshot

ALL = ["windsurf", "cursor", "copilot", "claude", "agents", "gemini", "cline", "kiro", "junie"]
SPELLINGS = {
    "plain": "globs: **/*.py, **/*.pyi\n",
    "quoted": 'globs: "**/*.py", "**/*.pyi"\n',
    "flow": 'globs: ["**/*.py", "**/*.pyi"]\n',
}
GLOBS = ["**/*.py", "**/*.pyi"]
WORKFLOW = (
    "---\ndescription: Cut a release\nargument-hint: [version]\nallowed-tools: Bash(git tag:*)\nmodel: sonnet\n"
    "---\n\nTag $ARGUMENTS and push.\n"
)


def _lenient(text: str) -> tuple[dict, str]:
    """Frontmatter as Windsurf and Cursor read it: `key: value` lines, where `globs: **/*.py` is
    a string (to a YAML parser it is an alias, an error), and the body."""
    from rigging.frontmatter import parse_frontmatter

    front = parse_frontmatter(text)
    return front.fields, front.body


def _front(text: str) -> tuple[dict, str]:
    """YAML frontmatter (parsed as YAML) and the body."""
    if not text.startswith("---\n"):
        return {}, text
    head, body = text[4:].split("\n---\n", 1)
    return yaml.safe_load(head) or {}, body


def _publish(tmp_path, host, name, rules, workflows=None, targets=None, version="1.0.0"):
    from rigging.transfer import publish

    folder = write_package(
        tmp_path / "src" / name.replace("/", "_") / version, name, version, rules=rules, workflows=workflows or {}
    )
    if targets is not None:
        manifest = json.loads((folder / "rigging.json").read_text())
        (folder / "rigging.json").write_text(json.dumps({**manifest, "targets": targets}))
    publish(str(folder), f"{host}/{name}")


def _rule(trigger, body, description="d", extra=""):
    return RULE.format(trigger=trigger, description=description, extra=extra, body=body)


def _install(cli, tmp_path, registry, env, deps, targets=ALL, name="project", files=None):
    project = tmp_path / name
    project.mkdir()
    for path, text in (files or {}).items():
        (project / path).parent.mkdir(parents=True, exist_ok=True)
        (project / path).write_text(text)
    data = {"registry": registry.host, "dependencies": deps}
    if targets is not None:
        data["targets"] = targets
    (project / "rigging.json").write_text(json.dumps(data))
    done = cli("install", "-C", project, env=env)
    assert done.returncode == 0, done.stderr
    return project, done


@pytest.fixture
def style(cli, tmp_path, registry, env):
    """One package with a rule of each trigger (globs in each spelling) and a workflow, for all agents."""
    ns = unique_namespace("t")
    rules = {
        "always": _rule("always_on", "Be brief.", "Always"),
        "sql": _rule("model_decision", "Use CTEs.", "When writing SQL"),
        "asked": _rule("manual", "Only when asked.", ""),
        **{f"py-{kind}": _rule("glob", f"Hints ({kind}).", "Python style", extra) for kind, extra in SPELLINGS.items()},
    }
    _publish(tmp_path, registry.host, f"{ns}/style", rules, {"release": WORKFLOW})
    project, _ = _install(cli, tmp_path, registry, env, {f"{ns}/style": "^1"})
    return ns, project, f"{ns}.style"


def test_windsurf(style):
    _, project, ident = style
    for kind in SPELLINGS:
        front, body = _lenient((project / f".windsurf/rules/{ident}.py-{kind}.md").read_text())
        assert front["trigger"] == "glob" and front["description"] == "Python style"
        assert [g.strip() for g in front["globs"].split(",")] == GLOBS and body.strip() == f"Hints ({kind})."
    assert _lenient((project / f".windsurf/rules/{ident}.sql.md").read_text())[0] == {
        "trigger": "model_decision",
        "description": "When writing SQL",
    }
    assert _lenient((project / f".windsurf/rules/{ident}.asked.md").read_text())[0]["trigger"] == "manual"
    # the always-on rule reaches Windsurf through AGENTS.md, which it loads: not twice
    assert not (project / f".windsurf/rules/{ident}.always.md").exists()
    assert "Be brief." in (project / "AGENTS.md").read_text()
    assert _lenient((project / f".windsurf/workflows/{ident}.release.md").read_text())[0] == {
        "description": "Cut a release"
    }


def test_cursor(style):
    _, project, ident = style
    for kind in SPELLINGS:
        front, _ = _lenient((project / f".cursor/rules/{ident}.py-{kind}.mdc").read_text())
        assert front["alwaysApply"] == "false" and [g.strip() for g in front["globs"].split(",")] == GLOBS
    sql, _ = _lenient((project / f".cursor/rules/{ident}.sql.mdc").read_text())
    assert sql == {"description": "When writing SQL", "globs": "", "alwaysApply": "false"}
    asked, _ = _lenient((project / f".cursor/rules/{ident}.asked.mdc").read_text())
    assert asked == {"description": "", "globs": "", "alwaysApply": "false"}, "attached by @name only"
    assert not list((project / ".cursor" / "rules").glob("*.md")), "Cursor reads only .mdc"
    assert (project / f".cursor/commands/{ident}.release.md").read_text() == "Tag $ARGUMENTS and push.\n"


def test_copilot(style):
    _, project, ident = style
    for kind in SPELLINGS:
        front, _ = _front((project / f".github/instructions/{ident}.py-{kind}.instructions.md").read_text())
        assert front["applyTo"].split(",") == GLOBS and front["description"] == "Python style"
    sql, _ = _front((project / f".github/instructions/{ident}.sql.instructions.md").read_text())
    assert sql == {"description": "When writing SQL"}, "no applyTo: picked by description"
    assert (project / f".github/instructions/{ident}.asked.instructions.md").read_text() == "Only when asked.\n"
    prompt, body = _front((project / f".github/prompts/{ident}.release.prompt.md").read_text())
    assert prompt == {"description": "Cut a release", "argument-hint": ["version"], "model": "sonnet"}
    assert body.strip() == "Tag $ARGUMENTS and push."


def test_claude(style):
    ns, project, ident = style
    assert (project / f".claude/rules/{ident}.always.md").read_text() == "Be brief.\n", "no paths: always loaded"
    for kind in SPELLINGS:
        front, body = _front((project / f".claude/rules/{ident}.py-{kind}.md").read_text())
        assert front == {"paths": GLOBS} and body.strip() == f"Hints ({kind})."
    decided, body = _front((project / f".claude/skills/{ns}-style-sql/SKILL.md").read_text())
    assert decided == {"name": f"{ns}-style-sql", "description": "When writing SQL"} and body.strip() == "Use CTEs."
    asked, body = _front((project / f".claude/commands/{ident}.asked.md").read_text())
    assert asked["disable-model-invocation"] is True and asked["description"] and body.strip() == "Only when asked."
    command, body = _front((project / f".claude/commands/{ident}.release.md").read_text())
    assert command == {
        "description": "Cut a release",
        "argument-hint": ["version"],
        "allowed-tools": "Bash(git tag:*)",
        "model": "sonnet",
    }, "the workflow's Claude frontmatter is kept"
    assert body.strip() == "Tag $ARGUMENTS and push."
    assert not (project / "CLAUDE.md").exists(), "Claude loads .claude/rules itself: nothing in CLAUDE.md"


def test_agents_gemini_and_junie_sections_hold_always_on_rules_and_link_the_rest(style):
    from rigging.managed_section import current_section

    _, project, ident = style
    for file_name in ("AGENTS.md", "GEMINI.md", ".junie/guidelines.md"):
        section = current_section((project / file_name).read_text())
        assert section is not None and "### always\n\nBe brief." in section, file_name
        assert "Use CTEs." not in section and "Only when asked." not in section, "only always-on rules in full"
        assert f"`.agents/rules/{ident}.sql.md`" in section and "Apply when: When writing SQL" in section
        assert f"`.agents/rules/{ident}.py-plain.md`" in section
    front, body = _front((project / f".agents/rules/{ident}.sql.md").read_text())
    assert front == {"trigger": "model_decision", "description": "When writing SQL"} and body.strip() == "Use CTEs."
    assert "`.agents/workflows/" in current_section((project / "AGENTS.md").read_text())
    assert f"run `/{ident}.release`" in current_section((project / "GEMINI.md").read_text())
    command = tomllib.loads((project / f".gemini/commands/{ident}.release.toml").read_text())
    assert command == {"description": "Cut a release", "prompt": "Tag {{args}} and push.\n"}


def test_cline(style):
    _, project, ident = style
    for kind in SPELLINGS:
        front, _ = _front((project / f".clinerules/{ident}.py-{kind}.md").read_text())
        assert front == {"paths": GLOBS}, "a YAML list: Cline ignores a string"
    assert (project / f".clinerules/{ident}.sql.md").read_text().startswith("_Apply when: When writing SQL_")
    assert (project / f".clinerules/workflows/{ident}.asked.md").read_text() == "Only when asked.\n"
    assert (project / f".clinerules/workflows/{ident}.release.md").read_text() == "Tag $ARGUMENTS and push.\n"
    assert not (project / f".clinerules/{ident}.always.md").exists(), "Cline reads AGENTS.md"


def test_kiro(style):
    _, project, ident = style
    for kind in SPELLINGS:
        text = (project / f".kiro/steering/{ident}.py-{kind}.md").read_text()
        assert text.startswith("---\ninclusion: fileMatch\n"), "frontmatter first, inclusion first"
        assert _front(text)[0] == {"inclusion": "fileMatch", "fileMatchPattern": GLOBS}
    assert _front((project / f".kiro/steering/{ident}.sql.md").read_text())[0] == {
        "inclusion": "auto",
        "name": f"{ident}.sql",
        "description": "When writing SQL",
    }
    assert _front((project / f".kiro/steering/{ident}.asked.md").read_text())[0] == {"inclusion": "manual"}
    assert _front((project / f".kiro/steering/{ident}.release.md").read_text())[0] == {"inclusion": "manual"}


def test_junie_uses_its_agents_md_where_the_project_has_one(cli, tmp_path, registry, env):
    ns = unique_namespace("j")
    _publish(tmp_path, registry.host, f"{ns}/g", {"always": _rule("always_on", "Be brief.")})
    project, _ = _install(
        cli, tmp_path, registry, env, {f"{ns}/g": "^1"}, ["junie"], files={".junie/AGENTS.md": "# Ours\n"}
    )
    assert (project / ".junie/AGENTS.md").read_text().startswith("# Ours\n")
    assert "Be brief." in (project / ".junie/AGENTS.md").read_text()
    assert not (project / ".junie/guidelines.md").exists()


def test_ten_large_manual_rules_keep_the_always_loaded_files_small(cli, tmp_path, registry, env):
    ns = unique_namespace("b")
    big = "word " * 8000  # 40 KB each
    _publish(tmp_path, registry.host, f"{ns}/big", {f"r{i}": _rule("manual", big, f"rule {i}") for i in range(10)})
    project, _ = _install(cli, tmp_path, registry, env, {f"{ns}/big": "^1"})
    for file_name in ("AGENTS.md", "GEMINI.md", ".junie/guidelines.md"):
        assert (project / file_name).stat().st_size <= 32 * 1024, file_name
    assert not (project / "CLAUDE.md").exists() or (project / "CLAUDE.md").stat().st_size <= 32 * 1024
    assert len(list((project / ".agents" / "rules").glob("*.md"))) == 10


def test_always_on_rules_past_codex_budget_are_linked_with_a_warning(cli, tmp_path, registry, env):
    ns = unique_namespace("o")
    rules = {f"r{i:02}": _rule("always_on", f"Rule {i}. " + "x" * 4000) for i in range(12)}  # ~48 KB
    _publish(tmp_path, registry.host, f"{ns}/many", rules)
    notes = "# Team notes\n\n" + "We write our own notes here.\n" * 100
    project, done = _install(
        cli, tmp_path, registry, env, {f"{ns}/many": "^1"}, ["agents", "cursor"], files={"AGENTS.md": notes}
    )
    agents = (project / "AGENTS.md").read_bytes()
    assert len(agents) <= 32 * 1024 and agents.startswith(notes.encode())
    assert "Codex reads 32768 bytes of it" in done.stderr and "linked instead of included" in done.stderr
    linked = sorted(p.name for p in (project / ".agents" / "rules").glob("*.md"))
    inlined = [i for i in range(12) if f"Rule {i}. " in agents.decode()]
    assert linked and inlined and len(linked) + len(inlined) == 12
    # a rule not in AGENTS.md is written for Cursor itself; one in AGENTS.md is not written twice
    assert sorted(p.stem for p in (project / ".cursor" / "rules").glob("*.mdc")) == [n[:-3] for n in linked]
    for mdc in (project / ".cursor" / "rules").glob("*.mdc"):
        assert _lenient(mdc.read_text())[0]["alwaysApply"] == "true"


def test_a_packages_own_targets_are_honoured(cli, tmp_path, registry, env):
    ns = unique_namespace("p")
    _publish(tmp_path, registry.host, f"{ns}/only", {"x": _rule("always_on", "x")}, {"w": WORKFLOW}, ["cursor"])
    _publish(tmp_path, registry.host, f"{ns}/none", {"y": _rule("always_on", "y")}, targets=["kiro"])
    deps = {f"{ns}/only": "^1", f"{ns}/none": "^1"}
    project, done = _install(cli, tmp_path, registry, env, deps, ["cursor", "claude", "agents"])
    files = sorted(p for p in snapshot(project) if p not in ("rigging.json", "rigging.lock"))
    assert files == [f".cursor/commands/{ns}.only.w.md", f".cursor/rules/{ns}.only.x.mdc"]
    assert f"{ns}/none supports only kiro, none of this project's agents; it installs no files" in done.stderr


def test_a_glob_with_a_comma_is_a_warning_for_the_agents_that_cannot_read_it(cli, tmp_path, registry, env):
    ns = unique_namespace("g")
    _publish(tmp_path, registry.host, f"{ns}/ts", {"ts": _rule("glob", "TS.", "TS", "globs: src/**/*.{ts,tsx}\n")})
    project, done = _install(cli, tmp_path, registry, env, {f"{ns}/ts": "^1"}, ["cursor", "claude"])
    assert "cursor reads globs as one comma-separated string" in done.stderr and "'src/**/*.{ts,tsx}'" in done.stderr
    assert _front((project / f".claude/rules/{ns}.ts.ts.md").read_text())[0] == {"paths": ["src/**/*.{ts,tsx}"]}


# -- which agents, when rigging.json does not say ---------------------------------------------------


@pytest.mark.parametrize(
    ("present", "expected"),
    [
        ({".cursor/rules/ours.mdc": "x"}, ["cursor", "agents"]),
        ({"CLAUDE.md": "# us\n", ".github/copilot-instructions.md": "x"}, ["copilot", "claude", "agents"]),
        ({}, ["agents"]),
    ],
)
def test_targets_are_detected_and_the_choice_is_printed(cli, tmp_path, registry, env, present, expected):
    from rigging.project import ALL_TARGETS

    ns = unique_namespace("d")
    _publish(tmp_path, registry.host, f"{ns}/d", {"g": _rule("glob", "G.", "G", "globs: *.py\n")})
    project, done = _install(cli, tmp_path, registry, env, {f"{ns}/d": "^1"}, targets=None, files=present)
    ordered = sorted(expected, key=ALL_TARGETS.index)
    assert f"targets: {', '.join(ordered)} (" in done.stderr and 'set "targets" in rigging.json' in done.stderr
    assert json.loads((project / "rigging.lock").read_text())["targets"] == ordered
    written = {
        "cursor": f".cursor/rules/{ns}.d.g.mdc",
        "claude": f".claude/rules/{ns}.d.g.md",
        "copilot": f".github/instructions/{ns}.d.g.instructions.md",
        "agents": f".agents/rules/{ns}.d.g.md",
    }
    for target, path in written.items():
        assert (project / path).exists() == (target in ordered), path
    for other in (".windsurf", ".kiro", ".clinerules", ".gemini", "GEMINI.md", ".junie"):
        assert not (project / other).exists(), other


def test_explicit_targets_win_over_what_is_found(cli, tmp_path, registry, env):
    ns = unique_namespace("e")
    _publish(tmp_path, registry.host, f"{ns}/e", {"g": _rule("glob", "G.", "G", "globs: *.py\n")})
    project, done = _install(
        cli, tmp_path, registry, env, {f"{ns}/e": "^1"}, ["windsurf"], files={".cursor/rules/ours.mdc": "x"}
    )
    assert "targets:" not in done.stderr
    assert (project / f".windsurf/rules/{ns}.e.g.md").exists() and not (project / "AGENTS.md").exists()
    assert sorted(p.name for p in (project / ".cursor" / "rules").iterdir()) == ["ours.mdc"]
