"""The index: a cache of what registries hold, rebuildable from them at any time (DESIGN §1)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Source(Base):
    """A registry (optionally one namespace of it) or an OCI layout folder."""

    __tablename__ = "sources"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(500), unique=True)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # Configuration may say this source mirrors another: its packages are then the other's packages.
    mirror_of: Mapped[int | None] = mapped_column(
        ForeignKey("sources.id", ondelete="SET NULL", name="fk_sources_mirror_of"), nullable=True
    )


class Repository(Base):
    __tablename__ = "repositories"
    __table_args__ = (UniqueConstraint("source_id", "path"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    path: Mapped[str] = mapped_column(String(300))  # repository path in the registry


class Package(Base):
    """A package is where it lives: the source (or the source it mirrors) and the repository's
    `namespace/name`, never the name a config claims (DESIGN §7)."""

    __tablename__ = "packages"
    __table_args__ = (UniqueConstraint("source_id", "name", name="uq_packages_source_name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(
        ForeignKey("sources.id", ondelete="CASCADE", name="fk_packages_source_id"), index=True
    )
    name: Mapped[str] = mapped_column(String(128), index=True)
    namespace: Mapped[str] = mapped_column(String(128), index=True)
    latest_version_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    downloads: Mapped[int] = mapped_column(BigInteger, default=0)


class Version(Base):
    """One manifest in one repository. The same manifest in a mirror (or pushed to two sources) is
    a row per repository, so each location's tags and deletions stay its own."""

    __tablename__ = "versions"
    __table_args__ = (UniqueConstraint("repository_id", "manifest_digest", name="uq_versions_repository_digest"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    package_id: Mapped[int] = mapped_column(ForeignKey("packages.id", ondelete="CASCADE"), index=True)
    repository_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"), index=True)
    version: Mapped[str] = mapped_column(String(128))
    manifest_digest: Mapped[str] = mapped_column(String(80), index=True)
    content_digest: Mapped[str] = mapped_column(String(80), index=True)  # a pull of it is a download
    content_size: Mapped[int] = mapped_column(BigInteger, default=0)
    description: Mapped[str] = mapped_column(Text, default="")
    keywords: Mapped[list] = mapped_column(JSON, default=list)
    targets: Mapped[list] = mapped_column(JSON, default=list)
    license: Mapped[str | None] = mapped_column(String(200), nullable=True)
    config: Mapped[dict] = mapped_column(JSON, default=dict)
    readme: Mapped[str] = mapped_column(Text, default="")
    # the README as safe HTML, rendered when indexed, and by which renderer (markdown_html.RENDERER):
    # a page reads it while the marks match; NULL for versions indexed before it was kept
    readme_html: Mapped[str | None] = mapped_column(Text, nullable=True)
    readme_renderer: Mapped[str | None] = mapped_column(String(120), nullable=True)
    files: Mapped[list] = mapped_column(JSON, default=list)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    signed_by: Mapped[list] = mapped_column(JSON, default=list)  # signature kinds found (bundle, legacy)
    created: Mapped[str | None] = mapped_column(String(40), nullable=True)  # the manifest's created annotation
    indexed: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # hidden from everyone but its namespace's maintainers, reviewers and admins: a block finding,
    # held for review, or rejected (rigging_indexer.scanning decides)
    quarantined: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    downloads: Mapped[int] = mapped_column(BigInteger, default=0)
    # a reviewer's decision: none | approved | rejected; an approval holds for the rules version it
    # was given under, so a later rule pack that blocks the version quarantines it again
    review: Mapped[str] = mapped_column(String(16), default="none", server_default="none")
    review_rules: Mapped[str | None] = mapped_column(String(40), nullable=True)


class SearchDocument(Base):
    """What search reads: one row per package, for its latest visible version only, so a query
    ranks packages rather than every version ever published. The text index beside it is a
    tsvector column (PostgreSQL) or the FTS5 table `document_text` keyed by package id (SQLite)."""

    __tablename__ = "search_documents"
    package_id: Mapped[int] = mapped_column(ForeignKey("packages.id", ondelete="CASCADE"), primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    namespace: Mapped[str] = mapped_column(String(128), index=True)
    version: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(Text, default="")
    keywords: Mapped[list] = mapped_column(JSON, default=list)
    targets: Mapped[list] = mapped_column(JSON, default=list)
    signed: Mapped[bool] = mapped_column(Boolean, default=False)
    downloads: Mapped[int] = mapped_column(BigInteger, default=0)  # the package's, copied: ranking needs no join
    # the newest visible signed version, which `signed` search shows even when the latest is unsigned
    signed_version: Mapped[str | None] = mapped_column(String(128), nullable=True)
    ref: Mapped[str] = mapped_column(String(900), default="")  # where it lives: REGISTRY/REPOSITORY or oci:PATH
    # what the latest version holds (skills, rules, workflows, docs): the portal's facet
    kinds: Mapped[list] = mapped_column(JSON, default=list, server_default="[]")
    # when the index first saw the latest version (Version.indexed), for "recently updated"
    updated: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


# The downloads and updated sorts (search._ORDER) read these in order and stop at LIMIT instead of
# sorting every match: 13 ms to under 1 ms for a page of 20,000 packages (migration 0007).
Index(
    "ix_search_documents_downloads",
    SearchDocument.downloads.desc(),
    SearchDocument.name,
    SearchDocument.package_id,
)
# SQLite sorts NULLs first ascending, so last descending, and has no NULLS LAST in an index;
# PostgreSQL's descending default is NULLS FIRST, which could not serve `DESC NULLS LAST`.
Index(
    "ix_search_documents_updated",
    SearchDocument.updated.desc().nulls_last(),
    SearchDocument.name,
    SearchDocument.package_id,
).ddl_if(dialect="postgresql")
Index(
    "ix_search_documents_updated",
    SearchDocument.updated.desc(),
    SearchDocument.name,
    SearchDocument.package_id,
).ddl_if(dialect="sqlite")


class DownloadDay(Base):
    """A package's downloads on one day (UTC): the stats page's downloads over time."""

    __tablename__ = "download_days"
    package_id: Mapped[int] = mapped_column(ForeignKey("packages.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True, index=True)
    count: Mapped[int] = mapped_column(BigInteger, default=0)


class Tag(Base):
    __tablename__ = "tags"
    __table_args__ = (UniqueConstraint("repository_id", "tag"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repository_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"), index=True)
    tag: Mapped[str] = mapped_column(String(128))
    manifest_digest: Mapped[str] = mapped_column(String(80))


class Dependency(Base):
    __tablename__ = "dependencies"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128), index=True)
    range: Mapped[str] = mapped_column(String(256))


class LeasedJob:
    """A job table's bookkeeping (rigging_indexer.jobs claims and finishes its rows)."""

    state: Mapped[str] = mapped_column(String(16), default="queued", index=True)  # queued|running|done|failed
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(100), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class CrawlJob(LeasedJob, Base):
    """One repository to crawl. Workers claim jobs with FOR UPDATE SKIP LOCKED; a lease that runs
    out (a killed worker) makes the job claimable again."""

    __tablename__ = "crawl_jobs"
    __table_args__ = (UniqueConstraint("source_id", "path"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    path: Mapped[str] = mapped_column(String(300))


# -- accounts (DESIGN §10) ------------------------------------------------------------------------

ROLES = ("owner", "maintainer", "reader", "reviewer")  # maintainer and owner may publish
PUBLISH_ROLES = frozenset({"owner", "maintainer"})


class User(Base):
    """Someone who signed in through an identity provider: (issuer, subject) is who they are."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("issuer", "subject"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    issuer: Mapped[str] = mapped_column(String(500))
    subject: Mapped[str] = mapped_column(String(255))
    username: Mapped[str] = mapped_column(String(64), unique=True)  # what `docker login` and URLs use
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    display_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    admin: Mapped[bool] = mapped_column(Boolean, default=False)  # sees crawl problems, all namespaces
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Organisation(Base):
    __tablename__ = "organisations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("organisation_id", "user_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))  # one of ROLES


class Namespace(Base):
    """A claimed namespace, owned by a user or an organisation. Namespaces nobody claimed stay
    public and read-only to the token service (crawled registries have plenty of them)."""

    __tablename__ = "namespaces"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=True)
    owner_organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), nullable=True
    )
    private: Mapped[bool] = mapped_column(Boolean, default=False)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    moderation: Mapped[str | None] = mapped_column(String(16), nullable=True)  # none|flagged|all; None: the instance's


class AccessToken(Base):
    """A personal or CI token: shown once, kept only as its SHA-256. A CI token from trusted
    publishing belongs to its publisher (and so to one namespace), not to a user."""

    __tablename__ = "access_tokens"
    # a CI token's name holds the workload token's jti: one exchange per workload token, even
    # when two arrive at the same moment
    __table_args__ = (
        Index(
            "uq_access_tokens_publisher_name",
            "publisher_id",
            "name",
            unique=True,
            postgresql_where=text("publisher_id IS NOT NULL"),
            sqlite_where=text("publisher_id IS NOT NULL"),
        ),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=True, index=True)
    publisher_id: Mapped[int | None] = mapped_column(
        ForeignKey("trusted_publishers.id", ondelete="CASCADE"), nullable=True, index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16), default="personal")  # personal | ci
    hash: Mapped[str] = mapped_column(String(64), unique=True)  # hex SHA-256 of the whole token
    hint: Mapped[str] = mapped_column(String(16))  # the first characters, for lists ("rig_AbCd…")
    scopes: Mapped[list] = mapped_column(JSON, default=list)  # "read", "publish"
    namespaces: Mapped[list | None] = mapped_column(JSON, nullable=True)  # None: every namespace of the user
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_used: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class TrustedPublisher(Base):
    """A CI workload allowed to exchange its OIDC token for a short publish token in a namespace
    (PyPI's trusted publishing): tokens from `issuer` whose claims include all of `claims`."""

    __tablename__ = "trusted_publishers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    namespace_id: Mapped[int] = mapped_column(ForeignKey("namespaces.id", ondelete="CASCADE"), index=True)
    issuer: Mapped[str] = mapped_column(String(500))
    claims: Mapped[dict] = mapped_column(JSON, default=dict)  # e.g. {"repository": "acme/skills"}
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


# -- scanning and moderation (DESIGN §7, §10) -------------------------------------------------------

MODERATION_MODES = ("none", "flagged", "all")


class ScanJob(LeasedJob, Base):
    """A version to scan fully (built-ins, validation, Semgrep) under a rules version; claimed as
    crawl jobs are. One row per version: a re-scan queues the same row again."""

    __tablename__ = "scan_jobs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id", ondelete="CASCADE"), unique=True)
    rules_version: Mapped[str] = mapped_column(String(40))


class ScanResult(Base):
    """A version's newest scan: the inline one the crawler makes, then the worker's full one."""

    __tablename__ = "scan_results"
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id", ondelete="CASCADE"), primary_key=True)
    rules_version: Mapped[str] = mapped_column(String(40))
    full: Mapped[bool] = mapped_column(Boolean, default=False)  # False: the crawler's built-in checks only
    semgrep: Mapped[bool] = mapped_column(Boolean, default=False)
    verdict: Mapped[str] = mapped_column(String(8))  # pass | warn | block
    counts: Mapped[dict] = mapped_column(JSON, default=dict)
    findings: Mapped[list] = mapped_column(JSON, default=list)
    capabilities: Mapped[dict] = mapped_column(JSON, default=dict)
    file_digests: Mapped[dict] = mapped_column(JSON, default=dict)  # path -> sha256, for reviewers' diffs
    scanned: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    attestation: Mapped[str | None] = mapped_column(String(80), nullable=True)  # the signed scan referrer's digest


class AuditEntry(Base):
    """Every moderation decision, a reviewer's or the scanner's: who, when, what, why."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), index=True)
    actor: Mapped[str] = mapped_column(String(100))  # a username, or "rigging-indexer" for the scanner
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    action: Mapped[str] = mapped_column(String(32))  # quarantine | release | approve | reject | revoke
    version_id: Mapped[int | None] = mapped_column(ForeignKey("versions.id", ondelete="SET NULL"), nullable=True)
    namespace: Mapped[str] = mapped_column(String(128), index=True)
    package: Mapped[str] = mapped_column(String(128))
    version: Mapped[str] = mapped_column(String(128))
    manifest_digest: Mapped[str] = mapped_column(String(80))
    reason: Mapped[str] = mapped_column(Text, default="")
