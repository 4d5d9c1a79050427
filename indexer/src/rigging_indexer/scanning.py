"""Scanning and moderation: what the index decides about each version it indexes (DESIGN §7, §10).

Two scans, so no moment passes in which a malicious version is visible:

- inline, in the crawler (and the push webhook), on the content layer it has already downloaded:
  the built-in checks of `rigging.scan` (validation problems included where the core reports
  them), no Semgrep. Its verdict and the namespace's moderation decide, in the very transaction
  that writes the version, whether it is quarantined;
- full, by scan workers taking `scan_jobs` (FOR UPDATE SKIP LOCKED, as crawl jobs): built-ins plus
  Semgrep over a batch of versions at once; it stores the result, may quarantine later, and pushes
  a signed scan attestation (oci-media-types/SPEC.md, "Attestations the index makes").

A version is quarantined when a reviewer rejected it, or, unless a reviewer approved it under the
current rules, when it has a `block` finding or its namespace's moderation holds it (`flagged`:
warn or block findings; `all`: every new version). Quarantined versions are not searchable, not
listed, not resolvable and never a package's latest (store.refresh_latest_on reads the flag).
"""

from __future__ import annotations

import itertools
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rigging.archive import iter_layer, write_files
from rigging.errors import RiggingError
from rigging.scan import RULES_VERSION, ScanReport, scan_package
from rigging.scan.semgrep import TIMEOUT_SECONDS as SEMGREP_TIMEOUT_SECONDS
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from rigging_indexer import jobs, store
from rigging_indexer.models import (
    MODERATION_MODES,
    AuditEntry,
    Namespace,
    Package,
    Repository,
    ScanJob,
    ScanResult,
    Source,
    Version,
)

log = logging.getLogger("rigging_indexer.scanning")
SCANNER = "rigging-indexer"  # the audit log's actor for the scanner's own decisions
MAX_STORED_FINDINGS = 500  # per version; the attestation carries the first 100 (SPEC)
MAX_ATTESTED_FINDINGS = 100


def now() -> datetime:
    return datetime.now(UTC)


# -- running the scanner -----------------------------------------------------------------------------


def extract_layer(content: bytes, title: str, label: str, folder: Path, docs: bytes | None = None) -> dict[str, str]:
    """Write a content layer's files under `folder`, and the docs layer's (if any) under `docs/`
    as a pull with docs does, so that the scan sees what `rigging scan DIR` saw before publish
    (both checked by iter_layer as untrusted); {path: sha256 hex} of each, which reviewers' diffs
    compare."""
    entries = iter_layer(content, title, label=label)
    if docs is not None:
        in_docs = iter_layer(docs, "docs", docs=True, label=f"{label} docs layer")
        entries = itertools.chain(entries, (("docs/" + rel, data) for rel, data in in_docs))
    return write_files(entries, folder)


def summary(report: ScanReport, file_digests: dict[str, str]) -> dict[str, Any]:
    """What the index keeps of a scan (and attests): verdict, counts, findings, capabilities."""
    report.sort()
    findings = [f.as_dict() for f in report.findings]
    counts = report.counts()
    verdict = "block" if counts["block"] else "warn" if counts["warn"] else "pass"
    return {
        "verdict": verdict,
        "counts": counts,
        "findings": findings[:MAX_STORED_FINDINGS],
        "capabilities": report.capabilities.as_dict(),
        "file_digests": file_digests,
    }


def inline_scan(content: bytes, title: str, label: str, docs: bytes | None = None) -> dict[str, Any]:
    """The crawler's scan of the layers it holds: built-in checks only (milliseconds)."""
    folder = Path(tempfile.mkdtemp(prefix="rigging-scan-"))
    try:
        digests = extract_layer(content, title, label, folder, docs)
        return summary(scan_package(folder), digests)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def semgrep_program() -> str | None:
    """The Semgrep program the core finds (RIGGING_SEMGREP, else PATH)."""
    from rigging.scan import find_semgrep

    return find_semgrep()


