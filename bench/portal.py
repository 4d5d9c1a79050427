"""Portal benchmark (not a test): server time of the package page and the search page under 50
concurrent clients with 20,000 indexed packages — goals P95 <= 30 ms for the package page and
<= 40 ms for search on this machine — and the package page's weight before images, goal <= 100 KB.

(a) Seeding. A throw-away database `rigging_bench_portal_<pid>` on the PostgreSQL server
    (RIGGING_TEST_DATABASE_URL, default the local one) gets the indexer's schema (its own alembic
    migrations) and `--packages` packages (default 20,000) written through the store functions the
    crawler uses (bench/indexer.py, `write_packages`; `--writers` processes; each README rendered
    to HTML there, as it is when the crawler indexes a version): about 300 namespaces
    of Zipf-like sizes, 1 to 5 versions each (a fifth have 5), READMEs of a few KB with headings,
    lists, tables, links, images and code blocks, keywords, targets, licences, a few dependencies
    on other packages, rules, workflows and skills, a third signed, downloads of Zipf-like
    popularity, tags; and for every latest version a scan result (pass or warn, with findings and
    capabilities) that is the real scanner's report on one of a few template packages, so the
    security summary has real findings to render. Seeding time is reported; it is not a goal.
(b) `rigging-portal serve --database URL` (`--workers`, default 1), as users start it. The first 100 URLs of
    each list below are asked once first: each must answer 200 with HTML (not a redirect, not an
    error page, which would be fast and flatter the figure). A short unmeasured run of each warms
    the processes (imports, templates, pools, the database's caches). The 1-minute load average
    when the bench starts is reported: on a shared machine others' work slows the figures.
(c) wrk, closed loop (50 connections, 2 threads; each connection sends its next request when the
    last one answers), `--runs` runs of `--seconds` each, interleaved. The goals' workload: 100,000
    requests drawn with Zipf-like popularity (weight 1/rank, as the indexer bench's query_mix draws
    searches) over every package page, and over 5,000 different realistic searches (one word, two
    words, a namespace facet, kind=skills, sort=downloads, page 2; the indexer bench's pool size),
    each request with a browser's Accept-Encoding: a few pages are asked for often and most
    rarely, so the portal's page cache (rendered pages of readers who are not signed in, 20,000 a
    process, gzip'd, 5 minutes at most) answers the popular ones as it would in a portal that has
    been up a while, which `--warm` seconds of unmeasured load on each page stand for. Beside it,
    one run each where every request is a different page (the cache never answers): the cost of
    rendering, reported, not a goal. P50/P95/P99 are wrk's own
    (latency:percentile in the script's done()); the goals check the median run's P95. With 50
    connections always busy the server is saturated and latency is mostly the queue: P95 is about
    50 / throughput, so a 30 ms P95 needs some 1,700 pages a second. Any non-2xx answer or socket
    error fails the bench after the report.
(d) Page weight: a few package pages (the longest README, the most versions and dependencies, a
    signed skills package, a typical one), each with every same-origin stylesheet and script it
    references (<link rel=stylesheet href>, <script src>), images excluded; the heaviest, in KB of
    1,000 bytes, uncompressed; and its bytes on the wire if the portal compresses (else gzip's).

    .venv/bin/python bench/portal.py [--quick] [--packages N] [--runs N] [--seconds N] [--json]
    .venv/bin/python bench/portal.py --keep            # keep the seeded database, print its URL
    .venv/bin/python bench/portal.py --database URL    # an index seeded before: migrated (and its READMEs
                                                       # rendered, as after an upgrade), not seeded

--quick: 2,000 packages and one 3 s run of each (smaller than the goals). Needs PostgreSQL and wrk (Debian package).
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import hashlib
import html.parser
import http.client
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import Report, parse_sized, sized_parser

from indexer import _wrk, write_packages  # the search bench's wrk run, the index writer

PAGE_GOAL_MS = 30
SEARCH_GOAL_MS = 40
WEIGHT_GOAL_KB = 100

TOPICS = (
    "python", "typescript", "javascript", "react", "nextjs", "vue", "svelte", "django", "fastapi", "flask",
    "rust", "go", "kotlin", "swift", "java", "spring", "dotnet", "csharp", "ruby", "rails", "php", "laravel",
    "elixir", "terraform", "kubernetes", "docker", "ansible", "aws", "gcp", "azure", "postgres", "sql",
    "graphql", "grpc", "security", "testing", "pytest", "jest", "playwright", "review", "release", "docs",
    "lint", "style", "format", "api", "ci", "git", "monorepo", "accessibility", "performance", "logging",
    "migrations", "refactoring", "onboarding", "changelog", "tailwind", "flutter", "android", "ios", "pandas",
    "spark", "llm", "prompts", "mcp", "observability", "oauth", "bash", "powershell", "htmx", "deno", "bun",
)  # fmt: skip
KINDS = ("rules", "conventions", "review", "workflows", "skills", "guide", "kit", "standards", "helpers", "agent")
COMPANIES = (
    "acme", "initech", "globex", "umbrella", "hooli", "piedpiper", "stark", "wayne", "cyberdyne", "tyrell",
    "wonka", "soylent", "vandelay", "dunder", "aperture", "blackmesa", "oscorp", "gringotts", "monarch", "massive",
)  # fmt: skip
_PROSE = (  # words for READMEs' sentences
    "the agent should always prefer small focused changes and explain why each one is needed before it edits "
    "files keep functions short name things after what they do and never swallow errors silently when a test "
    "fails read the whole traceback first then reproduce it with the smallest input you can find prefer the "
    "standard library over new dependencies pin every version you add and record it in the lock file write "
    "docstrings that say why not what document public interfaces with examples that run and keep the "
    "changelog in step with each release run the linter and the formatter before you commit and make sure "
    "the continuous integration pipeline is green use feature flags for risky changes and roll them out "
    "slowly review the diff as a stranger would read it ask before deleting data or rewriting history"
)
PROSE = _PROSE.split()
TARGETS = ("windsurf", "cursor", "copilot", "claude", "agents", "gemini", "cline", "kiro", "junie")
LICENSES = ("MIT", "Apache-2.0", "BSD-3-Clause", "MPL-2.0", "ISC", "Apache-2.0 OR MIT", "GPL-3.0-only")
CODE = {
    "python": 'import {a}\n\n\ndef check_{b}(path: str) -> list[str]:\n    """Problems in one file."""\n'
    '    problems = []\n    with open(path, encoding="utf-8") as source:\n        for number, line in '
    'enumerate(source, 1):\n            if len(line) > 120:\n                problems.append(f"{{path}}:{{number}}: '
    'line too long")\n    return problems\n',
    "typescript": "import {{ {a} }} from './{b}';\n\nexport async function run{b}(input: string): Promise<string[]> "
    "{{\n  const items = input.split('\\n').filter(Boolean);\n  return Promise.all(items.map((item) => "
    "{a}(item)));\n}}\n",
    "sh": "#!/usr/bin/env bash\nset -euo pipefail\n# {a}: run the {b} checks the way CI does\nfor file in "
    '$(git diff --name-only origin/main); do\n  echo "checking $file"\n  ./scripts/check-{b}.sh "$file"\ndone\n',
    "yaml": "name: {a}\non:\n  pull_request:\n    paths: ['**/*.{b}']\njobs:\n  check:\n    runs-on: ubuntu-latest"
    "\n    steps:\n      - uses: actions/checkout@v4\n      - run: rigging install --frozen\n",
    "json": '{{\n  "name": "{a}/{b}",\n  "version": "1.0.0",\n  "dependencies": {{\n    "{a}/base": "^1.0.0"\n'
    '  }},\n  "targets": ["claude", "cursor"]\n}}\n',
}


# -- the catalogue --------------------------------------------------------------------------------


def _sentence(rng: random.Random, topics: list[str], words: int) -> str:
    picked = rng.choices(PROSE, k=words)
    picked[rng.randrange(words)] = f"`{rng.choice(topics)}`"
    if rng.random() < 0.3:
        link = rng.choice(topics)
        picked.insert(rng.randrange(words), f"[{link} guide](https://docs.example.dev/{link}/guide)")
    return " ".join(picked).capitalize() + "."


def _paragraph(rng: random.Random, topics: list[str]) -> str:
    return " ".join(_sentence(rng, topics, rng.randint(9, 22)) for _ in range(rng.randint(2, 5)))


def _readme(spec: dict[str, Any], version: str, rng: random.Random) -> str:
    """A README of a few KB as package authors write them: title, badges, contents, install,
    usage with code blocks and links, an options table, per-rule notes, changelog, licence."""
    name, topics = spec["name"], spec["keywords"]
    parts = [f"# {name}\n", f"{spec['description']}\n"]
    if spec["badges"]:
        parts.append(
            f"![version](https://img.shields.io/badge/version-{version}-blue) "
            f"![license](https://img.shields.io/badge/license-{spec['license'].split()[0]}-green)\n"
        )
    parts.append("## Contents\n")
    parts.extend(f"- `{path}`: {_sentence(rng, topics, 8)}" for path in spec["files"] if path.count("/") <= 2)
    parts.append(f"\n## Install\n\n```sh\nrigging add {name}\nrigging install\n```\n")
    parts.append("## Usage\n")
    for _ in range(spec["sections"]):
        parts.append(_paragraph(rng, topics) + "\n")
        language = rng.choice(tuple(CODE))
        parts.append(f"```{language}\n{CODE[language].format(a=topics[0], b=topics[-1])}```\n")
        parts.append(f"### {rng.choice(topics).capitalize()} {rng.choice(KINDS)}\n")
        parts.extend(f"- {_sentence(rng, topics, rng.randint(6, 14))}" for _ in range(rng.randint(2, 6)))
        parts.append("")
    parts.append("## Options\n\n| Option | Default | What it does |\n|---|---|---|")
    parts.extend(f"| `{t}.enabled` | `true` | {_sentence(rng, topics, 7)} |" for t in topics[:4])
    parts.append(f"\nSee the [documentation](https://{spec['namespace']}.example.dev/{name}) for more.\n")
    parts.append("## Changelog\n")
    parts.extend(
        f"- **{v}**: {_sentence(rng, topics, 6)}"
        for v in reversed(spec["versions"][: spec["versions"].index(version) + 1])
    )
    parts.append(f"\n## License\n\n{spec['license']}\n")
    return "\n".join(parts)


def catalogue(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """`count` package descriptions (no READMEs yet: they are written as the rows are)."""
    rng = random.Random(seed)
    namespaces = list(COMPANIES) + [
        f"{rng.choice(TOPICS)}-{rng.choice(('labs', 'team', 'dev', 'hq', 'oss'))}{n}" for n in range(280)
    ]
    weights = [1 / (rank + 1) ** 0.9 for rank in range(len(namespaces))]
    taken: set[str] = set()
    specs: list[dict[str, Any]] = []
    for _ in range(count):
        namespace = rng.choices(namespaces, weights=weights)[0]
        topics = rng.sample(TOPICS, rng.randint(2, 6))
        short = f"{topics[0]}-{rng.choice(KINDS)}"
        name = f"{namespace}/{short}"
        suffix = 2
        while name in taken:
            name = f"{namespace}/{short}-{suffix}"
            suffix += 1
        taken.add(name)
        shape = rng.random()
        count_versions = 5 if shape < 0.2 else 1 if shape < 0.6 else rng.randint(2, 4)
        major = rng.choice((0, 1, 1, 1, 2))
        versions = [f"{major}.{v}.{rng.randint(0, 3)}" for v in range(count_versions)]
        files = ["README.md", "rigging.json"]
        skills = []
        if rng.random() < 0.8:
            files += [f"rules/{t}-{rng.choice(KINDS)}.md" for t in topics[: rng.randint(1, 4)]]
        if rng.random() < 0.35:
            files += [f"workflows/{rng.choice(('release', 'review', 'deploy', 'triage'))}.md"]
        if rng.random() < 0.3 or len(files) == 2:
            for t in topics[: rng.randint(1, 3)]:
                skill = f"{t}-{rng.choice(('fixer', 'helper', 'checker', 'writer'))}"
                if any(s["name"] == skill for s in skills):
                    continue
                skills.append({"name": skill, "description": _sentence(rng, topics, 12)})
                files += [f"skills/{skill}/SKILL.md", f"skills/{skill}/scripts/run.sh"]
        if rng.random() < 0.25:
            files += ["docs/index.md", "docs/usage.md"]
        earlier = specs[-2000:]
        dependencies = {
            dep["name"]: f"^{dep['versions'][0]}"
            for dep in rng.sample(earlier, min(len(earlier), rng.choice((0, 0, 1, 1, 2, 3, 4))))
        }
        specs.append(
            {
                "name": name,
                "namespace": namespace,
                "keywords": topics,
                "description": f"{topics[0].capitalize()} {rng.choice(KINDS)} for coding agents: "
                + " ".join(rng.choices(PROSE, k=rng.randint(4, 14))),
                "versions": versions,
                "files": files,
                "skills": sorted(skills, key=lambda s: s["name"]),
                "dependencies": dependencies,
                "targets": [] if rng.random() < 0.5 else rng.sample(TARGETS, rng.randint(1, 4)),
                "license": rng.choice(LICENSES),
                "signed": rng.random() < 0.35,
                "badges": rng.random() < 0.4,
                # a few KB of README, a long one now and then
                "sections": rng.choice((1, 1, 2, 2, 2, 3, 3, 4, 5)) if rng.random() > 0.02 else rng.randint(12, 20),
                "downloads": int(200_000 / (rng.random() * count + 1) ** 0.9),
            }
        )
    return specs


def indexed_versions(specs: list[dict[str, Any]], seed: int = 11) -> Iterator[tuple[str, list[Any]]]:
    """(name, [store.IndexedVersion]) for each package, as the crawler would have read them."""
    from rigging_indexer.store import IndexedVersion

    start = datetime(2025, 1, 1, tzinfo=UTC)
    for spec in specs:
        rng = random.Random(f"{seed}:{spec['name']}")  # the same rows whichever writer writes them
        items = []
        for v, version in enumerate(spec["versions"]):
            config: dict[str, Any] = {
                "name": spec["name"],
                "version": version,
                "description": spec["description"],
                "keywords": spec["keywords"],
                "license": spec["license"],
                "authors": [{"name": f"{spec['namespace'].capitalize()} Engineering"}],
                "homepage": f"https://{spec['namespace']}.example.dev/",
                "repository": f"https://github.com/{spec['name']}",
            }
            if spec["dependencies"]:
                config["dependencies"] = spec["dependencies"]
            if spec["targets"]:
                config["targets"] = spec["targets"]
            if spec["skills"]:
                config["skills"] = spec["skills"]
            digest = "sha256:" + hashlib.sha256(f"{spec['name']}@{version}".encode()).hexdigest()
            content = "sha256:" + hashlib.sha256(f"{spec['name']}@{version}/content".encode()).hexdigest()
            readme = _readme(spec, version, rng)
            size = len(readme) + 1800 * len(spec["files"])
            items.append(
                IndexedVersion(
                    name=spec["name"],
                    version=version,
                    manifest_digest=digest,
                    content_digest=content,
                    content_size=size // 3,
                    config=config,
                    readme=readme,
                    files=spec["files"],
                    size=size,
                    signed_by=["bundle"] if spec["signed"] else [],
                    created=(start + timedelta(days=rng.randint(0, 400), seconds=v)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                )
            )
        yield spec["name"], items


TEMPLATES = {  # package folders the real scanner reports on; each latest version gets one's report
    "plain": {
        "rules/style.md": "---\ntrigger: always_on\n---\n# Style\n\nKeep functions short, as "
        "https://peps.python.org/pep-0008/ says.\n"
    },
    "skill": {
        "skills/fixer/SKILL.md": "---\nname: fixer\ndescription: Fixes failing tests.\n---\nRun the script.\n",
        "skills/fixer/scripts/run.sh": "#!/usr/bin/env bash\nset -euo pipefail\npytest -x --lf\n",
    },
    "network": {
        "rules/api.md": "---\ntrigger: model_decision\ndescription: APIs\n---\n# API\n\nCall "
        "https://api.github.com/repos and https://registry.npmjs.org/ for metadata.\n",
        "workflows/release.md": "# Release\n\n1. Tag.\n2. Push to https://ghcr.io/.\n",
    },
    "npx": {
        "skills/fmt/SKILL.md": "---\nname: fmt\ndescription: Formats.\n---\nRun it.\n",
        "skills/fmt/scripts/fmt.sh": "#!/bin/sh\nnpx -y prettier --write .\n",
    },
    "pip": {
        "skills/lint/SKILL.md": "---\nname: lint\ndescription: Lints.\n---\nRun it.\n",
        "skills/lint/scripts/setup.sh": "#!/bin/sh\npip install ruff requests\nruff check .\n",
    },
    "tools": {"skills/ops/SKILL.md": "---\nname: ops\ndescription: Operates.\nallowed-tools: Bash, Read\n---\n"},
    "hooks": {
        ".claude/settings.json": '{"hooks": {"PostToolUse": [{"command": "ruff format"}]}}\n',
        "rules/fmt.md": "# Format\n\nFormat on save.\n",
    },
}


def scan_templates() -> list[dict[str, Any]]:
    """The indexer's summary (rigging_indexer.scanning.summary) of the real scanner's report on
    each template package, minus any that would quarantine (block): the pages show pass and warn."""
    from rigging.scan import scan_package
    from rigging_indexer.scanning import summary

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, files in TEMPLATES.items():
            root = Path(tmp) / label
            manifest = {"name": f"bench/{label}", "version": "1.0.0", "description": label}
            for path, text in {"rigging.json": json.dumps(manifest), "README.md": f"# {label}\n", **files}.items():
                (root / path).parent.mkdir(parents=True, exist_ok=True)
                (root / path).write_text(text, encoding="utf-8")
            digests = {
                str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in root.rglob("*")
                if p.is_file()
            }
            result = summary(scan_package(root), digests)
            if result["verdict"] != "block":
                results.append(result)
    return results


SOURCE = "https://registry.bench.invalid"


def _write_share(job: tuple[str, int, int, int]) -> None:
    """Writer `share` of `shares`: every shares-th package of the catalogue, with its versions and tags."""
    from rigging_indexer import store
    from rigging_indexer.db import make_engine, sessions
    from sqlalchemy import text

    database, count, share, shares = job
    engine = make_engine(database)
    with sessions(engine)() as session:
        # not durable until the end: a crash only loses a throw-away database, and waiting for
        # each commit's WAL flush would be time spent on nothing the bench measures
        session.execute(text("SET synchronous_commit = off"))
        source = store.source_id(session, SOURCE)
        write_packages(session, source, indexed_versions(catalogue(count)[share::shares]), tags=True)
        session.commit()
    engine.dispose()


def seed(database: str, count: int, writers: int) -> dict[str, Any]:
    """The index: schema by the indexer's migrations, packages, latest versions and search documents,
    downloads, and a scan result for each latest version. Timings, and what the pages need."""
    from rigging.scan import RULES_VERSION
    from rigging_indexer import store
    from rigging_indexer.db import make_engine, migrate, sessions
    from rigging_indexer.models import Package, ScanResult
    from sqlalchemy import bindparam, insert, select, text, update

    timings: dict[str, float] = {}
    started = time.perf_counter()
    specs = catalogue(count)
    engine = make_engine(database)
    migrate(engine)
    factory = sessions(engine)
    templates = scan_templates()
    timings["setup_s"] = time.perf_counter() - started  # schema, catalogue, template scans
    with factory() as session:
        store.source_id(session, SOURCE)
        session.commit()
        engine.dispose()  # no open connection for the forked writers to inherit
        mark = time.perf_counter()
        # Writers in parallel, each a share of the packages (a package is one repository, written
        # alone, as the crawler's processes do): one writer spends half its time waiting on the
        # database's answers; two took 20,000 packages from about 240 s to about 130 s here.
        with ProcessPoolExecutor(max_workers=writers) as pool:
            list(pool.map(_write_share, [(database, count, share, writers) for share in range(writers)]))
        timings["versions_s"] = time.perf_counter() - mark
        mark = time.perf_counter()
        ids = dict(session.execute(select(Package.name, Package.id)).all())
        session.execute(
            update(Package.__table__).where(Package.__table__.c.id == bindparam("pid")),
            [{"pid": ids[spec["name"]], "downloads": spec["downloads"]} for spec in specs],
        )
        store.refresh_latest(session)  # after the downloads: search documents copy them
        session.commit()
        timings["latest_and_documents_s"] = time.perf_counter() - mark
        mark = time.perf_counter()
        rng = random.Random(13)
        scanned = datetime.now(UTC)
        rows = []
        latest = session.execute(select(Package.latest_version_id).where(Package.latest_version_id.is_not(None)))
        passing = [r for r in templates if r["verdict"] == "pass"]
        warning = [r for r in templates if r["verdict"] == "warn"] or passing
        for (version_id,) in latest:
            result = rng.choice(passing if rng.random() < 0.75 else warning)  # three in four pass
            rows.append(
                {
                    "version_id": version_id,
                    "rules_version": RULES_VERSION,
                    "full": True,
                    "semgrep": rng.random() < 0.9,
                    "verdict": result["verdict"],
                    "counts": result["counts"],
                    "findings": result["findings"],
                    "capabilities": result["capabilities"],
                    "file_digests": result["file_digests"],
                    "scanned": scanned,
                    "attestation": "sha256:" + hashlib.sha256(str(version_id).encode()).hexdigest(),
                }
            )
        for start in range(0, len(rows), 2000):
            session.execute(insert(ScanResult), rows[start : start + 2000])
        session.commit()
        timings["scan_results_s"] = time.perf_counter() - mark
        session.execute(text("ANALYZE"))  # as autovacuum would have by the time anyone browses
        session.commit()  # the planner's statistics are rows too: rolled back, they were never there
        totals = session.execute(
            text("SELECT (SELECT count(*) FROM packages), (SELECT count(*) FROM versions), "
                 "(SELECT count(*) FROM dependencies), (SELECT avg(length(readme)) FROM versions), "
                 "(SELECT count(*) FROM scan_results WHERE verdict = 'warn')")
        ).one()  # fmt: skip
    engine.dispose()
    timings["total_s"] = time.perf_counter() - started
    return {
        "seconds": timings,
        "packages": totals[0],
        "versions": totals[1],
        "dependencies": totals[2],
        "readme_bytes_mean": float(totals[3]),
        "scan_warn": totals[4],
        "templates": [r["verdict"] for r in templates],
    }


def _migrate(database: str) -> None:
    """What an operator does after an upgrade: migrate, then render the READMEs kept before."""
    from rigging_indexer.db import make_engine, migrate, sessions
    from rigging_indexer.store import render_readmes

    engine = make_engine(database)
    migrate(engine)
    render_readmes(sessions(engine))
    engine.dispose()


def index_contents(database: str) -> dict[str, Any]:
    """What the load needs from an index (seeded now or before): every package's page path,
    namespaces by size, and the packages whose pages are weighed."""
    from rigging_indexer.db import make_engine
    from sqlalchemy import text

    engine = make_engine(database)
    with engine.connect() as connection:
        names = [row[0] for row in connection.execute(text("SELECT name FROM packages ORDER BY id"))]
        namespaces = [
            row[0]
            for row in connection.execute(
                text("SELECT namespace FROM packages GROUP BY namespace ORDER BY count(*) DESC, namespace")
            )
        ]
        weighed = {}
        for label, query in (
            ("longest README", "ORDER BY length(v.readme) DESC"),
            ("most versions and dependencies", "ORDER BY (SELECT count(*) FROM versions w WHERE w.package_id = p.id)"
             " + (SELECT count(*) FROM dependencies d WHERE d.version_id = v.id) DESC"),
            ("signed, with skills", "WHERE v.signed_by::text LIKE '%bundle%' AND v.files::text LIKE '%skills/%' "
             "ORDER BY p.id"),
            ("typical", "ORDER BY abs(length(v.readme) - (SELECT percentile_disc(0.5) WITHIN GROUP "
             "(ORDER BY length(readme)) FROM versions)), p.id"),
        ):  # fmt: skip
            row = connection.execute(
                text(f"SELECT p.name FROM packages p JOIN versions v ON v.id = p.latest_version_id {query} LIMIT 1")  # noqa: S608 - constant fragments
            ).first()
            if row:
                weighed[label] = row[0]
    engine.dispose()
    return {"names": names, "namespaces": namespaces, "weighed": weighed}


def package_path(name: str) -> str:
    namespace, short = name.split("/", 1)
    return f"/packages/{namespace}/{short}"


def search_paths(namespaces: list[str]) -> list[str]:
    """Searches as people type them: one word, two words, a namespace facet, the skills kind,
    most downloaded first, a second page. About 25,000 different ones in a shuffled order, more
    than the portal's page cache holds (5,000 pages a process, 30 s at most), so that each is a
    real search, as every package page is a real rendering: the figure is the search's own cost."""
    rng = random.Random(17)
    words = list(TOPICS)
    words += [f"{a} {b}" for a in TOPICS for b in TOPICS if a != b]
    words += [f"{a} {kind}" for a in TOPICS for kind in KINDS]
    weights = [1 / (rank + 1) for rank in range(len(namespaces))]  # the big namespaces more often
    distinct = []
    for q in words:
        facets = [{}, {"sort": "downloads"}, {"kind": "skills"}, {"page": "2"}, {"namespace": ""}]
        for facet in rng.sample(facets, 4):
            if "namespace" in facet:
                facet = {"namespace": rng.choices(namespaces, weights=weights)[0]}
            distinct.append({"q": q, **facet})
    rng.shuffle(distinct)
    return [f"/search?{urlencode(query)}" for query in distinct]


