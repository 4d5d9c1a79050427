"""The publisher console (signed-in maintainers): upload a package folder or archive, see what
`rigging validate` and the publish gate say about it (each problem at its line) with a preview of
every file, and publish it into the namespace's registry; and the personal tokens page.

Stateless, as every portal page: an upload lives in a temporary folder for one request and is
gone when the answer is sent; nothing is kept between requests but the signed session cookie.

Who publishes: the portal checks the signed-in user's grant (`Viewer.may_publish` of the
package's namespace, the same rule the indexer's registry token service applies), then pushes
with the portal's own registry credentials (the docker config of the account it runs as). The
registry trusts the portal, the portal trusts only the grant; a user without one gets 403 and
nothing is pushed.

Only browser sessions use the console: a Bearer token (which needs no CSRF token) is refused, so a
read-only token cannot mint tokens or publish here.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from rigging_indexer.access import Viewer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.types import Message

from rigging_portal.upload import (
    MAX_FILES,
    MAX_PREVIEW_CHARS,
    Unpacked,
    UploadRefused,
    changelog_section,
    lines_of,
    unpack_archive,
    unpack_files,
)
from rigging_portal.web import page, viewer, who_is, with_session

# Routes that read a multipart form's csrf_token themselves (rigging_indexer.auth.csrf): the
# middleware does not read file uploads, so these call check_form_token before anything else.
MULTIPART_PATHS = frozenset({"/console/upload"})
SIGN_IN_FIRST = "sign in to use the publisher console"
BROWSER_ONLY = "the publisher console is for signed-in browsers; tokens publish with `rigging publish`"
MAX_FORM_FIELDS = 16
MAX_PREVIEW_BODY = MAX_PREVIEW_CHARS * 4 + 1024  # JSON escapes can make text up to 6x longer; plenty
MAX_TOKEN_DAYS = 365


def router() -> APIRouter:
    pages = APIRouter()

    @pages.get("/console", response_class=HTMLResponse)
    def console(request: Request, who: Viewer = Depends(viewer)) -> HTMLResponse:
        return page(request, "console/index.html", who=who, namespaces=_namespaces(who))

    @pages.post("/console/upload", response_model=None)
    async def upload(request: Request) -> Response:
        who = who_is(request)
        if who.anonymous:
            return _refused(request, who, SIGN_IN_FIRST, 403)
        settings = request.app.state.settings
        try:
            form = await _read_form(request, settings.max_upload_bytes)
        except UploadRefused as exc:
            return _refused(request, who, exc.message, exc.status)
        from rigging_indexer.auth.csrf import check_form_token, require_csrf

        token = form.get("csrf_token")
        check_form_token(request, token if isinstance(token, str) else None)
        require_csrf(request)
        if who.token_id is not None or who.user_id is None:
            return _refused(request, who, BROWSER_ONLY, 403)
        action = form.get("action")
        if action not in ("check", "publish"):
            return _refused(request, who, "choose Check or Publish", 400)
        try:
            sent = await _sent_files(form)
        except UploadRefused as exc:
            return _refused(request, who, exc.message, exc.status)
        return await run_in_threadpool(_handle, request, who, str(action), sent)

    @pages.post("/console/preview")
    async def preview(request: Request) -> JSONResponse:
        from rigging_indexer.auth.csrf import require_csrf

        who = who_is(request)
        if who.anonymous or who.token_id is not None:
            return JSONResponse({"detail": SIGN_IN_FIRST}, status_code=403)
        require_csrf(request)  # the middleware checked the X-CSRF-Token header of this session's request
        too_long = f"preview at most {MAX_PREVIEW_CHARS} characters"
        try:
            body = await _capped_body(request, MAX_PREVIEW_BODY, too_long)
        except UploadRefused as exc:
            return JSONResponse({"detail": exc.message}, status_code=exc.status)
        try:
            text = json.loads(body).get("text")
        except (ValueError, AttributeError):
            text = None
        if not isinstance(text, str):
            return JSONResponse({"detail": 'send {"text": "…"}'}, status_code=400)
        if len(text) > MAX_PREVIEW_CHARS:
            return JSONResponse({"detail": too_long}, status_code=413)
        return JSONResponse({"html": await run_in_threadpool(_markdown_html, text)})

    @pages.get("/console/tokens", response_class=HTMLResponse)
    @with_session
    def tokens(s: Session, request: Request, revoked: int | None = None, who: Viewer = Depends(viewer)) -> HTMLResponse:
        _session_user(who)
        return _tokens_page(request, who, s, revoked=revoked)

    @pages.post("/console/tokens", response_class=HTMLResponse)
    @with_session
    def create_token(
        s: Session,
        request: Request,
        name: str = Form("", max_length=100),
        scopes: list[str] = Form([]),  # noqa: B008 - FastAPI's way to read repeated fields
        namespaces: str = Form("", max_length=2000),
        days: int = Form(90, ge=1, le=MAX_TOKEN_DAYS),
        who: Viewer = Depends(viewer),
    ) -> HTMLResponse:
        from rigging_indexer.auth.csrf import require_csrf
        from rigging_indexer.auth.tokens import describe, issue

        require_csrf(request)  # the middleware checked this urlencoded form's token
        user_id = _session_user(who)
        wanted = sorted(set(namespaces.replace(",", " ").split()))
        problem = None
        if not name.strip():
            problem = "give the token a name (where it will be used, e.g. 'laptop')"
        elif not scopes or not set(scopes) <= {"read", "publish"}:
            problem = "choose the token's scopes: read, publish or both"
        elif outside := [ns for ns in wanted if ns not in who.roles]:
            problem = f"not among your namespaces: {', '.join(outside)}"
        if problem is not None:
            return _tokens_page(request, who, s, problem=problem, status=400)
        token, plaintext = issue(
            s,
            user_id=user_id,
            name=name.strip(),
            scopes=sorted(set(scopes)),
            namespaces=wanted or None,
            lifetime=timedelta(days=days),
        )
        s.commit()
        # the plaintext is in this answer only: not in a URL, a cookie or the database
        return _tokens_page(request, who, s, created={**describe(token), "token": plaintext}, status=201)

    @pages.post("/console/tokens/{token_id}/revoke")
    @with_session
    def revoke_token(s: Session, request: Request, token_id: int, who: Viewer = Depends(viewer)) -> RedirectResponse:
        from rigging_indexer.auth.csrf import require_csrf
        from rigging_indexer.auth.tokens import revoke

        require_csrf(request)
        if not revoke(s, _session_user(who), token_id):
            raise HTTPException(404, f"you have no token {token_id}")
        s.commit()
        return RedirectResponse(f"/console/tokens?revoked={token_id}", status_code=303)

    return pages


# -- reading the upload ----------------------------------------------------------------------------


async def _capped_body(request: Request, limit: int, message: str) -> bytes:
    """The body, refused (413) as soon as more than `limit` bytes have come: a declared length
    over it is refused before anything is read, a chunked body when its count passes it."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise UploadRefused(message, 413)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise UploadRefused(message, 413)
        chunks.append(chunk)
    return b"".join(chunks)