def full_scans(roots: list[Path]) -> tuple[dict[Path, ScanReport], bool]:
    """Every check of each package folder, with one Semgrep process over them all (its start-up is
    most of its time); whether Semgrep ran on any. A batch Semgrep fails on is scanned again one
    package at a time, so that a package Semgrep cannot scan costs only itself its Semgrep
    findings: it keeps the built-in verdict, its report says `semgrep` false, and `stale` queues
    it again."""
    from rigging.scan import scan_packages

    program = semgrep_program()
    if program is None or not roots:
        return scan_packages(roots), False
    try:
        return scan_packages(roots, semgrep=program), True
    except RiggingError as exc:
        log.warning("semgrep failed on a batch of %d, scanning each alone: %s", len(roots), exc)
    reports: dict[Path, ScanReport] = {}
    for root in roots:
        try:
            reports.update(scan_packages([root], semgrep=program))
        except RiggingError as exc:
            log.warning("semgrep failed on %s, built-in checks only: %s", root, exc)
            reports.update(scan_packages([root]))
    return reports, any(report.semgrep for report in reports.values())


# -- deciding ----------------------------------------------------------------------------------------


def check_mode(mode: str | None, what: str = "moderation") -> str | None:
    if mode is not None and mode not in MODERATION_MODES:
        raise RiggingError(f"{what} must be one of {', '.join(MODERATION_MODES)}, not {mode!r}")
    return mode


def held(verdict: str, review: str, review_rules: str | None, rules: str, mode: str) -> str | None:
    """Why a version is quarantined, or None when it is visible."""
    if review == "rejected":
        return "rejected by a reviewer"
    if review == "approved" and (verdict != "block" or review_rules == rules):
        return None
    if verdict == "block":
        return "block findings"
    if mode == "all":
        return "moderation: every new version waits for a reviewer"
    if mode == "flagged" and verdict == "warn":
        return "moderation: versions with findings wait for a reviewer"
    return None


def namespace_modes(db: Session, namespaces: Iterable[str]) -> dict[str, str | None]:
    names = sorted(set(namespaces))
    if not names:
        return {}
    rows = db.execute(select(Namespace.name, Namespace.moderation).where(Namespace.name.in_(names))).all()
    return dict(rows)


def _mode(modes: dict[str, str | None], namespace: str, default: str) -> str:
    return modes.get(namespace) or default


def audit(
    db: Session,
    action: str,
    version: Version,
    package: Package,
    reason: str,
    *,
    actor: str = SCANNER,
    user_id: int | None = None,
) -> None:
    db.add(
        AuditEntry(
            at=now(),
            actor=actor,
            user_id=user_id,
            action=action,
            version_id=version.id,
            namespace=package.namespace,
            package=package.name,
            version=version.version,
            manifest_digest=version.manifest_digest,
            reason=reason,
        )
    )


def after_index(
    db: Session, ids: dict[str, tuple[int, int]], items: list[store.IndexedVersion], default_mode: str
) -> set[int]:
    """Decide about versions just indexed, in the transaction that wrote them: their inline scan
    stored, quarantined when it or moderation says so, a full scan queued. Versions the index
    already had keep their state. The packages whose versions were quarantined."""
    scanned = {item.manifest_digest: item.scan for item in items if item.scan is not None}
    wanted = {ids[digest][0]: digest for digest in scanned if digest in ids}
    if not wanted:
        return set()
    known = set(db.scalars(select(ScanResult.version_id).where(ScanResult.version_id.in_(wanted))))
    known |= set(db.scalars(select(ScanJob.version_id).where(ScanJob.version_id.in_(wanted))))
    new = [version_id for version_id in wanted if version_id not in known]
    if not new:
        return set()
    rows = db.execute(
        select(Version, Package).join(Package, Package.id == Version.package_id).where(Version.id.in_(new))
    )
    pairs = list(rows.all())
    modes = namespace_modes(db, (package.namespace for _, package in pairs))
    changed = set()
    moment = now()
    for version, package in pairs:
        result = scanned[wanted[version.id]]
        db.add(_result_row(version.id, result, full=False, semgrep=False, moment=moment))
        why = held(
            result["verdict"],
            version.review,
            version.review_rules,
            RULES_VERSION,
            _mode(modes, package.namespace, default_mode),
        )
        if why is not None:
            version.quarantined = True
            changed.add(package.id)
            audit(db, "quarantine", version, package, f"{why} (built-in checks at index time)")
    db.flush()
    enqueue(db, new)
    return changed


