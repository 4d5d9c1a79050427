"""The reviewer's API: the queue of held versions, approve and reject, the audit log, and the
index's attestation public key.

Reviewers are members with the `reviewer` role of a namespace's organisation, for that namespace;
admins review everywhere. To anyone else these routes, and every held version, answer 404, the
answer for a path that does not exist: a private namespace's held version must not be learnt of.
Session-cookie requests pass the CSRF middleware like every other write.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from rigging_indexer import scanning, store
from rigging_indexer.access import Viewer
from rigging_indexer.auth import request_viewer
from rigging_indexer.models import AuditEntry, Package, Repository, ScanResult, Source, Version

NOT_FOUND = "Not Found"


class Decision(BaseModel):
    reason: str = Field("", max_length=4000)


def held_reason(s: Session, version_id: int) -> str | None:
    """Why the scanner last held a version (the audit log says), for the queue."""
    return s.scalar(
        select(AuditEntry.reason)
        .where(AuditEntry.version_id == version_id, AuditEntry.action == "quarantine")
        .order_by(AuditEntry.id.desc())
        .limit(1)
    )


def version_entry(s: Session, version: Version, package: Package, repo: Repository, src: Source) -> dict[str, Any]:
    """A version as reviewers and maintainers see it: scan findings, capabilities, review state."""
    result = s.get(ScanResult, version.id)
    return {
        "id": version.id,
        "package": package.name,
        "namespace": package.namespace,
        "version": version.version,
        "manifest": version.manifest_digest,
        "registry": store.registry_host(src.url),
        "repository": repo.path,
        "ref": store.package_ref(src.url, repo.path),
        "quarantined": version.quarantined,
        "review": version.review,
        "held": held_reason(s, version.id) if version.quarantined else None,
        "scan": scanning.result_dict(result),
        "capabilities": result.capabilities if result is not None else None,
        "indexed": version.indexed.isoformat() if version.indexed else None,
    }


def may_review_any(viewer: Viewer) -> bool:
    return viewer.admin or bool(viewer.reviews)


def queue_items(s: Session, viewer: Viewer, limit: int, ca_file: str | None) -> list[dict[str, Any]]:
    """Held versions this viewer reviews, oldest first, with findings and a diff against the
    package's previous visible version."""
    query = (
        store.placed_versions()
        .where(Version.quarantined.is_(True), Version.deleted.is_(False), Version.review != "rejected")
        .order_by(Version.id)
        .limit(limit)
    )
    if not viewer.admin:
        query = query.where(Package.namespace.in_(sorted(viewer.reviews)))
    items = []
    for version, package, repo, src in s.execute(query).all():
        entry = version_entry(s, version, package, repo, src)
        entry["diff"] = changes = scanning.diff(s, version)
        if changes is not None and changes["changed"]:
            changes["text"] = scanning.text_changes(s, version.id, changes["against_id"], changes["changed"], ca_file)
        items.append(entry)
    return items


def decide_version(
    s: Session,
    viewer: Viewer,
    version_id: int,
    decision: str,
    reason: str,
    *,
    key: Any,
    ca_file: str | None,
    invalidate: Callable[[], None],
) -> dict[str, Any]:
    """A reviewer approves or rejects a version (404 for anyone who may not review it); an
    approval or rejection attestation is pushed beside it when the index has a key."""
    if not may_review_any(viewer):
        raise HTTPException(404, NOT_FOUND)
    # the version's row locked until the decision commits: a full scan finishing meanwhile waits
    chosen = store.placed_versions().where(Version.id == version_id, Version.deleted.is_(False))
    found = s.execute(chosen.with_for_update(of=Version)).first()
    if found is None or not viewer.may_review(found[1].namespace):
        raise HTTPException(404, NOT_FOUND)
    if viewer.token_id is not None and "publish" not in viewer.scopes:
        raise HTTPException(403, "deciding needs a token with the publish scope")
    reason = reason.strip()
    if decision == "reject" and not reason:
        raise HTTPException(422, "a rejection needs a reason")
    version, package, repo, src = found
    scanned = s.get(ScanResult, version.id)
    if decision == "approve" and (scanned is None or not scanned.full):
        # an approval covers the findings the reviewer saw: Semgrep's too, which come seconds later
        raise HTTPException(409, "this version's full scan has not finished; approve it once it has")
    actor = viewer.username or f"token {viewer.token_id}"
    scanning.decide(s, version, package, decision, reason, actor, viewer.user_id)
    s.commit()
    invalidate()
    out: dict[str, Any] = {"id": version.id, "review": version.review, "quarantined": version.quarantined}
    if key is not None and not src.url.startswith("oci:"):
        out["attestation"] = _attest_decision(version, repo, src, decision, actor, reason, key, ca_file)
    return out


