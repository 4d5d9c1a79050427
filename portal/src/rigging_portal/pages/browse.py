"""Home, search and stats: the pages anyone may read, each showing only what the viewer may see
(the indexer's store applies visibility to every query)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from rigging.project import ALL_TARGETS
from rigging_indexer.access import Viewer
from rigging_indexer.search import MAX_FILTER_CHARS, MAX_QUERY_CHARS
from sqlalchemy.orm import Session

from rigging_portal.web import page, reading_index, viewer

PAGE_SIZE = 20
MAX_PAGE = 50  # 1,000 results: deeper than anyone reads, and the count stops there
SORTS = {"relevance": "Best match", "downloads": "Most downloaded", "updated": "Recently updated"}


def router() -> APIRouter:
    pages = APIRouter()

    @pages.get("/", response_class=HTMLResponse)
    @reading_index
    def home(s: Session, request: Request, who: Viewer = Depends(viewer)) -> HTMLResponse:
        from rigging_indexer import search, store

        totals = store.stats(s, who)
        recent = search.search(s, "", sort="updated", limit=8, viewer=who)
        popular = search.search(s, "", sort="downloads", limit=8, viewer=who)
        return page(request, "home.html", who=who, totals=totals, recent=recent, popular=popular)

    @pages.get("/search", response_class=HTMLResponse)
    @reading_index
    def search_page(
        s: Session,
        request: Request,
        q: str = Query("", max_length=MAX_QUERY_CHARS),
        namespace: str = Query("", max_length=MAX_FILTER_CHARS),
        keyword: str = Query("", max_length=MAX_FILTER_CHARS),
        target: str = Query("", max_length=MAX_FILTER_CHARS),
        kind: str = Query("", max_length=MAX_FILTER_CHARS),
        signed: bool = False,
        verified: bool = False,
        sort: str = Query("relevance", max_length=16),
        page_number: int = Query(1, alias="page", ge=1, le=MAX_PAGE),
        who: Viewer = Depends(viewer),
    ) -> HTMLResponse:
        from rigging_indexer import search

        sort = sort if sort in SORTS else "relevance"
        filters: dict[str, Any] = {
            "namespace": namespace or None,
            "keyword": keyword or None,
            "target": target or None,
            "kind": kind if kind in search.KINDS else None,
            "signed": True if signed else None,
            "verified": True if verified else None,
        }
        offset = (page_number - 1) * PAGE_SIZE
        hits, total_found = search.search_counted(
            s, q, **filters, sort=sort, limit=PAGE_SIZE, offset=offset, viewer=who
        )
        # a page that is not full says the total itself, as does a search with words (it counted
        # them all as it ranked them); else counted as far as the deepest page there is
        if 0 < len(hits) < PAGE_SIZE:
            total = offset + len(hits)
        elif total_found is not None:
            total = total_found
        else:
            total = search.count(s, q, **filters, viewer=who, at_most=MAX_PAGE * PAGE_SIZE + 1)
        chosen = {
            "q": q,
            "namespace": namespace,
            "keyword": keyword,
            "target": target,
            "kind": filters["kind"] or "",
            "signed": "1" if signed else "",
            "verified": "1" if verified else "",
            "sort": sort if sort != "relevance" else "",
        }

        def link(**change: Any) -> str:
            values = {**chosen, "page": "", **{k: ("" if v is None else str(v)) for k, v in change.items()}}
            return "/search?" + urlencode({k: v for k, v in values.items() if v})

        pages_total = max(1, min(MAX_PAGE, -(-total // PAGE_SIZE)))
        return page(
            request,
            "search.html",
            who=who,
            q=q,
            hits=hits,
            total=total,
            more=total > MAX_PAGE * PAGE_SIZE,
            chosen=chosen,
            link=link,
            page_number=page_number,
            pages_total=pages_total,
            sorts=SORTS,
            kinds=search.KINDS,
            targets=ALL_TARGETS,
        )

    @pages.get("/stats", response_class=HTMLResponse)
    @reading_index
    def stats_page(s: Session, request: Request, who: Viewer = Depends(viewer)) -> HTMLResponse:
        from rigging_portal import health

        return page(request, "stats.html", who=who, **health.figures(s, who))

    return pages