async def _read_form(request: Request, limit: int) -> Any:
    megabytes = f"{limit / (1024 * 1024):.0f} MB" if limit >= 1024 * 1024 else f"{limit} bytes"
    body = await _capped_body(request, limit, f"the upload is over {megabytes}, the most the portal takes")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "multipart/form-data":
        raise UploadRefused("send the form as multipart/form-data (the upload form does)", 400)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    from starlette.formparsers import MultiPartException

    try:
        return await Request(request.scope, replay).form(
            max_files=MAX_FILES + 1, max_fields=MAX_FORM_FIELDS, max_part_size=limit
        )
    except MultiPartException as exc:
        raise UploadRefused(f"the form cannot be read: {exc.message}", 400) from None
    except HTTPException as exc:  # Starlette's answer to a form it cannot parse
        raise UploadRefused(f"the form cannot be read: {exc.detail}", 400) from None


@dataclass
class Sent:
    archive: bytes | None = None
    files: list[tuple[str, bytes]] = field(default_factory=list)


async def _sent_files(form: Any) -> Sent:
    archive = form.get("archive")
    if isinstance(archive, UploadFile) and archive.filename:
        if not archive.filename.endswith((".tar.gz", ".tgz")):
            raise UploadRefused("the archive must be a .tar.gz (or .tgz) of the package folder")
        return Sent(archive=await archive.read())
    uploads = [f for f in form.getlist("files") if isinstance(f, UploadFile) and f.filename]
    if not uploads:
        raise UploadRefused("choose a package folder or a .tar.gz archive to upload")
    paths_field = form.get("paths")
    # console.js sends each file's path within the dropped folder here, one a line, in file order;
    # without it, the filename a browser sends for a chosen folder is that path
    named = paths_field.split("\n") if isinstance(paths_field, str) and paths_field.strip() else []
    named = [p.rstrip("\r") for p in named]
    if len(named) != len(uploads):
        named = [f.filename or "" for f in uploads]
    return Sent(files=[(path, await f.read()) for path, f in zip(named, uploads, strict=True)])


# -- checking and publishing -----------------------------------------------------------------------