# -- the portal -----------------------------------------------------------------------------------


@contextlib.contextmanager
def bench_database(keep: bool) -> Iterator[str]:
    """`rigging_bench_portal_<pid>` on the test server, dropped afterwards unless `keep`."""
    from tests.support.postgres import _admin_connection as _admin
    from tests.support.postgres import _with_database, server_url

    name = f"rigging_bench_portal_{os.getpid()}"
    with _admin(server_url()) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # a pid reused after a crash
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(server_url(), name)
    finally:
        if not keep:
            with _admin(server_url()) as connection:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def serving(database: str, workers: int) -> Iterator[str]:
    """`rigging-portal serve` on a free port, as users start it (its base URL once /healthz
    answers), stopped afterwards; its output is shown if it fails to come up."""
    from tests.support.services import free_port, stop, wait_http

    portal = str(Path(sys.executable).parent / "rigging-portal")
    port = free_port()
    command = [portal, "serve", "--database", database, "--host", "127.0.0.1", "--port", str(port)]
    if workers > 1:
        command += ["--workers", str(workers)]
    with tempfile.TemporaryFile("w+") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            base = f"http://127.0.0.1:{port}"
            try:
                wait_http(f"{base}/healthz", timeout=60, ok_statuses=(200,))
            except TimeoutError:
                log.seek(0)
                raise SystemExit(f"bench/portal.py: the portal did not come up:\n{log.read()[-3000:]}") from None
            yield base
        finally:
            stop(server)