def _attest_decision(
    version: Version,
    repo: Repository,
    src: Source,
    decision: str,
    actor: str,
    reason: str,
    key: Any,
    ca_file: str | None,
) -> str | None:
    """The signed decision (approved or rejected), pushed with the source's credentials; None
    when the push failed (the decision stands; the error is on the server's output)."""
    import sys

    from rigging.errors import RiggingError

    client = scanning.open_client(src.url, ca_file)
    try:
        data, media_type, digest = client.get_manifest(repo.path, version.manifest_digest)
        subject = {"mediaType": media_type, "digest": digest, "size": len(data)}
        outcome = {"approve": "approved", "reject": "rejected"}[decision]
        predicate = scanning.review_predicate(outcome, actor, reason)
        return scanning.push_attestation(client, key, src.url, repo.path, subject, "approval", predicate)
    except (RiggingError, OSError) as exc:
        print(f"rigging-indexer: approval attestation for {repo.path}: {exc}", file=sys.stderr, flush=True)
        return None
    finally:
        client.close()


def audit_entries(s: Session, viewer: Viewer, limit: int, offset: int) -> list[dict[str, Any]]:
    """Every moderation decision this viewer reviews, newest first: the scanner's and reviewers'."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit).offset(offset)
    if not viewer.admin:
        query = query.where(AuditEntry.namespace.in_(sorted(viewer.reviews)))
    return [
        {
            "id": e.id,
            "at": e.at.isoformat() if e.at else None,
            "actor": e.actor,
            "action": e.action,
            "version_id": e.version_id,
            "package": e.package,
            "version": e.version,
            "manifest": e.manifest_digest,
            "reason": e.reason,
        }
        for e in s.scalars(query)
    ]


def router(
    sessions: Callable[[], Session],
    *,
    moderation: str,
    key: Any,
    ca_file: str | None,
    invalidate: Callable[[], None],
) -> APIRouter:
    api = APIRouter()

    def session() -> Any:
        with sessions() as s:
            yield s

    def reviewer(viewer: Viewer) -> Viewer:
        if not may_review_any(viewer):
            raise HTTPException(404, NOT_FOUND)
        return viewer

    @api.get("/api/v1/review/queue")
    def queue(
        viewer: Viewer = Depends(request_viewer),
        s: Session = Depends(session),
        limit: int = Query(100, ge=1, le=500),
    ) -> dict[str, Any]:
        """Held versions this viewer reviews, oldest first, with findings and a diff against the
        package's previous visible version."""
        reviewer(viewer)
        return {"items": queue_items(s, viewer, limit, ca_file), "moderation": moderation}

    def _decide(version_id: int, decision: str, body: Decision, viewer: Viewer, s: Session) -> dict[str, Any]:
        return decide_version(
            s, viewer, version_id, decision, body.reason, key=key, ca_file=ca_file, invalidate=invalidate
        )

    @api.post("/api/v1/review/{version_id}/approve")
    def approve(
        version_id: int, body: Decision, viewer: Viewer = Depends(request_viewer), s: Session = Depends(session)
    ) -> dict[str, Any]:
        """Release a held version (a blocked one included); an approval attestation is pushed."""
        return _decide(version_id, "approve", body, viewer, s)

    @api.post("/api/v1/review/{version_id}/reject")
    def reject(
        version_id: int, body: Decision, viewer: Viewer = Depends(request_viewer), s: Session = Depends(session)
    ) -> dict[str, Any]:
        """Keep a version out (a visible one is withdrawn); `reason` is required."""
        return _decide(version_id, "reject", body, viewer, s)

    @api.get("/api/v1/review/audit")
    def audit_log(
        viewer: Viewer = Depends(request_viewer),
        s: Session = Depends(session),
        limit: int = Query(100, ge=1, le=1000),
        offset: int = Query(0, ge=0),
    ) -> dict[str, Any]:
        """Every moderation decision, newest first: the scanner's and reviewers'."""
        reviewer(viewer)
        return {"entries": audit_entries(s, viewer, limit, offset)}

    @api.get("/api/v1/keys/attestation.pub")
    def attestation_key() -> Response:
        """The public key the index signs its scan and approval attestations with."""
        if key is None:
            raise HTTPException(404, "this index signs no attestations (start it with --attestation-key)")
        return Response(scanning.public_key_pem(key), media_type="application/x-pem-file")

    return api