def _result_row(version_id: int, result: dict[str, Any], *, full: bool, semgrep: bool, moment: datetime) -> ScanResult:
    return ScanResult(
        version_id=version_id,
        rules_version=RULES_VERSION,
        full=full,
        semgrep=semgrep,
        verdict=result["verdict"],
        counts=result["counts"],
        findings=result["findings"],
        capabilities=result["capabilities"],
        file_digests=result["file_digests"],
        scanned=moment,
    )


def apply_full(db: Session, version_id: int, result: dict[str, Any], semgrep: bool, default_mode: str) -> bool:
    """Store a full scan and re-decide the version's quarantine; whether it changed. The row is
    locked: a reviewer's decision meanwhile waits rather than being overwritten."""
    version = db.get(Version, version_id, with_for_update=True)
    if version is None:
        return False
    package = db.get(Package, version.package_id)
    assert package is not None
    existing = db.get(ScanResult, version_id)
    first = existing is None or not existing.full
    if existing is not None:
        db.delete(existing)
        db.flush()
    db.add(_result_row(version_id, result, full=True, semgrep=semgrep, moment=now()))
    if version.review == "approved" and result["verdict"] == "block" and version.review_rules != RULES_VERSION:
        version.review = "none"  # approved under other rules, which did not block it: a reviewer decides again
        why = f"approved under rules {version.review_rules}; rules {RULES_VERSION} block it"
        audit(db, "revoke", version, package, why)
    # Moderation holds new versions: their first full scan (Semgrep sees more than the inline
    # checks) may still hold one, and one held waits for its reviewer; but a re-scan under new
    # rules quarantines a visible version only for a block, else `all` would hide every version
    # published before.
    was = version.quarantined
    mode = _mode(namespace_modes(db, [package.namespace]), package.namespace, default_mode) if first or was else "none"
    why = held(result["verdict"], version.review, version.review_rules, RULES_VERSION, mode)
    if why is not None and not was:
        version.quarantined = True
        audit(db, "quarantine", version, package, f"{why} (full scan, rules {RULES_VERSION})")
    elif why is None and was:
        version.quarantined = False
        audit(db, "release", version, package, f"no block findings (full scan, rules {RULES_VERSION})")
    if version.quarantined != was:
        store.refresh_latest(db, {package.id})
        return True
    return False


def decide(
    db: Session, version: Version, package: Package, decision: str, reason: str, actor: str, user_id: int | None
) -> None:
    """A reviewer's approval or rejection."""
    if decision == "approve":
        version.review, version.review_rules, version.quarantined = "approved", RULES_VERSION, False
    else:
        version.review, version.review_rules, version.quarantined = "rejected", RULES_VERSION, True
    audit(db, decision, version, package, reason, actor=actor, user_id=user_id)
    db.flush()
    store.refresh_latest(db, {package.id})


# -- the job table -----------------------------------------------------------------------------------


def enqueue(db: Session, version_ids: Iterable[int], rules: str | None = None) -> int:
    """Queue full scans (again) for these versions; how many. In chunks and in bulk: a new rules
    version queues every version the index has."""
    rules = rules or RULES_VERSION
    ids = sorted(set(version_ids))
    moment = now()
    for chunk in store._chunks(ids):
        existing = dict(db.execute(select(ScanJob.version_id, ScanJob.id).where(ScanJob.version_id.in_(chunk))).all())
        fresh = [
            {"version_id": v, "rules_version": rules, "state": "queued", "attempts": 0, "updated": moment}
            for v in chunk
            if v not in existing
        ]
        if fresh:
            db.execute(insert(ScanJob), fresh)
        if existing:  # a running job keeps its lease unless it ran out (a killed worker's)
            db.execute(
                update(ScanJob)
                .where(ScanJob.id.in_(list(existing.values())))
                .where((ScanJob.state != "running") | (ScanJob.lease_until < moment))
                .values(state="queued", rules_version=rules, lease_until=None, error=None, attempts=0, updated=moment)
            )
    return len(ids)