def _handle(request: Request, who: Viewer, action: str, sent: Sent) -> Response:
    folder = Path(tempfile.mkdtemp(prefix="rigging-upload-"))
    try:
        try:
            unpacked = (
                unpack_archive(sent.archive, folder) if sent.archive is not None else unpack_files(sent.files, folder)
            )
        except UploadRefused as exc:
            return _refused(request, who, exc.message, exc.status)
        result = _inspect(folder, unpacked, who)
        if action == "publish":
            if result["blocked_reason"]:
                return page(
                    request, "console/result.html", status=422, who=who, refusal=result["blocked_reason"], **result
                )
            if not result["may_publish"]:
                return _refused(request, who, result["publish_reason"], 403)
            return _publish(request, who, folder, result["name"], result["version"])
        return page(request, "console/result.html", who=who, refusal=None, **result)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _inspect(folder: Path, unpacked: Unpacked, who: Viewer) -> dict[str, Any]:
    """What the result page shows: validation problems and gate findings at their lines, every
    file previewed, whether this viewer may publish it, and a release notes draft."""
    from rigging.scan.package import scan_package
    from rigging.validation import validate_package

    report = validate_package(folder)
    findings = scan_package(folder, validate=False).findings
    index = {path: number for number, path in enumerate(unpacked.files, start=1)}
    flagged: dict[str, set[int]] = {}

    def where(file: str | None, line: int | None) -> str | None:
        if file is None or file not in index:
            return None
        if line:
            flagged.setdefault(file, set()).add(line)
            return f"#file-{index[file]}-L{line}"
        flagged.setdefault(file, set())
        return f"#file-{index[file]}"

    problems = [
        {
            "code": p.code,
            "severity": p.severity,
            "message": p.message,
            "location": p.location(),
            "hint": p.effective_hint,
            "href": where(p.file, p.line),
        }
        for p in report.problems
    ]
    shown = [
        {
            "rule": f.rule,
            "severity": f.severity,
            "reason": f.reason,
            "fix": f.fix,
            "location": f"{f.file}:{f.line}" if f.line else f.file,
            "href": where(f.file, f.line),
        }
        for f in findings
    ]
    files = [_file_view(folder, path, index[path], flagged.get(path)) for path in unpacked.files]
    manifest = report.manifest if isinstance(report.manifest, dict) else {}
    name = manifest.get("name") if isinstance(manifest.get("name"), str) else None
    version = manifest.get("version") if isinstance(manifest.get("version"), str) else None
    namespace = name.split("/", 1)[0] if name and "/" in name else None
    may_publish, publish_reason = _grant(who, name, namespace)
    blocking = [f for f in findings if f.severity == "block"]
    blocked_reason = None
    if report.errors:
        blocked_reason = f"not published: `rigging validate` finds {len(report.errors)} error(s); fix them first"
    elif blocking:
        rules = ", ".join(sorted({f.rule for f in blocking}))
        blocked_reason = f"not published: the publish gate finds {len(blocking)} blocking finding(s) ({rules})"
    changelog = next((f for f in files if f["path"] == "CHANGELOG.md" and f["text"] is not None), None)
    return {
        "name": name,
        "version": version,
        "namespace": namespace,
        "problems": problems,
        "errors": len(report.errors),
        "warnings": len(report.warnings),
        "findings": shown,
        "blocking": len(blocking),
        "files": files,
        "top": unpacked.top,
        "hidden": unpacked.hidden,
        "has_git": unpacked.has_git,
        "release_notes": changelog_section(changelog["text"]) if changelog else None,
        "may_publish": may_publish and blocked_reason is None,
        "publish_reason": publish_reason,
        "blocked_reason": blocked_reason,
        "namespaces": _namespaces(who),
    }


def _grant(who: Viewer, name: str | None, namespace: str | None) -> tuple[bool, str]:
    if not name or not namespace:
        return False, "not published: rigging.json names no namespace/name package"
    if namespace not in who.publishable or not who.may_publish(namespace):
        return False, f"not allowed: you may not publish into the namespace {namespace!r}"
    return True, f"you may publish into {namespace}"


def _file_view(folder: Path, path: str, number: int, flagged: set[int] | None) -> dict[str, Any]:
    """One file for the page: ids are `file-N` (N its place in the sorted list), never the path:
    a package's text must not name the page's elements."""
    data = (folder / path).read_bytes()
    view: dict[str, Any] = {"path": path, "id": f"file-{number}", "size": len(data), "text": None}
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return view
    if "\0" in text:
        return view
    view["text"] = text
    view["markdown"] = path.endswith(".md")
    if view["markdown"]:
        from rigging_indexer.markdown_html import render_markdown, split_frontmatter

        front, body = split_frontmatter(text)
        view["frontmatter"] = front
        view["html"] = render_markdown(body)
    if flagged is not None:
        view["lines"] = [(n, line, n in flagged) for n, line in enumerate(lines_of(text), start=1)]
    return view


