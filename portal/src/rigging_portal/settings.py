"""The portal's settings: the indexer's store it reads, and the indexer's config file, whose
`auth` (sign-in), `sources`, `ca_file` and `moderation` it shares (DESIGN §8)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

DATABASE_ENV = "RIGGING_INDEXER_DATABASE_URL"
MAX_UPLOAD_BYTES = 8 * 1024 * 1024  # a package is capped far below this (rigging.limits); an archive a bit above


class SettingsError(ValueError):
    """A setting is wrong; the message says which and how to fix it."""


@dataclass
class PortalSettings:
    sessions: sessionmaker[Session]
    # indexed reads on the event loop (rigging_indexer.db.reading_engine); from `sessions` if None
    reader: sessionmaker[Session] | None = None
    # the config file's `auth` object (sign-in); replaced by AuthSettings when sign-in is installed
    auth: Any = None
    sources: list[str] = field(default_factory=list)  # where a new package is published: the first
    ca_file: str | None = None
    moderation: str = "none"
    attestation_key: str | None = None
    attestation_key_password: str | None = None
    max_upload_bytes: int = MAX_UPLOAD_BYTES
    content_entries: int = 64  # packages' unpacked contents kept in memory for the tab pages
    page_cache_entries: int = 20_000  # anonymous readers' pages kept per process, gzip'd (0: none)


def load(database: str | None, config: str | None) -> dict[str, Any]:
    """Plain settings from the arguments, the config file and the environment (no secrets: they are
    only referred to, as the indexer's are), in a form worker processes can be handed as JSON."""
    values: dict[str, Any] = {}
    if config:
        try:
            values = json.loads(Path(config).read_text(encoding="utf-8"))
        except OSError as exc:
            raise SettingsError(f"--config {config}: cannot read it ({exc.strerror})") from None
        except ValueError as exc:
            raise SettingsError(f"--config {config}: not JSON ({exc})") from None
        if not isinstance(values, dict):
            raise SettingsError(f"--config {config}: must hold a JSON object")
    url = database or os.environ.get(DATABASE_ENV) or values.get("database")
    if not url:
        raise SettingsError(f"no index to read: give --database URL (or set {DATABASE_ENV}), the indexer's store")
    return {
        "database": url,
        "auth": values.get("auth"),
        "sources": list(values.get("sources") or []),
        "ca_file": values.get("ca_file"),
        "moderation": values.get("moderation") or "none",
        "attestation_key": values.get("attestation_key"),
        "attestation_key_password": values.get("attestation_key_password"),
    }


def from_values(values: dict[str, Any], *, check: bool = False) -> PortalSettings:
    """`check`: refuse an index the indexer has not migrated to the newest schema (the portal
    never migrates: several replicas starting at once must not race to)."""
    from rigging_indexer.db import behind, make_engine, sessions

    engine = make_engine(values["database"])
    if check and (why := behind(engine)) is not None:
        raise SettingsError(f"the index {engine.url.render_as_string(hide_password=True)} {why}")
    return PortalSettings(
        sessions(engine),
        auth=values.get("auth"),
        sources=list(values.get("sources") or []),
        ca_file=values.get("ca_file"),
        moderation=values.get("moderation") or "none",
        attestation_key=values.get("attestation_key"),
        attestation_key_password=values.get("attestation_key_password"),
    )