def stale(db: Session, rules: str | None = None, *, semgrep: bool | None = None, attesting: bool = False) -> list[int]:
    """Versions (not deleted) whose newest scan is missing, only the inline one, under other rules,
    made without Semgrep where it is installed, or (`attesting`) never attested; and not already
    waiting for a scan. A job whose worker died too often (running, lease over, attempts spent)
    waits no more."""
    rules = rules or RULES_VERSION
    semgrep = semgrep_program() is not None if semgrep is None else semgrep
    incomplete = ScanResult.version_id.is_(None) | ScanResult.full.is_(False) | (ScanResult.rules_version != rules)
    if semgrep:
        incomplete = incomplete | ScanResult.semgrep.is_(False)
    if attesting:  # a layout (oci:) source has no referrers to push to
        unattested = ScanResult.attestation.is_(None) & Version.repository_id.in_(
            select(Repository.id).join(Source, Source.id == Repository.source_id).where(~Source.url.startswith("oci:"))
        )
        incomplete = incomplete | unattested
    finished = ScanJob.state.in_(("done", "failed")) | (ScanJob.rules_version != rules)
    stranded = (ScanJob.state == "running") & (ScanJob.attempts >= MAX_ATTEMPTS) & (ScanJob.lease_until < now())
    query = (
        select(Version.id)
        .outerjoin(ScanResult, ScanResult.version_id == Version.id)
        .outerjoin(ScanJob, ScanJob.version_id == Version.id)
        .where(Version.deleted.is_(False))
        .where(incomplete)
        .where(ScanJob.id.is_(None) | finished | stranded)
    )
    return list(db.scalars(query))


def rescan(db: Session, *, everything: bool = False, attesting: bool = False) -> int:
    """Queue the versions `stale` names (every version with `everything`)."""
    if everything:
        ids = list(db.scalars(select(Version.id).where(Version.deleted.is_(False))))
    else:
        ids = stale(db, attesting=attesting)
    return enqueue(db, ids)


# longer than Semgrep may take over a batch, so that no other worker takes a batch still running
SCAN_LEASE_SECONDS = SEMGREP_TIMEOUT_SECONDS + 60
MAX_ATTEMPTS = 3  # a version that fails to scan this often waits for `rescan` (or a new rules version)


def claim(db: Session, worker: str, lease_seconds: float, count: int) -> list[tuple[int, int]]:
    """Take up to `count` queued jobs (or running ones whose lease ran out): (job id, version id)."""
    rows = jobs.claim_from(
        db, "scan_jobs", "id, version_id", worker, lease_seconds, count, " AND attempts < :max", {"max": MAX_ATTEMPTS}
    )
    return sorted((row.id, row.version_id) for row in rows)


def finish(db: Session, outcomes: dict[int, str | None], worker: str) -> None:
    jobs.finish(db, outcomes, "scan_jobs", worker=worker)


def pending(db: Session) -> int:
    return jobs.pending(db, "scan_jobs", " AND attempts < :max", {"max": MAX_ATTEMPTS})


# -- the worker --------------------------------------------------------------------------------------


@dataclass
class ScanStats:
    versions: int = 0
    quarantined: int = 0
    attested: int = 0
    semgrep: bool = False
    errors: list[str] | None = None


