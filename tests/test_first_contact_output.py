"""What a newcomer sees: JSON from every read command (and errors as JSON), exit codes in --help,
-q and -v, progress on a slow transfer (under a real pseudo-terminal, silent when piped), shell
completion that matches the real options, and `rigging docs`. Real registry, real subprocesses."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from rigging import mediatypes as mt
from tests.catalog_publish import unique_namespace, write_package
from tests.conftest import RIGGING, run_cli
from tests.support.fault_proxy import FaultProxy
from tests.support.services import unavailable


def _package(root: Path, name: str, version: str, *, docs: dict[str, str] | None = None, deps=None) -> Path:
    folder = write_package(root / f"{name.replace('/', '_')}-{version}", name, version, deps)
    for path, text in (docs or {}).items():
        (folder / "docs" / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / "docs" / path).write_text(text)
    return folder


def _publish(folder: Path, target: str, env: dict[str, str]) -> dict:
    result = run_cli("publish", folder, target, "--json", env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _project(root: Path, registry_host: str, deps: dict[str, str], targets: list[str] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    data: dict = {"registry": registry_host, "dependencies": deps}
    if targets is not None:
        data["targets"] = targets
    (root / "rigging.json").write_text(json.dumps(data, indent=2))
    return root


def _layers(registry_host: str, repository: str, tag: str) -> dict[str, str]:
    """media type -> digest of a published manifest's blobs, read with plain HTTP (not rigging)."""
    response = httpx.get(f"http://{registry_host}/v2/{repository}/manifests/{tag}", headers={"Accept": mt.OCI_MANIFEST})
    manifest = response.json()
    found = {layer["mediaType"]: layer["digest"] for layer in manifest["layers"]}
    found[mt.CONFIG] = manifest["config"]["digest"]
    return found


def _recording_proxy(upstream: str, seen: list[tuple[str, str]], fault: str | None = None) -> FaultProxy:
    def schedule(index: int, method: str, path: str) -> str | None:
        seen.append((method, path))
        return fault

    return FaultProxy(upstream, schedule).start()


def _in_pty(args: list[str], env: dict[str, str], cwd: Path | None = None, timeout: float = 90) -> tuple[int, str]:
    """Run rigging with stdin, stdout and stderr on a real pseudo-terminal; (exit code, all it drew)."""
    import fcntl
    import pty
    import select
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen(
        [str(RIGGING), *args], stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd, close_fds=True
    )
    os.close(slave)
    out = bytearray()
    try:
        while True:
            ready, _, _ = select.select([master], [], [], timeout)
            if not ready:
                proc.kill()
                pytest.fail(f"rigging {' '.join(args)} drew nothing for {timeout} s")
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the terminal's other side has closed
                break
            if not chunk:
                break
            out += chunk
        proc.wait(timeout=timeout)
    finally:
        os.close(master)
    return proc.returncode, out.decode("utf-8", "replace")


def _terminal_env(env: dict[str, str], **extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "COLUMNS")}
    return {**base, "TERM": "xterm-256color", **env, **extra}


# -- 1. every read command's --json is one JSON document ----------------------------------------


