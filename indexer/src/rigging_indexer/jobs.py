"""The crawl job table: several workers share it; a killed worker's job comes back when its lease runs out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text, update
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


def claim(session: Session, worker: str, lease_seconds: float) -> CrawlJob | None:
    """Take one queued job, or a running one whose lease expired; None when there is none."""
    lease = now() + timedelta(seconds=lease_seconds)
    skip_locked = " FOR UPDATE SKIP LOCKED" if session.get_bind().dialect.name == "postgresql" else ""
    row = session.execute(
        text(
            "SELECT id FROM crawl_jobs WHERE state = 'queued' OR (state = 'running' AND lease_until < :now) "
            f"ORDER BY id LIMIT 1{skip_locked}"
        ),
        {"now": now()},
    ).first()
    if row is None:
        session.commit()
        return None
    session.execute(
        update(CrawlJob)
        .where(CrawlJob.id == row.id)
        .values(state="running", lease_until=lease, worker=worker, attempts=CrawlJob.attempts + 1, updated=now())
    )
    session.commit()
    return session.get(CrawlJob, row.id)


def finish(session: Session, job_id: int, error: str | None = None) -> None:
    session.execute(
        update(CrawlJob)
        .where(CrawlJob.id == job_id)
        .values(state="failed" if error else "done", error=error, lease_until=None, updated=now())
    )
    session.commit()


def pending(session: Session) -> int:
    return (
        session.scalar(
            text(
                "SELECT count(*) FROM crawl_jobs WHERE state = 'queued' OR (state = 'running' AND lease_until < :now)"
            ),
            {"now": now()},
        )
        or 0
    )


def running(session: Session) -> int:
    return session.scalar(text("SELECT count(*) FROM crawl_jobs WHERE state = 'running'")) or 0
