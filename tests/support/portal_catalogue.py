"""A small real catalogue for the portal's tests: packages made with `rigging new`, published to a
real registry, crawled and fully scanned into a real PostgreSQL by the indexer's own commands, and
`rigging-portal serve` reading it."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import run_cli
from tests.support.services import free_port, stop, wait_http

BIN = Path(sys.executable).parent

README = """# {title}

Rules and a skill for **{title}**, with a code sample:

```python
def greet(name: str) -> str:
    return f"hello {{name}}"
```

See [the guide](https://example.org/guide) and `rigging add`.
"""

SKILL = """---
name: pdf-tools
description: Fill in and merge PDF forms. Use when the user asks about PDFs.
---

# PDF tools

Run `scripts/merge.sh` to merge two PDFs.
"""


@dataclass
class Catalogue:
    namespace: str
    main: str  # NS/guide: skills, rules, workflows, docs, two versions, depends on base
    base: str  # NS/base: what main depends on
    source: str  # the registry's source URL
    database: str
    folder: Path
    hostile: str | None = None  # NS/xss, when asked for: write_hostile's package

    def crawl(self) -> None:
        indexer("crawl", "--once", "--database", self.database, "--source", self.source)

    def scan(self) -> None:
        indexer("scan", "--once", "--database", self.database)


def indexer(*args: str) -> str:
    done = subprocess.run(
        [str(BIN / "rigging-indexer"), *args], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def write_main(folder: Path, name: str, version: str, base: str) -> Path:
    result = run_cli("new", folder, "--name", name, "--version", version, "-q")
    assert result.returncode == 0, result.stderr
    assert run_cli("new", folder, "--skill", "pdf-tools", "-q").returncode == 0
    (folder / "skills" / "pdf-tools" / "SKILL.md").write_text(SKILL)
    (folder / "skills" / "pdf-tools" / "scripts").mkdir()
    merge = folder / "skills" / "pdf-tools" / "scripts" / "merge.sh"
    merge.write_text('#!/bin/sh\nset -eu\nqpdf --empty --pages "$1" "$2" -- "$3"\n')
    merge.chmod(0o755)
    (folder / "README.md").write_text(README.format(title=name))
    (folder / "docs").mkdir()
    (folder / "docs" / "index.md").write_text(f"# {name} documentation\n\nStart here.\n")
    (folder / "docs" / "usage.md").write_text("# Usage\n\n```sh\nrigging add x\n```\n")
    manifest = json.loads((folder / "rigging.json").read_text())
    manifest.update(dependencies={base: "^1.0.0"}, keywords=["python", "pdf"])
    (folder / "rigging.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return folder


def publish(folder: Path, host: str, name: str) -> None:
    result = run_cli("publish", folder, f"{host}/{name}")
    assert result.returncode == 0, result.stderr


@contextlib.contextmanager
def catalogue(tmp: Path, host: str, database: str, *, hostile: bool = False) -> Iterator[Catalogue]:
    """Published, crawled and scanned: NS/base 1.0.0 and NS/guide 1.0.0 and 1.1.0 (and NS/xss, a
    hostile package, when asked), in a namespace of their own, which is the index's one source."""
    namespace = f"p{uuid.uuid4().hex[:8]}"
    main, base = f"{namespace}/guide", f"{namespace}/base"
    made = run_cli("new", tmp / "base", "--name", base, "--version", "1.0.0", "-q")
    assert made.returncode == 0, made.stderr
    publish(tmp / "base", host, base)
    for version in ("1.0.0", "1.1.0"):
        publish(write_main(tmp / f"guide-{version}", main, version, base), host, main)
    if hostile:
        publish(write_hostile(tmp / "xss", f"{namespace}/xss"), host, f"{namespace}/xss")
    found = Catalogue(namespace, main, base, f"http://{host}/{namespace}", database, tmp)
    found.hostile = f"{namespace}/xss" if hostile else None
    found.crawl()
    found.scan()
    yield found


@contextlib.contextmanager
def portal(database: str, *extra: str, config: dict | None = None, workdir: Path | None = None) -> Iterator[str]:
    """`rigging-portal serve` on a free port; its base URL once /healthz answers."""
    port = free_port()
    args = [str(BIN / "rigging-portal"), "serve", "--database", database, "--port", str(port), *extra]
    if config is not None:
        assert workdir is not None
        path = workdir / "portal.json"
        path.write_text(json.dumps(config))
        args += ["--config", str(path)]
    log = (workdir or Path("/tmp")) / f"portal-{port}.log"
    with log.open("wb") as out:
        server = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", timeout=30, ok_statuses=(200,))
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(server)


@contextlib.contextmanager
def served_catalogue(host: str, tmp: Path) -> Iterator[tuple[Catalogue, str]]:
    """The catalogue in a database of its own, and a portal serving it: (catalogue, base URL)."""
    from tests.support.postgres import required_database

    with (
        required_database() as database,
        catalogue(tmp, host, database) as cat,
        portal(database, workdir=cat.folder, config={"sources": [cat.source]}) as url,
    ):
        yield cat, url


# What a hostile package may carry into every field the portal renders. Each payload that could
# run sets window.__pwned, the canary the browser test reads.
HOSTILE_README = """# Hostile readme

<script>window.__pwned = "readme-script"</script>
<img src=x onerror="window.__pwned='readme-img'">
<svg onload="window.__pwned='readme-svg'"><circle r=1 /></svg>
<iframe srcdoc="<script>parent.__pwned='iframe'</script>"></iframe>
<style>body { display: none }</style>
<a href="javascript:window.__pwned='readme-link'">click</a>
<div style="position:fixed;top:0;left:0;width:100%;height:100%">overlay</div>
<form action="https://evil.example"><input name=x></form>

[markdown link](javascript:window.__pwned='md-link')
[spaced link](java\tscript:window.__pwned='tab-link')
[entity link](&#106;avascript:window.__pwned='entity-link')
[data link](data:text/html,<script>alert(1)</script>)
![tracker](https://evil.example/track.png)
<a href="https://evil.example/away">away</a>
<p id="main">clobber</p>

zero\u200bwidth and a variation selector x\ufe0f in the text.
"""
HOSTILE_RULE = """---
trigger: glob
description: "\\"><script>window.__pwned='rule-desc'</script>"
globs: "**/*.py"
---

# Rule <img src=x onerror="window.__pwned='rule-img'">

<a href="JaVaScRiPt:window.__pwned='rule-link'">x</a>
"""
HOSTILE_SKILL = """---
name: evil-skill
description: "<script>window.__pwned='skill-desc'</script> Use when <img src=x onerror=alert(1)>"
---

# Skill

<svg><script>window.__pwned='skill-svg'</script></svg>
<svg><a xlink:href="javascript:window.__pwned='svg-link'"><text y="20">svg link</text></a></svg>
"""
HOSTILE_WORKFLOW = """---
description: "<img src=x onerror=\\"window.__pwned='workflow-desc'\\">"
---

# Release <script>window.__pwned='workflow'</script>

```html
<script>window.__pwned='in-code'</script>
```
"""
HOSTILE_DOC = """# Docs <script>window.__pwned='docs'</script>

<math><mtext><table><mglyph><style><img src=x onerror="window.__pwned='mxss'">
[x](vbscript:msgbox(1))
<link rel=stylesheet href="https://evil.example/x.css">
<meta http-equiv="refresh" content="0;url=javascript:window.__pwned='meta'">
"""


def write_hostile(folder: Path, name: str) -> Path:
    """A package that validates and passes the publish gate, every text field of it hostile."""
    result = run_cli("new", folder, "--name", name, "-q")
    assert result.returncode == 0, result.stderr
    assert run_cli("new", folder, "--skill", "evil-skill", "-q").returncode == 0
    (folder / "README.md").write_text(HOSTILE_README)
    (folder / "rules" / "python-conventions.md").write_text(HOSTILE_RULE)
    (folder / "skills" / "evil-skill" / "SKILL.md").write_text(HOSTILE_SKILL)
    (folder / "workflows" / "release.md").write_text(HOSTILE_WORKFLOW)
    (folder / "docs").mkdir()
    (folder / "docs" / "index.md").write_text(HOSTILE_DOC)
    (folder / "docs" / "<img src=x onerror=alert(1)>.md").write_text("# odd file name\n")
    manifest = json.loads((folder / "rigging.json").read_text())
    manifest["description"] = "</title><script>window.__pwned='desc'</script><style>*{display:none}</style>"
    (folder / "rigging.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return folder