def _markdown_html(text: str) -> str:
    """The live preview's HTML: the frontmatter as escaped text, the body through render_markdown
    (markdown-it without raw HTML, then nh3), so console.js may put it in the page as it is."""
    import html

    from rigging_indexer.markdown_html import render_markdown, split_frontmatter

    front, body = split_frontmatter(text)
    head = f'<pre class="frontmatter">{html.escape(front)}</pre>' if front else ""
    return head + render_markdown(body)


def _publish(request: Request, who: Viewer, folder: Path, name: str, version: str) -> Response:
    """Push the checked folder as the CLI's `rigging publish` does (the same gate), into where the
    package already lives or the first configured source, then index the push at once."""
    from rigging.errors import RiggingError
    from rigging.scan.gate import PublishBlockedError, publish_check
    from rigging.transfer import publish
    from rigging_indexer.crawler import Crawler

    settings = request.app.state.settings
    try:
        source, repository, target, plain_http = _target(settings, who, name)
    except UploadRefused as exc:
        return _refused(request, who, exc.message, exc.status)
    try:
        result = publish(
            str(folder), target, plain_http=plain_http, ca_file=settings.ca_file, check=publish_check(None)
        )
    except PublishBlockedError as exc:
        return _refused(request, who, str(exc), 422)
    except RiggingError as exc:
        status = 409 if "already holds" in str(exc) else 502
        return _refused(request, who, f"not published: {exc}", status)
    crawler = Crawler(settings.sessions, ca_file=settings.ca_file, moderation=settings.moderation)
    try:
        crawler.index_push(source, repository, result["tags"][0], result["digest"])
    except RiggingError as exc:  # pushed but not indexed: the next crawl indexes it
        return _refused(
            request, who, f"published {name} {version}, but indexing it failed ({exc}); the next crawl will", 502
        )
    finally:
        crawler.close()
    return RedirectResponse(f"/packages/{name}?version={version}", status_code=303)


def _target(settings: Any, who: Viewer, name: str) -> tuple[str, str, str, bool]:
    """(source URL, repository path, publish target, plain http) for package `name`."""
    from rigging_indexer import store
    from rigging_indexer.crawler import parse_source
    from rigging_indexer.models import Repository, Version
    from sqlalchemy import select

    with settings.sessions() as s:
        found = store.find_package(s, who, name, order=settings.sources)
        repository = None
        if found is not None:
            source = found.source.url
            repository = s.scalar(
                select(Repository.path)
                .join(Version, Version.repository_id == Repository.id)
                .where(Version.package_id == found.package.id)
                .order_by(Version.id.desc())
                .limit(1)
            )
        elif settings.sources:
            source = settings.sources[0]
        else:
            raise UploadRefused("not published: the portal has no registry configured (`sources` in its config)", 503)
    kind, where, prefix = parse_source(source)
    if kind == "layout":
        # a store of ns/name layouts, unless the source is itself one package's layout
        single = (Path(where) / "oci-layout").is_file()
        return source, repository or name, f"oci:{where}" if single else f"oci:{Path(where) / name}", False
    repository = repository or (f"{prefix}/{name}" if prefix else name)
    return source, repository, f"{where}/{repository}", kind == "http"


# -- small parts -------------------------------------------------------------------------------------


def _namespaces(who: Viewer) -> list[dict[str, str]]:
    return [{"name": ns, "role": who.roles.get(ns, "")} for ns in sorted(who.publishable)]


def _session_user(who: Viewer) -> int:
    if who.anonymous:
        raise HTTPException(403, SIGN_IN_FIRST)
    if who.token_id is not None or who.user_id is None:
        raise HTTPException(403, BROWSER_ONLY)
    return who.user_id


def _refused(request: Request, who: Viewer, message: str, status: int) -> HTMLResponse:
    return page(request, "console/refused.html", status=status, who=who, status_code=status, detail=message)


def _tokens_page(
    request: Request,
    who: Viewer,
    s: Session,
    *,
    created: dict[str, Any] | None = None,
    problem: str | None = None,
    revoked: int | None = None,
    status: int = 200,
) -> HTMLResponse:
    from rigging_indexer.auth.tokens import describe, personal_tokens

    assert who.user_id is not None
    rows = [describe(t) for t in personal_tokens(s, who.user_id)]
    return page(
        request,
        "console/tokens.html",
        status=status,
        who=who,
        tokens=rows,
        created=created,
        problem=problem,
        revoked=revoked,
        namespaces=sorted(who.roles),
    )