class ScanWorker:
    """Works through scan jobs in batches: downloads each version's content layer with the
    source's credentials (the docker config, by reference), scans the batch, stores results,
    re-decides quarantine and pushes signed scan attestations."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        moderation: str = "none",
        key: Any = None,
        ca_file: str | None = None,
        worker: str | None = None,
        batch: int = 16,
        lease_seconds: float = SCAN_LEASE_SECONDS,
        on_change: Any = None,
    ) -> None:
        self.sessions = sessions
        self.moderation = moderation
        self.key = key  # the index's attestation key (ec.EllipticCurvePrivateKey), or None: no attestations
        self.ca_file = ca_file
        self.worker = worker or f"{os.uname().nodename}:{os.getpid()}:scan"
        self.batch = batch
        self.lease_seconds = lease_seconds
        self.on_change = on_change  # called after a batch changed what search shows
        self.clients: dict[str, Any] = {}
        self.stats = ScanStats(errors=[])
        self._lock = threading.Lock()

    def close(self) -> None:
        for client in self.clients.values():
            client.close()

    def client(self, source_url: str) -> Any:
        with self._lock:
            if source_url not in self.clients:
                self.clients[source_url] = open_client(source_url, self.ca_file)
            return self.clients[source_url]

    def run(self, *, stop: threading.Event | None = None, idle_seconds: float | None = None) -> ScanStats:
        """Work until no job is left (idle_seconds None), or poll for more every idle_seconds until `stop`."""
        while stop is None or not stop.is_set():
            with self.sessions() as db:
                claimed = claim(db, self.worker, self.lease_seconds, self.batch)
            if not claimed:
                if idle_seconds is None:
                    return self.stats
                time.sleep(idle_seconds)
                continue
            try:
                self.scan_batch(claimed)
            except Exception as exc:  # the database went away mid-batch: the leases bring the jobs back
                log.warning("scan batch failed: %s", exc)
                self.stats.errors.append(str(exc))  # type: ignore[union-attr]
                time.sleep(1.0)
        return self.stats

    def scan_batch(self, claimed: list[tuple[int, int]]) -> None:
        with self.sessions() as db:
            rows = {
                version.id: (version, package, repo, src)
                for version, package, repo, src in db.execute(
                    store.placed_versions().where(Version.id.in_([version_id for _, version_id in claimed]))
                ).all()
            }
        outcomes: dict[int, str | None] = {}
        folder = Path(tempfile.mkdtemp(prefix="rigging-scan-"))
        try:
            fetched: dict[int, tuple[Path, dict[str, str], dict[str, Any]]] = {}
            for job_id, version_id in claimed:
                found = rows.get(version_id)
                if found is None:
                    outcomes[job_id] = None  # the version is gone: nothing to scan
                    continue
                try:
                    fetched[job_id] = self._fetch(folder / str(version_id), *found)
                except (RiggingError, OSError) as exc:
                    outcomes[job_id] = f"fetching {found[1].name}@{found[0].version}: {exc}"
            reports, used_semgrep = full_scans([root for root, _, _ in fetched.values()])
            self.stats.semgrep = self.stats.semgrep or used_semgrep
            changed = False
            for job_id, (root, digests, subject) in fetched.items():
                version_id = dict(claimed)[job_id]
                _, package, repo, src = rows[version_id]
                result = summary(reports[root], digests)
                used_semgrep = reports[root].semgrep
                with self.sessions() as db:
                    approved = db.scalar(select(Version.review).where(Version.id == version_id)) == "approved"
                    moved = apply_full(db, version_id, result, used_semgrep, self.moderation)
                    version_now = db.get(Version, version_id)
                    quarantined = bool(version_now is not None and version_now.quarantined)
                    revoked = approved and version_now is not None and version_now.review != "approved"
                    db.commit()
                if revoked:  # consumers that require an approval must learn it no longer holds
                    why = f"rules {RULES_VERSION} block it"
                    try:
                        self._push(src.url, repo.path, subject, "approval", review_predicate("revoked", SCANNER, why))
                    except (RiggingError, OSError) as exc:
                        log.warning("revoking the approval of %s: %s", package.name, exc)
                changed |= moved
                self.stats.versions += 1
                self.stats.quarantined += int(moved and quarantined)
                outcomes[job_id] = self._attest_scan(
                    version_id, package.name, repo.path, src.url, subject, result, used_semgrep
                )
            if changed and self.on_change is not None:
                self.on_change()
        finally:
            shutil.rmtree(folder, ignore_errors=True)
            with self.sessions() as db:
                finish(db, outcomes, self.worker)

    def _fetch(
        self, folder: Path, version: Version, package: Package, repo: Repository, src: Source
    ) -> tuple[Path, dict[str, str], dict[str, Any]]:
        from rigging.transfer import parse_package_manifest

        client = self.client(src.url)
        data, media_type, digest = client.get_manifest(repo.path, version.manifest_digest)
        parsed = parse_package_manifest(data, f"{repo.path}@{digest}")
        content = client.fetch_blob(repo.path, parsed.content_layer.digest, parsed.content_layer.size)
        docs = parsed.docs_layer and client.fetch_blob(repo.path, parsed.docs_layer.digest, parsed.docs_layer.size)
        folder.mkdir(parents=True)
        digests = extract_layer(content, parsed.content_title(package.name), f"{repo.path}@{digest}", folder, docs)
        subject = {"mediaType": media_type or parsed.manifest.get("mediaType"), "digest": digest, "size": len(data)}
        return folder, digests, subject

    def _attest_scan(
        self,
        version_id: int,
        name: str,
        path: str,
        source_url: str,
        subject: dict[str, Any],
        result: dict[str, Any],
        semgrep: bool,
    ) -> str | None:
        """Push the signed scan attestation; the job's error when that failed."""
        if self.key is None or source_url.startswith("oci:"):
            return None
        try:
            digest = self._push(source_url, path, subject, "scan", scan_predicate(result, semgrep))
        except (RiggingError, OSError) as exc:
            return f"attesting {name}: {exc}"
        with self.sessions() as db:
            db.execute(update(ScanResult).where(ScanResult.version_id == version_id).values(attestation=digest))
            db.commit()
        self.stats.attested += 1
        return None

    def _push(self, source_url: str, path: str, subject: dict[str, Any], kind: str, predicate: dict[str, Any]) -> str:
        """Sign and push one attestation (none without a key or for a layout source); its digest."""
        if self.key is None or source_url.startswith("oci:"):
            return ""
        return push_attestation(self.client(source_url), self.key, source_url, path, subject, kind, predicate)


