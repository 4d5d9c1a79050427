"""The package page and its tabs. The overview reads the index alone (it is the page most
visited, and the benchmarked one); the Skills, Rules, Workflows, Docs and agent-preview tabs read
the version's layers from its registry (rigging_portal.content), and Versions reads its
signatures there too. Each tab is its own URL, so every one of them works without JavaScript."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from rigging.project import ALL_TARGETS
from rigging_indexer.access import Viewer
from rigging_indexer.db import retrying
from rigging_indexer.models import Namespace, Package, Repository, ScanResult, Source, Version
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, defer
from sqlalchemy.orm.attributes import set_committed_value

from rigging_portal.web import keyword_signature, page, viewer, with_session

TABS = (
    ("", "Readme"),
    ("skills", "Skills"),
    ("rules", "Rules"),
    ("workflows", "Workflows"),
    ("docs", "Docs"),
    ("versions", "Versions"),
    ("dependencies", "Dependencies"),
    ("security", "Security"),
    ("agent", "What your agent gets"),
)
GRAPH_DEPTH = 4
GRAPH_NODES = 60
R = TypeVar("R")
VERSION = Query(None, max_length=128)
PACKAGE_PARAMETERS = (
    inspect.Parameter("namespace", inspect.Parameter.KEYWORD_ONLY, annotation=str),
    inspect.Parameter("name", inspect.Parameter.KEYWORD_ONLY, annotation=str),
    inspect.Parameter("version", inspect.Parameter.KEYWORD_ONLY, default=VERSION, annotation=str | None),
)


@dataclass
class Shown:
    """The package and the version a page shows, as this viewer may see them."""

    package: Package
    ref: str  # REGISTRY/NS/NAME (or oci:PATH)
    registry: str
    version: Version
    repo: Repository
    src: Source
    versions: list[tuple[Version, Repository, Source]]  # visible ones, newest first
    held: list[tuple[Version, Repository, Source]]  # quarantined ones, for those who may see them
    latest_id: int | None
    scan: ScanResult | None
    verified: bool

    @property
    def is_latest(self) -> bool:
        return self.version.id == self.latest_id

    @property
    def install(self) -> str:
        if self.is_latest:
            return f"rigging add {self.ref}"
        return f"rigging add {self.ref}:{self.version.version}"

    def counts(self) -> dict[str, int]:
        files = list(self.version.files or [])
        skills = {p.split("/")[1] for p in files if p.startswith("skills/") and p.endswith("/SKILL.md")}
        return {
            "skills": len(skills),
            "rules": sum(1 for p in files if p.startswith("rules/") and p.endswith(".md") and p.count("/") == 1),
            "workflows": sum(
                1 for p in files if p.startswith("workflows/") and p.endswith(".md") and p.count("/") == 1
            ),
        }


def find(s: Session, who: Viewer, namespace: str, name: str, version: str | None, order: list[str]) -> Shown:
    from rigging_indexer import store

    full = f"{namespace}/{name}"
    found = store.find_package(s, who, full, order=order)
    missing = HTTPException(404, f"package {full} is not in the index")
    if found is None:
        raise missing
    package = found.package
    versions = store.package_versions(s, package, brief=True)
    held = store.version_rows(s, package, quarantined=True, brief=True) if who.may_see_held(package.namespace) else []
    chosen = None
    if version:
        chosen = next((row for row in versions if row[0].version == version), None) or next(
            (row for row in held if row[0].version == version), None
        )
        if chosen is None:
            raise HTTPException(404, f"{full} has no version {version} in the index")
    elif package.latest_version_id is not None:
        chosen = next((row for row in versions if row[0].id == package.latest_version_id), None)
    if chosen is None:
        chosen = versions[0] if versions else (held[-1] if held else None)
    if chosen is None:  # nothing this viewer may see: the same answer as a package that does not exist
        raise missing
    # The shown version's own columns, its scan and whether its namespace is owned, in one round
    # trip: a page that is not cached is a few queries, and each costs as much as rendering it.
    # The README's text, the config and the findings stay unread until a tab reads them.
    shown = chosen[0]
    row = s.execute(_shown_query(), {"version_id": shown.id, "namespace": package.namespace}).one()
    for column in ("files", "readme_html", "readme_renderer"):
        set_committed_value(shown, column, row._mapping[column])
    return Shown(
        package,
        found.ref,
        found.registry,
        shown,
        chosen[1],
        chosen[2],
        versions,
        held,
        package.latest_version_id,
        row.ScanResult,
        bool(row.owned),
    )


@functools.cache  # built once, as the store's page reads are
def _shown_query() -> Any:
    """A version's files and README HTML, its scan without the findings, and whether someone owns
    its namespace (a verified publisher)."""
    owned = select(Namespace.id).where(Namespace.name == bindparam("namespace")).exists().label("owned")
    return (
        select(Version.files, Version.readme_html, Version.readme_renderer, ScanResult, owned)
        .outerjoin(ScanResult, ScanResult.version_id == Version.id)
        .where(Version.id == bindparam("version_id"))
        .options(defer(ScanResult.findings), defer(ScanResult.file_digests))
    )


def stored_readme(version: Version) -> str | None:
    """The README as safe HTML as rendered when it was indexed; None if another renderer made it."""
    from rigging_indexer.markdown_html import RENDERER

    if version.readme_html is not None and version.readme_renderer == RENDERER:
        return version.readme_html
    return None


@functools.lru_cache(maxsize=1024)
def markdown_html(text: str) -> str:
    """Rendered once per process for the same text: hostile Markdown can take seconds to parse
    (rigging_indexer.markdown_html), and most pages show the same few documents again."""
    from rigging_indexer.markdown_html import render_markdown

    return render_markdown(text)


def with_package(route: Callable[..., R]) -> Callable[..., R]:
    """A package tab's route: it names the package and version in the URL and is given `p`, the
    package as this viewer may see it, and `s`, if it asks, from a session in its own thread."""
    wants_session = "s" in inspect.signature(route).parameters

    @functools.wraps(route)
    def run(*, s: Session, request: Request, namespace: str, name: str, version: str | None, **values: Any) -> R:
        p = find(s, values["who"], namespace, name, version, request.app.state.settings.sources)
        return route(request=request, p=p, **values, **({"s": s} if wants_session else {}))

    run.__signature__ = keyword_signature(route, drop={"p"}, extra=PACKAGE_PARAMETERS)  # type: ignore[attr-defined]
    return with_session(run)


def router() -> APIRouter:
    pages = APIRouter()

    def render(request: Request, tab: str, shown: Shown, who: Viewer, **context: Any) -> HTMLResponse:
        return page(
            request,
            f"package/{tab or 'readme'}.html",
            who=who,
            p=shown,
            tab=tab,
            tabs=TABS,
            counts=shown.counts(),
            base=f"/packages/{shown.package.name}",
            query=f"?version={shown.version.version}" if not shown.is_latest else "",
            **context,
        )

    def contents(request: Request, p: Shown) -> Any:
        store = request.app.state.contents
        return store.get(p.src.url, p.repo.path, p.version.manifest_digest, p.package.name, p.version.version)

    def overview_page(
        request: Request, namespace: str, name: str, version: str | None, who: Viewer, *, on_loop: bool
    ) -> HTMLResponse | None:
        """The overview, or None when `on_loop` and its README must be rendered first."""
        settings = request.app.state.settings
        with (settings.reader if on_loop else settings.sessions)() as s:
            p = find(s, who, namespace, name, version, settings.sources)
            readme = stored_readme(p.version)
            if readme is None:
                if on_loop and p.version.readme:
                    return None
                readme = markdown_html(p.version.readme) if p.version.readme else ""
            return render(request, "", p, who, readme=readme)

    @pages.get("/packages/{namespace}/{name}", response_class=HTMLResponse)
    async def overview(
        request: Request, namespace: str, name: str, version: str | None = VERSION, who: Viewer = Depends(viewer)
    ) -> HTMLResponse:
        """The page most visited, served on the event loop: three indexed reads on an autocommit
        connection and a template, with no hop to the thread pool. Through the pool, pages not
        cached queued behind each other for the GIL: on bench/portal.py's load the P95 was
        160-245 ms there and 42-77 ms here, the same code otherwise. A README indexed by another
        renderer (seconds of Markdown for a hostile one) is rendered in the pool instead."""
        found = retrying(lambda: overview_page(request, namespace, name, version, who, on_loop=True))
        if found is None:
            found = await run_in_threadpool(overview_page, request, namespace, name, version, who, on_loop=False)
        return found

    @pages.get("/packages/{namespace}/{name}/skills", response_class=HTMLResponse)
    @with_package
    def skills(request: Request, p: Shown, who: Viewer = Depends(viewer)) -> HTMLResponse:
        from rigging_indexer.markdown_html import split_frontmatter

        found = contents(request, p)
        items = []
        for skill in found.package.skills if found.package else []:
            skill_md = next((f.data for f in skill.files if f.path == "SKILL.md"), b"")
            front, body = split_frontmatter(skill_md.decode("utf-8", "replace"))
            items.append(
                {
                    "name": skill.name,
                    "description": skill.description,
                    "front": front,
                    "body": markdown_html(body),
                    "files": [(f.path, len(f.data), f.executable) for f in skill.files],
                }
            )
        return render(request, "skills", p, who, items=items, problem=found.problem)

    @pages.get("/packages/{namespace}/{name}/rules", response_class=HTMLResponse)
    @with_package
    def rules(request: Request, p: Shown, who: Viewer = Depends(viewer)) -> HTMLResponse:
        found = contents(request, p)
        items = [
            {
                "stem": rule.stem,
                "trigger": rule.trigger,
                "description": rule.description,
                "globs": rule.globs,
                "body": markdown_html(rule.body),
            }
            for rule in (found.package.rules if found.package else [])
        ]
        return render(request, "rules", p, who, items=items, problem=found.problem)

    @pages.get("/packages/{namespace}/{name}/workflows", response_class=HTMLResponse)
    @with_package
    def workflows(request: Request, p: Shown, who: Viewer = Depends(viewer)) -> HTMLResponse:
        found = contents(request, p)
        items = [
            {"stem": flow.stem, "description": flow.description, "body": markdown_html(flow.body)}
            for flow in (found.package.workflows if found.package else [])
        ]
        return render(request, "workflows", p, who, items=items, problem=found.problem)

    @pages.get("/packages/{namespace}/{name}/docs", response_class=HTMLResponse)
    @pages.get("/packages/{namespace}/{name}/docs/{doc:path}", response_class=HTMLResponse)
    @with_package
    def docs(request: Request, p: Shown, doc: str = "", who: Viewer = Depends(viewer)) -> HTMLResponse:
        found = contents(request, p)
        paths = [path for path, _ in found.docs]
        if doc and doc not in paths:
            raise HTTPException(404, f"{p.package.name} {p.version.version} has no docs/{doc}")
        current = doc or (paths[0] if paths else "")
        body = next((data for path, data in found.docs if path == current), b"")
        if current.endswith(".md"):
            shown_doc = markdown_html(body.decode("utf-8", "replace"))
            raw = None
        else:  # JSON and other allowed kinds: shown as text
            shown_doc, raw = "", body.decode("utf-8", "replace")
        return render(
            request, "docs", p, who, paths=paths, current=current, doc=shown_doc, raw=raw, problem=found.problem
        )

    @pages.get("/packages/{namespace}/{name}/versions", response_class=HTMLResponse)
    @with_package
    def versions(request: Request, p: Shown, s: Session, who: Viewer = Depends(viewer)) -> HTMLResponse:
        ids = [v.id for v, _, _ in p.versions + p.held]
        verdicts = dict(
            s.execute(select(ScanResult.version_id, ScanResult.verdict).where(ScanResult.version_id.in_(ids))).all()
        )
        signatures, attestations, problem = _vouchers(request, p)
        return render(
            request,
            "versions",
            p,
            who,
            verdicts=verdicts,
            signatures=signatures,
            attestations=attestations,
            problem=problem,
        )

    @pages.get("/packages/{namespace}/{name}/dependencies", response_class=HTMLResponse)
    @with_package
    def dependencies(request: Request, p: Shown, s: Session, who: Viewer = Depends(viewer)) -> HTMLResponse:
        from rigging_portal.graph_data import dependency_graph, dependents
        from rigging_portal.render.graph import dependency_svg

        order = request.app.state.settings.sources
        edges, direct = dependency_graph(s, who, p.version, order, depth=GRAPH_DEPTH, nodes=GRAPH_NODES)
        indexed = {e["name"] for e in direct if e["indexed"]} | {b for _, b, _ in edges}
        svg = dependency_svg(
            p.package.name, edges, href=lambda n: f"/packages/{n}" if n in indexed or n == p.package.name else None
        )
        return render(request, "dependencies", p, who, direct=direct, svg=svg, dependents=dependents(s, who, p))

    @pages.get("/packages/{namespace}/{name}/security", response_class=HTMLResponse)
    @with_package
    def security(request: Request, p: Shown, who: Viewer = Depends(viewer)) -> HTMLResponse:
        from rigging_indexer import scanning

        return render(request, "security", p, who, result=scanning.result_dict(p.scan))

    @pages.get("/packages/{namespace}/{name}/agent", response_class=HTMLResponse)
    @with_package
    def agent(
        request: Request,
        p: Shown,
        target: str = Query("claude", max_length=16),
        who: Viewer = Depends(viewer),
    ) -> HTMLResponse:
        from rigging.errors import RiggingError

        from rigging_portal.content import agent_files

        if target not in ALL_TARGETS:
            raise HTTPException(404, f"no agent target {target!r}; choose one of {', '.join(ALL_TARGETS)}")
        found = contents(request, p)
        files, warnings, problem = [], [], found.problem
        if found.package is not None:
            try:
                files, warnings = agent_files(found.package, target)
            except RiggingError as exc:
                problem = str(exc)
        return render(
            request,
            "agent",
            p,
            who,
            target=target,
            targets=ALL_TARGETS,
            files=files,
            warnings=warnings,
            problem=problem,
        )

    return pages


def _vouchers(request: Request, p: Shown) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str | None]:
    """The signatures and attestations stored beside the shown version, as they claim to be."""
    from rigging.errors import RiggingError
    from rigging.package_info import vouchers
    from rigging_indexer.scanning import open_client

    if p.src.url.startswith("oci:"):
        return [], [], None
    client = open_client(p.src.url, request.app.state.settings.ca_file)
    try:
        signatures, attestations = vouchers(client, p.repo.path, p.version.manifest_digest)
        return signatures, attestations, None
    except (RiggingError, OSError) as exc:
        return [], [], f"the registry could not be asked for signatures: {exc}"
    finally:
        client.close()