def _get(base: str, path: str, gzip_ok: bool = False) -> tuple[int, dict[str, str], bytes]:
    """One GET, no redirect followed (a redirect is not the page): status, headers, raw body."""
    parts = urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.request("GET", path, headers={"Accept-Encoding": "gzip" if gzip_ok else "identity"})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def preflight(base: str, paths: list[str]) -> None:
    """Each path must answer 200 with HTML: a 404 or an error page is fast and would flatter wrk's figure."""
    wrong = []
    for path in paths:
        status, headers, _ = _get(base, path)
        if status != 200 or not headers.get("content-type", "").startswith("text/html"):
            wrong.append(f"{status} {headers.get('content-type', '')} {path}")
    if wrong:
        raise SystemExit(
            f"bench/portal.py: {len(wrong)} of {len(paths)} pages did not answer 200 with HTML "
            "(are the portal's package and search pages there?):\n  " + "\n  ".join(wrong[:10])
        )


class _Assets(html.parser.HTMLParser):
    """The stylesheets and scripts a page references."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "link" and "stylesheet" in (values.get("rel") or "").lower().split() and values.get("href"):
            self.found.append(values["href"] or "")
        elif tag == "script" and values.get("src"):
            self.found.append(values["src"] or "")


def page_weight(base: str, path: str) -> dict[str, Any]:
    """Bytes of a page's HTML plus its same-origin stylesheets and scripts: decoded, and as sent."""
    status, headers, raw = _get(base, path, gzip_ok=True)
    if status != 200:
        raise SystemExit(f"bench/portal.py: {path} answered {status}")
    body = gzip.decompress(raw) if headers.get("content-encoding") == "gzip" else raw
    parser = _Assets()
    parser.feed(body.decode("utf-8", "replace"))
    out = {"path": path, "html": len(body), "total": len(body), "wire": len(raw), "compressed": raw is not body}
    out["gzipped"] = len(gzip.compress(body, 6))  # what compression would send, when the portal does not
    out["assets"], out["elsewhere"] = [], []
    origin = urlsplit(base).netloc
    for href in dict.fromkeys(parser.found):
        url = urljoin(base + path, href)
        if urlsplit(url).netloc != origin:
            out["elsewhere"].append(url)  # another origin's file: not the portal's weight to measure here
            continue
        parts = urlsplit(url)
        status, headers, raw = _get(base, parts.path + (f"?{parts.query}" if parts.query else ""), gzip_ok=True)
        if status != 200:
            raise SystemExit(f"bench/portal.py: {path} references {href}, which answered {status}")
        data = gzip.decompress(raw) if headers.get("content-encoding") == "gzip" else raw
        out["assets"].append({"url": parts.path, "bytes": len(data), "wire": len(raw)})
        out["total"] += len(data)
        out["wire"] += len(raw)
        out["gzipped"] += len(gzip.compress(data, 6))
        out["compressed"] = out["compressed"] or raw is not data
    return out