def test_every_read_command_prints_one_json_document(cli, tmp_path, registry, env, keys):
    ns = unique_namespace("j")
    leaf = _package(tmp_path / "src", f"{ns}/leaf", "1.0.0", docs={"guide.md": "# Leaf guide\n"})
    top = _package(tmp_path / "src", f"{ns}/top", "1.0.0", deps={f"{ns}/leaf": "^1"})
    newer = _package(tmp_path / "src", f"{ns}/leaf", "1.1.0")

    validated = cli("validate", leaf, "--json")
    assert validated.returncode == 0 and json.loads(validated.stdout)["valid"] is True
    packed = cli("pack", leaf, "-o", tmp_path / "layout", "--json")
    assert json.loads(packed.stdout)["name"] == f"{ns}/leaf"
    published = cli("publish", f"oci:{tmp_path / 'layout'}:1.0.0", f"{registry.host}/{ns}/leaf", "--json", env=env)
    assert json.loads(published.stdout)["tags"] == ["1.0.0"], published.stderr
    assert _publish(top, f"{registry.host}/{ns}/top", env)["version"] == "1.0.0"

    project = _project(tmp_path / "project", registry.host, {f"{ns}/top": "^1"}, targets=["agents"])
    installed = cli("install", "-C", project, "--json", env=env)
    assert installed.returncode == 0, installed.stderr
    assert json.loads(installed.stdout)["packages"] == {f"{ns}/leaf": "1.0.0", f"{ns}/top": "1.0.0"}
    _publish(newer, f"{registry.host}/{ns}/leaf", env)

    listed = json.loads(cli("list", "-C", project, "--json", env=env).stdout)
    assert [(r["name"], r["direct"]) for r in listed] == [(f"{ns}/leaf", False), (f"{ns}/top", True)]

    tree = cli("tree", "-C", project, "--json", env=env)
    assert tree.returncode == 0, tree.stderr
    assert json.loads(tree.stdout) == {
        "name": "project",
        "dependencies": [
            {
                "name": f"{ns}/top",
                "version": "1.0.0",
                "wanted": "^1",
                "dependencies": [{"name": f"{ns}/leaf", "version": "1.0.0", "wanted": "^1", "dependencies": []}],
            }
        ],
    }
    for args in (["--json"], ["--format", "json"]):
        graph = json.loads(cli("graph", "-C", project, *args, env=env).stdout)
        assert {(e["from"], e["to"], e["range"]) for e in graph["edges"]} == {
            ("project", f"{ns}/top", "^1"),
            (f"{ns}/top", f"{ns}/leaf", "^1"),
        }
        assert {n["id"]: n["version"] for n in graph["nodes"]} == {
            "project": None,
            f"{ns}/top": "1.0.0",
            f"{ns}/leaf": "1.0.0",
        }
    # the text forms are unchanged
    assert f"└── {ns}/top 1.0.0 (^1)" in cli("tree", "-C", project, env=env).stdout

    outdated = json.loads(cli("outdated", "-C", project, "--json", env=env).stdout)
    assert [(r["name"], r["latest"]) for r in outdated] == [(f"{ns}/leaf", "1.1.0")]
    pulled = json.loads(
        cli("pull", f"{registry.host}/{ns}/leaf:1.0.0", "-o", tmp_path / "pulled", "--json", env=env).stdout
    )
    assert "docs/guide.md" in pulled["files"]
    docs = json.loads(cli("docs", f"{registry.host}/{ns}/leaf:1.0.0", "--json", env=env).stdout)
    assert docs["files"] == [{"path": "guide.md", "text": "# Leaf guide\n"}]
    public_key = keys[0] / "cosign.pub"
    verified = cli("verify", f"{registry.host}/{ns}/leaf:1.0.0", "--key", public_key, "--json", env=env)
    assert verified.returncode == 1 and json.loads(verified.stdout)["verified"] is False


# -- 2. errors as one JSON object on stderr when --json is given --------------------------------


def _flip_a_byte(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1 :]


def _json_error(result) -> dict:
    assert result.stdout == "", result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    error = json.loads(lines[0])["error"]
    assert error["code"] == result.returncode
    assert set(error) == {"message", "code", "kind"}
    return error


def test_errors_are_one_json_object_on_stderr_with_json(cli, tmp_path):
    unknown_option = _json_error(cli("list", "--bogus", "--json"))
    assert unknown_option["kind"] == "usage" and "--bogus" in unknown_option["message"]
    typo = _json_error(cli("instal", "--json"))
    assert typo["code"] == 2 and "did you mean 'install'?" in typo["message"]
    choice = _json_error(cli("graph", "--format", "svg", "--json"))
    assert choice["kind"] == "usage" and "'svg'" in choice["message"]
    missing = _json_error(cli("pull", "--json"))
    assert missing["code"] == 2 and "REF" in missing["message"]

    (tmp_path / "empty").mkdir()
    no_lock = _json_error(cli("list", "-C", tmp_path / "empty", "--json"))
    assert no_lock["kind"] == "error" and no_lock["code"] == 1 and "rigging install" in no_lock["message"]

    # a layout whose blob was altered: the digest check fails, and says so as kind "integrity"
    folder = _package(tmp_path / "src", "acme/bent", "1.0.0")
    packed = json.loads(cli("pack", folder, "-o", tmp_path / "layout", "--json").stdout)
    manifest = json.loads((tmp_path / "layout" / "blobs" / "sha256" / packed["digest"][7:]).read_bytes())
    content = tmp_path / "layout" / "blobs" / "sha256" / manifest["layers"][0]["digest"][7:]
    content.write_bytes(_flip_a_byte(content.read_bytes()))
    bent = _json_error(
        cli(
            "pull",
            f"oci:{tmp_path / 'layout'}:1.0.0",
            "-o",
            tmp_path / "out",
            "--json",
            env={"RIGGING_CACHE_DIR": str(tmp_path / "cache")},
        )
    )
    assert bent["kind"] == "integrity" and bent["code"] == 1

    # without --json the same failures are one plain line
    plain = cli("list", "-C", tmp_path / "empty")
    assert plain.returncode == 1 and plain.stderr.startswith("rigging: error: ") and plain.stderr.count("\n") == 1
    usage = cli("list", "--bogus")
    assert usage.returncode == 2 and "rigging list: error: unrecognized arguments: --bogus" in usage.stderr