def open_client(source_url: str, ca_file: str | None) -> Any:
    """A client for a source, with the credentials the docker config holds for its host."""
    from rigging_indexer.crawler import USER_AGENT, parse_source

    kind, where, _ = parse_source(source_url)
    if kind == "layout":
        from rigging.layout_registry import LayoutRegistry

        return LayoutRegistry.at(f"oci:{where}")
    from rigging.registry.client import RegistryClient

    return RegistryClient(where, plain_http=kind == "http", ca_bundle=ca_file, user_agent=USER_AGENT)


def scan_predicate(result: dict[str, Any], semgrep: bool) -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    try:
        own = version("rigging-indexer")
    except PackageNotFoundError:
        own = "0"
    return {
        "scanner": {"name": SCANNER, "version": own, "rules": RULES_VERSION, "semgrep": semgrep},
        "verdict": result["verdict"],
        "counts": result["counts"],
        "findings": [
            {key: f[key] for key in ("rule", "severity", "file", "line", "reason")}
            for f in result["findings"][:MAX_ATTESTED_FINDINGS]
        ],
        "capabilities": result["capabilities"],
        "scannedAt": rfc3339(now()),
    }


def review_predicate(decision: str, reviewer: str, reason: str) -> dict[str, Any]:
    """The approval predicate (SPEC): `approved`, `rejected`, or `revoked` when new rules block
    what a reviewer approved; the newest by decidedAt decides, so a consumer follows withdrawals."""
    return {"decision": decision, "reviewer": reviewer, "reason": reason, "decidedAt": rfc3339(now())}


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def push_attestation(
    client: Any, key: Any, source_url: str, path: str, subject: dict[str, Any], kind: str, predicate: dict[str, Any]
) -> str:
    """Sign and push one attestation as a referrer of `subject`; its digest."""
    from rigging.signing.attestations import attest

    name = f"{store.registry_host(source_url)}/{path}"  # the statement's subject: REGISTRY/REPOSITORY (SPEC)
    return attest(client, path, subject, key, name, kind, predicate)


# -- the index's key ---------------------------------------------------------------------------------