BROWSER = {"Accept-Encoding": "gzip, deflate, br"}  # what every browser sends


def popular(paths: list[str], count: int, rng: random.Random) -> tuple[list[str], int]:
    """`count` requests drawn from `paths` with Zipf-like popularity (weight 1/rank, as the
    indexer bench's query_mix draws searches): a few pages are asked for often and most rarely, as
    on any package site; with the number of different ones drawn."""
    weights = [1 / (rank + 1) for rank in range(len(paths))]
    drawn = rng.choices(range(len(paths)), weights=weights, k=count)
    return [paths[i] for i in drawn], len(set(drawn))


def measure(database: str, args: argparse.Namespace) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        raise SystemExit("bench/portal.py: wrk is missing; install it (apt-get install -y wrk)")
    contents = index_contents(database)
    rng = random.Random(19)
    every = {"package": [package_path(name) for name in contents["names"]]}
    rng.shuffle(every["package"])  # popularity by a random rank, and cold runs walk unrelated packages
    every["search"] = search_paths(contents["namespaces"])
    lists: dict[str, list[str]] = {}
    results: dict[str, Any] = {}
    # every package page may be asked for; searches from a pool of 5,000, as the indexer bench's
    pools = {"package": every["package"], "search": every["search"][:5000]}
    for kind, paths in pools.items():
        lists[kind], results[f"distinct_{kind}"] = popular(paths, 100_000, rng)
        results[f"all_{kind}"] = len(paths)
    with serving(database, args.workers) as base:
        preflight(base, every["search"][:100] + every["package"][:100])
        results["weight"] = {
            label: page_weight(base, package_path(name)) for label, name in contents["weighed"].items()
        }
        # unmeasured: imports, template compilation, each process's pool, the database's caches, and
        # the page cache as a portal that has been up a while has it
        for paths in lists.values():
            _wrk(base, args.clients, args.warm, paths[len(paths) // 2 :], BROWSER)
        runs: dict[str, list[dict[str, Any]]] = {kind: [] for kind in lists}
        for run in range(args.runs):
            for kind, paths in lists.items():
                offset = run * len(paths) // (2 * args.runs)
                runs[kind].append(_wrk(base, args.clients, args.seconds, paths[offset:] + paths[:offset], BROWSER))
        # every request a different page, so the page cache never answers: the cost of rendering
        for kind, paths in every.items():
            runs[f"{kind}_cold"] = [_wrk(base, args.clients, args.seconds, paths, BROWSER)]
    for kind, measured in runs.items():
        ordered = sorted(measured, key=lambda r: r["p95_ms"])
        results[kind] = {
            **ordered[len(ordered) // 2],
            "p95_runs_ms": [round(r["p95_ms"], 1) for r in measured],
            "non_2xx_total": sum(r["non_2xx"] for r in measured),
            "socket_errors_total": sum(r["socket_errors"] for r in measured),
        }
    return results


def build_report(results: dict[str, Any], args: argparse.Namespace) -> Report:
    seeded = results.get("seed")
    size = f"{seeded['packages']} packages, {seeded['versions']} versions" if seeded else "a given index"
    report = Report(f"portal: {size}; {args.workers} server processes, {args.clients} clients")
    if seeded:
        s = seeded["seconds"]
        report.figure(
            "(a) seeding the index",
            s["total_s"],
            "s",
            note=f"versions {s['versions_s']:.0f} s, latest and search documents {s['latest_and_documents_s']:.0f} s, "
            f"scan results {s['scan_results_s']:.1f} s; README mean {seeded['readme_bytes_mean'] / 1000:.1f} KB, "
            f"{seeded['dependencies']} dependency edges, {seeded['scan_warn']} latest versions warn",
        )
    for kind, label, goal in (
        (
            "package",
            f"package page (Zipf over {results['all_package']}: {results['distinct_package']} drawn)",
            PAGE_GOAL_MS,
        ),
        (
            "search",
            f"search page (Zipf over {results['all_search']}: {results['distinct_search']} drawn)",
            SEARCH_GOAL_MS,
        ),
    ):
        run = results[kind]
        how = f"closed loop, {args.clients} conns"
        runs = f"median of {args.runs} runs of {args.seconds} s" if args.runs > 1 else f"{args.seconds} s"
        note = (
            f"{runs}: {run['p95_runs_ms']}; {run['requests_per_s']:.0f} req/s, non-2xx {run['non_2xx_total']}, "
            f"socket errors {run['socket_errors_total']}; wrk used {run['generator_cpu_s']:.1f} CPU s"
        )
        report.figure(f"(b) {label} P50, {how}", run["p50_ms"], "ms")
        report.goal(f"(b) {label} P95, {how}", run["p95_ms"], "ms", "<=", goal, note=note)
        report.figure(f"(b) {label} P99, {how}", run["p99_ms"], "ms")
    for kind, label in (("package_cold", "package page"), ("search_cold", "search page")):
        run = results[kind]
        report.figure(
            f"(b) {label}, every request a different page (the cache never answers) P95",
            run["p95_ms"],
            "ms",
            note=f"P50 {run['p50_ms']:.0f} ms, {run['requests_per_s']:.0f} req/s: the cost of rendering, not a goal",
        )
    report.figure(
        "(b) load average (1 min) when the bench started",
        results["load_average"],
        "",
        note=f"{os.cpu_count()} CPUs; work of others above about 0.5 slows and scatters the figures",
    )
    weights = results["weight"]
    if weights:
        label, heaviest = max(weights.items(), key=lambda item: item[1]["total"])
        others = "; ".join(f"{k}: {v['total'] / 1000:.0f} KB" for k, v in weights.items() if k != label)
        assets = "+".join(str(a["bytes"]) for a in heaviest["assets"]) or "none"
        report.goal(
            f"(c) package page weight, HTML + same-origin CSS/JS (heaviest of {len(weights)})",
            heaviest["total"] / 1000,
            "KB",
            "<=",
            WEIGHT_GOAL_KB,
            note=f"{label}: HTML {heaviest['html']} B, assets {assets} B; the others: {others}"
            + (f"; {len(heaviest['elsewhere'])} files from other origins not counted" if heaviest["elsewhere"] else ""),
        )
        if heaviest["compressed"]:
            report.figure("(c) the same on the wire (gzip)", heaviest["wire"] / 1000, "KB")
        else:
            report.figure(
                "(c) the same gzip'd, were the portal to compress", heaviest["gzipped"] / 1000, "KB", note="it does not"
            )
    return report


def main() -> int:
    parser = sized_parser(__doc__, "packages", 20_000, 2_000)
    parser.add_argument("--runs", type=int, default=3, help="measured runs of each page (the median's P95 is checked)")
    parser.add_argument("--seconds", type=int, default=10, help="length of each measured run")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--warm", type=int, default=30, help="seconds of unmeasured load on each page first")
    # one: on 2 cores shared with PostgreSQL and wrk it measured faster than two (package pages 671
    # against 402 req/s, cold searches 618 against 342), and one process's page cache warms twice as fast
    parser.add_argument("--workers", type=int, default=1, help="portal server processes")
    parser.add_argument("--writers", type=int, default=2, help="processes writing the index when seeding")
    parser.add_argument("--keep", action="store_true", help="keep the seeded database and print its URL")
    parser.add_argument("--database", help="an index seeded before (by --keep): no seeding, not dropped")
    args = parse_sized(parser)
    if args.quick:
        args.runs, args.seconds, args.warm = 1, 3, 3
    # before the bench does anything: what else this machine is running (tests, other benchmarks)
    # shares its cores with the portal, the database and wrk, and makes the figures slower and noisier
    results: dict[str, Any] = {"load_average": os.getloadavg()[0]}
    with contextlib.nullcontext(args.database) if args.database else bench_database(args.keep) as database:
        if not args.database:
            results["seed"] = seed(database, args.packages, args.writers)
        else:
            _migrate(database)  # kept from before the indexer's schema moved on: the portal refuses it
        results.update(measure(database, args))
        if args.keep and not args.database:
            print(f"bench/portal.py: kept the index at {database}", file=sys.stderr)
    status = build_report(results, args).finish(results, args.json)
    bad = {
        kind: (results[kind]["non_2xx_total"], results[kind]["socket_errors_total"])
        for kind in ("package", "search", "package_cold", "search_cold")
    }
    if any(sum(counts) for counts in bad.values()):
        # a failed answer is fast: the figures above would flatter the portal
        raise SystemExit(f"bench/portal.py: failed requests under load (non-2xx, socket errors): {bad}")
    return status


if __name__ == "__main__":
    sys.exit(main())
