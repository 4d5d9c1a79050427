"""The crawl job table: several workers share it; a killed worker's job comes back when its lease runs out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from rigging_indexer.models import CrawlJob


def now() -> datetime:
    return datetime.now(UTC)


def enqueue(session: Session, source_id: int, paths: list[str]) -> None:
    existing = {j.path: j for j in session.scalars(select(CrawlJob).where(CrawlJob.source_id == source_id))}
    for path in paths:
        job = existing.get(path)
        if job is None:
            session.add(CrawlJob(source_id=source_id, path=path, state="queued", attempts=0))
        elif job.state != "running" or (job.lease_until and _aware(job.lease_until) < now()):
            job.state, job.lease_until, job.error = "queued", None, None
    session.flush()


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # SQLite returns naive datetimes


def claim(session: Session, worker: str, lease_seconds: float, count: int = 1) -> list[tuple[int, int, str]]:
    """Take up to `count` queued jobs, or running ones whose lease expired: (id, source id, path).
    One statement: claiming a job at a time was a round trip per repository."""
    rows = claim_from(session, "crawl_jobs", "id, source_id, path", worker, lease_seconds, count)
    return sorted((row.id, row.source_id, row.path) for row in rows)


def claim_from(
    session: Session,
    table: str,
    returning: str,
    worker: str,
    lease_seconds: float,
    count: int,
    ready: str = "",
    values: dict | None = None,
) -> list:
    """The claim of a job table (crawl_jobs, scan_jobs): queued rows, or running ones whose lease
    ran out, taken with FOR UPDATE SKIP LOCKED where the database has it; `ready` narrows them."""
    moment = now()
    skip_locked = " FOR UPDATE SKIP LOCKED" if session.get_bind().dialect.name == "postgresql" else ""
    rows = session.execute(
        text(
            f"UPDATE {table} SET state = 'running', lease_until = :lease, worker = :worker, "
            f"attempts = attempts + 1, updated = :now WHERE id IN (SELECT id FROM {table} "
            f"WHERE (state = 'queued' OR (state = 'running' AND lease_until < :now)){ready} "
            f"ORDER BY id LIMIT :count{skip_locked}) RETURNING {returning}"
        ),
        {
            "lease": moment + timedelta(seconds=lease_seconds),
            "worker": worker,
            "now": moment,
            "count": count,
            **(values or {}),
        },
    ).all()
    session.commit()
    return list(rows)


def finish(
    session: Session, outcomes: dict[int, str | None], table: str = "crawl_jobs", *, worker: str | None = None
) -> None:
    """Mark jobs done, or failed with their error; with `worker`, only those it still holds (one
    whose lease ran out may have gone to another worker since)."""
    if outcomes:
        mine = " AND worker = :worker" if worker else ""
        session.execute(
            text(
                f"UPDATE {table} SET state = :state, error = :error, lease_until = NULL, updated = :now "
                f"WHERE id = :id{mine}"
            ),
            [
                {
                    "id": job,
                    "state": "failed" if error else "done",
                    "error": error[:2000] if error else None,
                    "now": now(),
                    "worker": worker,
                }
                for job, error in outcomes.items()
            ],
        )
    session.commit()


def pending(session: Session, table: str = "crawl_jobs", ready: str = "", values: dict | None = None) -> int:
    """Jobs a worker could claim now (`ready` narrows them, as in `claim_from`)."""
    claimable = "(state = 'queued' OR (state = 'running' AND lease_until < :now))"
    query = text(f"SELECT count(*) FROM {table} WHERE {claimable}{ready}")
    return session.scalar(query, {"now": now(), **(values or {})}) or 0


def running(session: Session, besides: str | None = None) -> int:
    """Jobs claimed and not finished (by workers other than `besides`)."""
    others = " AND (worker IS NULL OR worker <> :besides)" if besides else ""
    query = text(f"SELECT count(*) FROM crawl_jobs WHERE state = 'running'{others}")
    return session.scalar(query, {"besides": besides}) or 0


def record_problem(session: Session, source_id: int, path: str, error: str) -> None:
    """A repository's problem found outside a crawl (a push notification): its job row says failed,
    with why, where admins look for crawl problems; the next crawl of it tries again."""
    job = session.scalar(select(CrawlJob).where(CrawlJob.source_id == source_id, CrawlJob.path == path))
    if job is None:
        job = CrawlJob(source_id=source_id, path=path, attempts=0)
        session.add(job)
    job.state, job.error, job.lease_until, job.updated = "failed", error, None, now()
    job.attempts = (job.attempts or 0) + 1
    session.flush()