def test_help_documents_exit_codes_and_the_global_options(cli):
    from rigging_cli.main import COMMANDS, EXIT_CODES

    result = cli("--help")
    assert result.returncode == 0
    section = result.stdout.split("exit codes:", 1)[1]
    for code, _, meaning in EXIT_CODES:
        assert re.search(rf"^\s+{code}\s", section, re.M), (code, meaning)
    assert {0, 1, 2, 70, 130} <= {code for code, _, _ in EXIT_CODES}
    for name in COMMANDS:
        assert re.search(rf"^\s+{re.escape(name)}\s", result.stdout, re.M), name
    assert "-q, --quiet" in result.stdout and "-v, --verbose" in result.stdout and '"kind"' in result.stdout
    assert cli("--version").stdout.startswith("rigging ")
    assert cli("-q", "-v", "list").returncode == 2


def test_help_version_and_a_piped_command_load_no_command_module_argparse_or_rich(tmp_path):
    probe = (
        "import sys; from rigging_cli.main import main; code = main(sys.argv[1:]); "
        "loaded = sorted(m for m in sys.modules "
        "if m.startswith('rigging_cli.commands.') or m in ('argparse', 'rich')); "
        "print(loaded, file=sys.stderr)"
    )
    for args, expected in (
        (["--help"], "[]"),
        (["--version"], "[]"),
        (["validate", str(tmp_path)], "['argparse', 'rigging_cli.commands.validate']"),
    ):
        out = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True)
        assert out.stderr.strip().splitlines()[-1] == expected, (args, out.stderr)


# -- 3. -q, -v and progress ---------------------------------------------------------------------


def test_verbose_shows_each_request_and_file_and_quiet_drops_the_notes(cli, tmp_path, registry, env):
    ns = unique_namespace("v")
    _publish(_package(tmp_path / "src", f"{ns}/chat", "1.0.0"), f"{registry.host}/{ns}/chat", env)
    loud = _project(tmp_path / "loud", registry.host, {f"{ns}/chat": "^1"})
    (loud / "AGENTS.md").write_text("# ours\n")
    verbose = cli("-v", "install", "-C", loud, env=env)
    assert verbose.returncode == 0, verbose.stderr
    assert re.search(rf"HTTP Request: GET http://{re.escape(registry.host)}/v2/{ns}/chat/tags/list", verbose.stderr)
    assert "  wrote rigging.lock" in verbose.stderr
    assert "targets: " in verbose.stderr  # no "targets" in rigging.json: install says which it chose

    hushed = _project(tmp_path / "hushed", registry.host, {f"{ns}/chat": "^1"})
    (hushed / "AGENTS.md").write_text("# ours\n")
    for args in (["-q", "install"], ["install", "-q"]):
        quiet = cli(*args, "-C", hushed, env=env)
        assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr
        assert quiet.stdout.startswith("installed 1 package(s)")


