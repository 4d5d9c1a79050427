"""The reviewer dashboard: the moderation queue with findings and the diff against the previous
visible version, approve or reject with a reason, and the audit log. The decisions are the
indexer's own (rigging_indexer.review), so the API and the dashboard cannot disagree; to anyone
who reviews nothing these pages do not exist (404), as the API's routes do not."""

from __future__ import annotations

import re
from functools import cache
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from rigging_indexer.access import Viewer
from sqlalchemy.orm import Session

from rigging_portal.web import page, viewer, with_session

NOT_FOUND = "Not Found"
DONE = re.compile(r"(approved|rejected) version \d+( \(attestation sha256:[0-9a-f]{12}\))?")


def router() -> APIRouter:
    pages = APIRouter()

    async def reviewer(who: Viewer = Depends(viewer)) -> Viewer:
        from rigging_indexer.review import may_review_any

        if not may_review_any(who):
            raise HTTPException(404, NOT_FOUND)
        return who

    @pages.get("/review", response_class=HTMLResponse)
    @with_session
    def queue(
        s: Session,
        request: Request,
        done: str = Query("", max_length=200),
        who: Viewer = Depends(reviewer),
    ) -> HTMLResponse:
        from rigging_indexer.review import queue_items

        settings = request.app.state.settings
        items = queue_items(s, who, 100, settings.ca_file)
        # only what the decision route itself says: a crafted link must not put words on this page
        said = done if DONE.fullmatch(done) else ""
        return page(request, "review/queue.html", who=who, items=items, done=said, moderation=settings.moderation)

    @pages.post("/review/{version_id}/{decision}")
    @with_session
    def decide(
        s: Session,
        request: Request,
        version_id: int,
        decision: str,
        reason: str = Form("", max_length=4000),
        who: Viewer = Depends(reviewer),
    ) -> RedirectResponse:
        from rigging_indexer.auth.csrf import require_csrf
        from rigging_indexer.review import decide_version

        require_csrf(request)  # the middleware has checked the form's token; a request without one never gets here
        if decision not in ("approve", "reject"):
            raise HTTPException(404, NOT_FOUND)
        settings = request.app.state.settings
        out = decide_version(
            s, who, version_id, decision, reason, key=_key(settings), ca_file=settings.ca_file, invalidate=_nothing
        )
        said = f"{'approved' if decision == 'approve' else 'rejected'} version {version_id}"
        if out.get("attestation"):
            said += f" (attestation {out['attestation'][:19]})"
        return RedirectResponse("/review?" + urlencode({"done": said}), status_code=303)

    @pages.get("/review/audit", response_class=HTMLResponse)
    @with_session
    def audit(
        s: Session,
        request: Request,
        page_number: int = Query(1, alias="page", ge=1, le=10_000),
        who: Viewer = Depends(reviewer),
    ) -> HTMLResponse:
        from rigging_indexer.review import audit_entries

        entries = audit_entries(s, who, 100, (page_number - 1) * 100)
        return page(request, "review/audit.html", who=who, entries=entries, page_number=page_number)

    return pages


def _nothing() -> None:
    """The portal keeps no search cache: the indexer's notices changes through the database."""


@cache
def _loaded_key(path: str, password: str | None) -> Any:
    from rigging_indexer.scanning import load_key

    return load_key(path, password)


def _key(settings: Any) -> Any:
    if not settings.attestation_key:
        return None
    return _loaded_key(settings.attestation_key, settings.attestation_key_password)
