"""The figures of the stats page: what the viewer may see of the index, and how the crawl and
the scans are doing (counts by state only, as the indexer's /api/v1/stats: no names)."""

from __future__ import annotations

from typing import Any

from rigging_indexer.access import Viewer
from sqlalchemy import func, select
from sqlalchemy.orm import Session


def figures(s: Session, viewer: Viewer) -> dict[str, Any]:
    from rigging_indexer import jobs, scanning, store
    from rigging_indexer.models import CrawlJob, Package, ScanJob, ScanResult, Version

    totals = store.stats(s, viewer)
    shown = store.visible(viewer, Package.namespace) & Package.latest_version_id.is_not(None)
    verdicts = dict(
        s.execute(
            select(ScanResult.verdict, func.count())
            .join(Version, Version.id == ScanResult.version_id)
            .join(Package, Package.id == Version.package_id)
            .where(shown, Version.deleted.is_(False), Version.quarantined.is_(False))
            .group_by(ScanResult.verdict)
        ).all()
    )
    crawl = dict(s.execute(select(CrawlJob.state, func.count()).group_by(CrawlJob.state)).all())
    last_crawl = s.scalar(select(func.max(CrawlJob.updated)).where(CrawlJob.state == "done"))
    scans = dict(s.execute(select(ScanJob.state, func.count()).group_by(ScanJob.state)).all())
    return {
        "totals": totals,
        "verdicts": verdicts,
        "crawl": {"jobs": crawl, "pending": jobs.pending(s), "last_done": last_crawl},
        "scan": {"jobs": scans, "pending": scanning.pending(s), "rules": scanning.RULES_VERSION},
        "downloads_by_day": downloads_by_day(s, viewer),
    }


def downloads_by_day(s: Session, viewer: Viewer, days: int = 30) -> list[tuple[str, int]]:
    """Downloads per day over the last `days`, of packages the viewer may see (empty before any)."""
    from rigging_indexer import store

    return store.downloads_by_day(s, viewer, days)