def test_a_slow_install_shows_progress_with_totals_on_a_terminal_and_nothing_when_piped(cli, tmp_path, registry, env):
    ns = unique_namespace("p")
    _publish(_package(tmp_path / "src", f"{ns}/slow", "1.0.0"), f"{registry.host}/{ns}/slow", env)
    seen: list[tuple[str, str]] = []
    proxy = _recording_proxy(registry.host, seen, fault="slow")  # every answer late, bodies dribbled
    try:
        project = _project(tmp_path / "tty", proxy.host, {f"{ns}/slow": "^1"}, targets=["agents"])
        code, drawn = _in_pty(["install", "-C", str(project)], _terminal_env(env))
        assert code == 0, drawn
        assert "downloading 1 blob" in drawn, drawn
        assert re.search(r"\d[\d.,]*/\d[\d.,]* (bytes|kB)", drawn), drawn  # done of total
        assert "installed 1 package(s)" in drawn
        assert "\x1b[38;5;" in drawn  # rich's bar colours, on a 256-colour terminal

        plain = _project(tmp_path / "nocolor", proxy.host, {f"{ns}/slow": "^1"}, targets=["agents"])
        code, drawn = _in_pty(
            ["install", "-C", str(plain)],
            _terminal_env({**env, "RIGGING_CACHE_DIR": str(tmp_path / "cache2")}, NO_COLOR="1"),
        )
        assert code == 0 and "downloading 1 blob" in drawn, drawn
        assert not re.search(r"\x1b\[(3\d|38;|9\d)", drawn), "NO_COLOR means no colour"

        piped = _project(tmp_path / "piped", proxy.host, {f"{ns}/slow": "^1"}, targets=["agents"])
        result = cli("install", "-C", piped, env={**env, "RIGGING_CACHE_DIR": str(tmp_path / "cache3")})
        assert result.returncode == 0 and result.stderr == "", result.stderr
        assert "\x1b" not in result.stdout
    finally:
        proxy.stop()


def test_pull_and_docs_show_progress_under_a_terminal(tmp_path, registry, env):
    ns = unique_namespace("q")
    folder = _package(tmp_path / "src", f"{ns}/tall", "1.0.0", docs={"guide.md": "# Tall\n\n" + "words " * 1500})
    _publish(folder, f"{registry.host}/{ns}/tall", env)
    proxy = _recording_proxy(registry.host, [], fault="slow")
    try:
        code, drawn = _in_pty(
            ["pull", f"{proxy.host}/{ns}/tall:1.0.0", "-o", str(tmp_path / "out")], _terminal_env(env)
        )
        assert code == 0 and "pulled" in drawn, drawn
        assert "downloading 2 blobs" in drawn, drawn  # content and docs (the manifest carries the config)
        assert re.search(r"\d[\d.,]*/\d[\d.,]* (bytes|kB)", drawn), drawn
        code, drawn = _in_pty(["docs", f"{proxy.host}/{ns}/tall:1.0.0"], _terminal_env(env, NO_COLOR="1"))
        assert code == 0 and "Tall" in drawn, drawn
    finally:
        proxy.stop()


# -- 4. shell completion ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scripts(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("completion")
    found = {}
    for shell in ("bash", "zsh", "fish"):
        result = run_cli("completion", shell)
        assert result.returncode == 0, result.stderr
        found[shell] = folder / f"rigging.{shell}"
        found[shell].write_text(result.stdout)
    return found


def _bash_complete(script: Path, *words: str, cwd: Path | None = None) -> list[str]:
    """Source the script in bash, set COMP_WORDS/COMP_CWORD as bash does, call the function."""
    quoted = " ".join("'" + w.replace("'", "'\\''") + "'" for w in ("rigging", *words))
    program = (
        f"source '{script}'\nCOMP_WORDS=({quoted})\nCOMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))\n"
        'COMPREPLY=()\n_rigging\nprintf "%s\\n" "${COMPREPLY[@]}"\ncomplete -p rigging >&2\n'
    )
    result = subprocess.run(["bash", "--norc", "-c", program], capture_output=True, text=True, cwd=cwd)
    assert result.returncode == 0, result.stderr
    assert "-F _rigging rigging" in result.stderr, "the script registers its function"
    return [line for line in result.stdout.splitlines() if line]


def test_bash_completion_completes_commands_options_and_values(scripts):
    from rigging_cli.main import COMMANDS

    bash = scripts["bash"]
    assert set(_bash_complete(bash, "")) == set(COMMANDS)
    assert _bash_complete(bash, "ins") == ["install"]
    assert _bash_complete(bash, "-q", "tr") == ["tree"]
    assert set(_bash_complete(bash, "-")) == {"-h", "--help", "--version", "-q", "--quiet", "-v", "--verbose"}
    assert _bash_complete(bash, "install", "--fr") == ["--frozen"]
    assert set(_bash_complete(bash, "graph", "--format", "")) == {"text", "json", "dot", "mermaid"}
    assert _bash_complete(bash, "graph", "--format", "=", "me") == ["mermaid"]
    assert set(_bash_complete(bash, "completion", "")) == {"bash", "zsh", "fish"}
    assert "--output" in _bash_complete(bash, "docs", "--")
    assert _bash_complete(bash, "docs", "-C", "") == []  # a folder: bash's own file completion takes over