def load_key(path: str, password_reference: str | None) -> Any:
    """The attestation key: a cosign key file (its password from `password_reference`, env:VAR or
    file:PATH, else COSIGN_PASSWORD) or an unencrypted PEM ECDSA P-256 key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from rigging.signing.keys import decrypt_private_key

    from rigging_indexer.auth.settings import AuthConfigError, resolve_secret

    try:
        pem = Path(path).read_bytes()
    except OSError as exc:
        raise RiggingError(f"attestation key {path}: {exc.strerror or exc}; give the key file's path") from None
    if b"ENCRYPTED SIGSTORE PRIVATE KEY" in pem or b"ENCRYPTED COSIGN PRIVATE KEY" in pem:
        if password_reference:
            try:
                password = resolve_secret(password_reference, "attestation_key_password")
            except AuthConfigError as exc:
                raise RiggingError(f"attestation key {path}: {exc}") from None
        else:
            password = os.environ.get("COSIGN_PASSWORD", "")
        return decrypt_private_key(pem, password.encode(), path)
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        raise RiggingError(
            f"attestation key {path}: not a cosign key file nor an unencrypted PEM key; "
            "make one with `rigging-indexer keys attestation DIR`"
        ) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise RiggingError(f"{path}: the attestation key must be ECDSA P-256")
    return key


def public_key_pem(key: Any) -> bytes:
    from rigging.signing.keys import public_pem

    return public_pem(key.public_key())


# -- reading, for the API ----------------------------------------------------------------------------


def result_dict(row: ScanResult | None, *, findings: bool = True) -> dict[str, Any] | None:
    if row is None:
        return None
    out: dict[str, Any] = {
        "verdict": row.verdict,
        "counts": row.counts,
        "rules": row.rules_version,
        "full": row.full,
        "semgrep": row.semgrep,
        "scanned": rfc3339(jobs._aware(row.scanned)),
        "attestation": row.attestation,
    }
    if findings:
        out["findings"] = row.findings
    return out


def diff(db: Session, version: Version) -> dict[str, Any] | None:
    """Files added, removed and changed against the package's newest visible version below this
    one (else its latest visible), from the scans' file digests."""

    rows = db.execute(
        select(Version, ScanResult)
        .join(ScanResult, ScanResult.version_id == Version.id)
        .where(
            Version.package_id == version.package_id,
            Version.id != version.id,
            Version.deleted.is_(False),
            Version.quarantined.is_(False),
        )
    ).all()
    if not rows:
        return None

    def key(row: Any) -> tuple:
        return store.semver_key(row[0].version)

    own = store.semver_key(version.version)
    below = [row for row in rows if key(row) < own]
    previous, previous_scan = max(below or rows, key=key)
    mine = db.get(ScanResult, version.id)
    now_files = dict(mine.file_digests or {}) if mine else {}
    then_files = dict(previous_scan.file_digests or {})
    return {
        "against": previous.version,
        "against_id": previous.id,
        "added": sorted(set(now_files) - set(then_files)),
        "removed": sorted(set(then_files) - set(now_files)),
        "changed": sorted(p for p in set(now_files) & set(then_files) if now_files[p] != then_files[p]),
    }


def unreadable(why: str) -> dict[str, Any]:
    """The verdict on a content layer the scan could not read: blocked, with why."""
    finding = {"rule": "RIG-S090", "severity": "block", "file": "", "line": 0, "reason": why, "fix": "republish it"}
    return {
        "verdict": "block",
        "counts": {"block": 1, "warn": 0, "info": 0},
        "findings": [finding],
        "capabilities": {},
        "file_digests": {},
    }


MAX_DIFF_FILE_BYTES = 32 * 1024  # text diffs only of files this small, on either side
MAX_DIFF_BYTES = 64 * 1024  # and no more than this much diff text per version


def text_changes(
    db: Session, version_id: int, previous_id: int, paths: list[str], ca_file: str | None
) -> dict[str, str]:
    """Unified diffs of the changed small text files of two versions, read from their registries
    (the index keeps no file contents); {} when they cannot be read."""
    import difflib

    wanted = set(paths)
    sides = []
    for vid in (previous_id, version_id):
        row = db.execute(store.placed_versions().where(Version.id == vid)).first()
        if row is None:
            return {}
        version, package, repo, src = row
        try:
            sides.append(_small_files(src.url, repo.path, version.manifest_digest, package.name, wanted, ca_file))
        except (RiggingError, OSError) as exc:
            log.warning("diff of %s: %s", package.name, exc)
            return {}
    before, after = sides
    out: dict[str, str] = {}
    total = 0
    for path in sorted(wanted):
        if path not in before or path not in after:
            continue  # binary or large on one side: the file list says it changed
        text = "".join(
            difflib.unified_diff(
                before[path].splitlines(keepends=True),
                after[path].splitlines(keepends=True),
                f"a/{path}",
                f"b/{path}",
            )
        )
        total += len(text)
        if total > MAX_DIFF_BYTES:
            break
        out[path] = text
    return out


def _small_files(
    source_url: str, path: str, digest: str, name: str, wanted: set[str], ca_file: str | None
) -> dict[str, str]:
    from rigging.transfer import parse_package_manifest

    client = open_client(source_url, ca_file)
    try:
        data, _, actual = client.get_manifest(path, digest)
        parsed = parse_package_manifest(data, f"{path}@{actual}")
        content = client.fetch_blob(path, parsed.content_layer.digest, parsed.content_layer.size)
    finally:
        client.close()
    files = {}
    for rel, body in iter_layer(content, parsed.content_title(name), label=f"{path}@{actual}"):
        if rel in wanted and len(body) <= MAX_DIFF_FILE_BYTES and b"\0" not in body:
            files[rel] = body.decode("utf-8", "replace")
    return files