def _help_options(command: str) -> set[str]:
    """The options `rigging COMMAND --help` lists: argparse's own text, a path apart from completion."""
    result = run_cli(command, "--help")
    assert result.returncode == 0, result.stderr
    names = set()
    for line in result.stdout.split("\noptions:\n", 1)[1].splitlines():
        if line.startswith("  -"):  # an option's line; its help text's continuations are indented further
            head = re.split(r"\s{2,}", line.strip())[0]
            names |= {part.split(" ")[0] for part in head.split(", ")}
    return names


def test_completion_offers_exactly_each_commands_real_options(scripts):
    from rigging_cli.main import COMMANDS

    for command in COMMANDS:
        offered = set(_bash_complete(scripts["bash"], command, "-"))
        assert offered == _help_options(command), command


def test_zsh_completion_completes_in_a_real_zsh(scripts, tmp_path):
    zsh = shutil.which("zsh")
    if zsh is None:
        unavailable("zsh is not installed (apt-get install -y zsh)")
    capture, wrapper = tmp_path / "capture.zsh", tmp_path / "record.zsh"
    # compadd wrapped to record what completion offers, in the file $HITS names
    wrapper.write_text(
        'compadd() {\n  local -a h\n  builtin compadd -A h "$@"\n  builtin compadd "$@"\n'
        '  (( $#h )) && print -rl -- "${(@)h}" >> $HITS\n}\n'
    )
    # A real interactive zsh on a pseudo-terminal (zpty): compinit, the script, then TAB.
    capture.write_text(
        """zmodload zsh/zpty || exit 3
zpty z zsh -f -i
run() { zpty -w z "$1; print MARK\\$((1+1))"; local line
  while zpty -r -t z line || sleep 0.05; do [[ $line == *MARK2* ]] && return; done }
run "PROMPT=''"
run "autoload -U compinit; compinit -u -D"
run "source ${(q)1}; HITS=${(q)2}; source ${(q)4}"
run "bindkey '^I' complete-word"
zpty -n -w z "$3"$'\\t'
for i in {1..60}; do sleep 0.05; [[ -s $2 ]] && sleep 0.2 && break; done
zpty -d z
"""
    )

    def complete(line: str) -> set[str]:
        hits = tmp_path / f"hits-{abs(hash(line))}"
        subprocess.run(
            [zsh, "-f", str(capture), str(scripts["zsh"]), str(hits), line, str(wrapper)], timeout=60, check=True
        )
        return set(hits.read_text().split()) if hits.exists() else set()

    assert "--frozen" in complete("rigging install --fr")
    assert complete("rigging graph --format ") >= {"text", "json", "dot", "mermaid"}
    assert "completion" in complete("rigging compl")


def test_fish_completion_completes_in_a_real_fish(scripts):
    fish = shutil.which("fish")
    if fish is None:
        unavailable("fish is not installed (apt-get install -y fish)")

    def complete(line: str) -> set[str]:
        result = subprocess.run(
            [fish, "--no-config", "-c", f"source {scripts['fish']}; complete -C '{line}'"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        return {row.split("\t", 1)[0] for row in result.stdout.splitlines()}

    assert complete("rigging install --fr") == {"--frozen"}
    assert complete("rigging graph --format ") == {"text", "json", "dot", "mermaid"}
    assert complete("rigging completion ") == {"bash", "zsh", "fish"}
    assert "docs" in complete("rigging d")


# -- 5. rigging docs ----------------------------------------------------------------------------


def test_docs_prints_extracts_and_says_when_there_are_none(cli, tmp_path, registry, env):
    ns = unique_namespace("d")
    docs = {"index.md": "# Manual\n\nStart here.\n", "api/calls.md": "# Calls\n\n- `go()`\n", "z.md": "# Last\n"}
    _publish(_package(tmp_path / "src", f"{ns}/manual", "1.0.0", docs=docs), f"{registry.host}/{ns}/manual", env)
    _publish(_package(tmp_path / "src", f"{ns}/bare", "1.0.0"), f"{registry.host}/{ns}/bare", env)
    ref = f"{registry.host}/{ns}/manual:1.0.0"

    piped = cli("docs", ref, env=env)
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout.startswith("==> docs/index.md <==\n# Manual\n\nStart here.\n")
    assert "==> docs/api/calls.md <==\n# Calls" in piped.stdout and "==> docs/z.md <==" in piped.stdout

    out = tmp_path / "manual-docs"
    extracted = cli("docs", ref, "-o", out, env=env)
    assert extracted.returncode == 0, extracted.stderr
    assert {p.relative_to(out).as_posix(): p.read_text() for p in out.rglob("*") if p.is_file()} == docs
    again = cli("docs", ref, "-o", out, env=env)
    assert again.returncode == 1 and "not empty" in again.stderr and "--force" in again.stderr
    assert cli("docs", ref, "-o", out, "--force", env=env).returncode == 0

    for target in (f"{registry.host}/{ns}/bare:1.0.0", f"{registry.host}/{ns}/bare"):
        none = cli("docs", target, env=env)
        assert none.returncode == 1 and none.stderr.count("\n") == 1, none.stderr
        assert "has no docs" in none.stderr and f"{ns}/bare" in none.stderr
    missing = cli("docs", f"{registry.host}/{ns}/manual:9.9.9", env=env)
    assert missing.returncode == 1 and "9.9.9 not found" in missing.stderr and "1.0.0" in missing.stderr
    wrong = cli("docs", "http://example.com/acme/x", env=env)
    assert wrong.returncode == 2 and "Traceback" not in wrong.stderr


def test_docs_of_a_bare_name_follow_the_project_lock_or_the_range(cli, tmp_path, registry, env):
    ns = unique_namespace("l")
    for version in ("1.0.0", "2.0.0"):
        folder = _package(tmp_path / "src", f"{ns}/guide", version, docs={"guide.md": f"# Guide {version}\n"})
        _publish(folder, f"{registry.host}/{ns}/guide", env)
    project = _project(tmp_path / "project", registry.host, {f"{ns}/guide": "^1"}, targets=["agents"])
    assert cli("install", "-C", project, env=env).returncode == 0

    locked = cli("docs", f"{ns}/guide", env=env, cwd=project)
    assert locked.returncode == 0 and "# Guide 1.0.0" in locked.stdout, locked.stderr
    as_json = json.loads(cli("docs", f"{ns}/guide", "-C", project, "--json", env=env).stdout)
    lock = json.loads((project / "rigging.lock").read_text())
    assert as_json["digest"] == lock["packages"][f"{ns}/guide"]["manifest"]
    ranged = cli("docs", f"{ns}/guide@^2", "-C", project, env=env)
    assert ranged.returncode == 0 and "# Guide 2.0.0" in ranged.stdout, ranged.stderr
    full_ranged = cli("docs", f"{registry.host}/{ns}/guide@~1.0", env=env)
    assert full_ranged.returncode == 0 and "# Guide 1.0.0" in full_ranged.stdout, full_ranged.stderr
    newest = cli("docs", f"{registry.host}/{ns}/guide", env=env)
    assert "# Guide 2.0.0" in newest.stdout

    (tmp_path / "elsewhere").mkdir()
    nowhere = cli("docs", f"{ns}/guide", env=env, cwd=tmp_path / "elsewhere")
    assert nowhere.returncode in (1, 2) and nowhere.stderr.count("\n") == 1, nowhere.stderr
    assert "REGISTRY/" in nowhere.stderr, "says how to name where the package lives"


def test_docs_from_an_oci_layout_render_on_a_terminal_and_escape_nothing(cli, tmp_path):
    folder = _package(
        tmp_path / "src",
        "acme/layout",
        "1.0.0",
        docs={"guide.md": "# Layout guide\n\nBe **bold**, not \x1b[31mred\x1b[0m.\n\n- one\n- two\n"},
    )
    assert cli("pack", folder, "-o", tmp_path / "layout").returncode == 0
    ref = f"oci:{tmp_path / 'layout'}:1.0.0"
    piped = cli("docs", ref)
    assert piped.returncode == 0 and "Be **bold**" in piped.stdout, piped.stderr
    assert "\x1b" not in piped.stdout, "a package's text must not drive the terminal"

    env = _terminal_env({"RIGGING_CACHE_DIR": str(tmp_path / "cache")})
    code, drawn = _in_pty(["docs", ref], env)
    assert code == 0, drawn
    assert "Layout guide" in drawn and "# Layout guide" not in drawn, "Markdown is rendered, not shown raw"
    assert "**bold**" not in drawn and "\x1b[1m" in drawn  # bold is drawn as bold
    assert "\ufffd[31mred" in drawn and "\x1b[31mred" not in drawn  # the package's escape is shown, not obeyed
    _, no_color = _in_pty(["docs", ref], {**env, "NO_COLOR": "1"})
    assert "Layout guide" in no_color and not re.search(r"\x1b\[(3\d|38;|9\d)", no_color)


def test_install_never_fetches_the_docs_layer_and_docs_fetches_only_it(cli, tmp_path, registry, env):
    ns = unique_namespace("n")
    folder = _package(tmp_path / "src", f"{ns}/lean", "1.0.0", docs={"big.md": "# Big\n\n" + "text " * 2000})
    _publish(folder, f"{registry.host}/{ns}/lean", env)
    digests = _layers(registry.host, f"{ns}/lean", "1.0.0")
    docs_digest, content_digest = digests[mt.DOCS_LAYER], digests[mt.CONTENT_LAYER]

    seen: list[tuple[str, str]] = []
    proxy = _recording_proxy(registry.host, seen)
    try:
        project = _project(tmp_path / "project", proxy.host, {f"{ns}/lean": "^1"}, targets=["agents"])
        assert cli("install", "-C", project, env=env).returncode == 0
        assert any(content_digest in path for _, path in seen), "install read the content layer"
        assert not any(docs_digest in path for _, path in seen), seen

        seen.clear()
        shown = cli("docs", f"{ns}/lean", "-C", project, env={**env, "RIGGING_CACHE_DIR": str(tmp_path / "c2")})
        assert shown.returncode == 0 and "# Big" in shown.stdout, shown.stderr
        blobs = [path for method, path in seen if "/blobs/" in path and method == "GET"]
        assert blobs == [f"/v2/{ns}/lean/blobs/{docs_digest}"], seen
    finally:
        proxy.stop()


def test_docs_refuses_a_docs_layer_that_does_not_match_its_digest(cli, tmp_path):
    folder = _package(tmp_path / "src", "acme/forged", "1.0.0", docs={"guide.md": "# Real\n"})
    packed = json.loads(cli("pack", folder, "-o", tmp_path / "layout", "--json").stdout)
    blobs = tmp_path / "layout" / "blobs" / "sha256"
    manifest = json.loads((blobs / packed["digest"][7:]).read_bytes())
    docs_layer = next(layer for layer in manifest["layers"] if layer["mediaType"] == mt.DOCS_LAYER)
    target = blobs / docs_layer["digest"][7:]
    target.write_bytes(_flip_a_byte(target.read_bytes()))
    result = cli("docs", f"oci:{tmp_path / 'layout'}:1.0.0", env={"RIGGING_CACHE_DIR": str(tmp_path / "cache")})
    assert result.returncode == 1 and "does not match its digest" in result.stderr, result.stderr
    assert result.stdout == ""


def test_docs_through_a_project_whose_registry_is_an_oci_store(cli, tmp_path):
    env = {"RIGGING_CACHE_DIR": str(tmp_path / "cache")}
    for version in ("1.0.0", "1.1.0"):
        folder = _package(tmp_path / "src", "acme/local", version, docs={"notes.md": f"# Notes {version}\n"})
        published = cli("publish", folder, f"oci:{tmp_path / 'store' / 'acme' / 'local'}", env=env)
        assert published.returncode == 0, published.stderr
    project = _project(tmp_path / "project", "oci:../store", {"acme/local": "~1.0.0"}, targets=["agents"])
    newest = cli("docs", "acme/local", "-C", project, env=env)
    assert newest.returncode == 0 and "# Notes 1.1.0" in newest.stdout, newest.stderr
    assert cli("install", "-C", project, env=env).returncode == 0
    locked = cli("docs", "acme/local", env=env, cwd=project)
    assert locked.returncode == 0 and "# Notes 1.0.0" in locked.stdout, locked.stderr
