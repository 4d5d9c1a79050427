"""Credentials for an indexer: an access token (`rig_…`) from RIGGING_TOKEN, else the one
`rigging login --index URL` stored for the indexer's host in the docker credential store (or
config), else none: anonymous requests see public packages only."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

TOKEN_ENV = "RIGGING_TOKEN"  # noqa: S105 - the variable's name, not a secret


def index_host(index_url: str) -> str:
    return urlsplit(index_url).netloc


def index_token(index_url: str) -> str | None:
    token = os.environ.get(TOKEN_ENV, "").strip()
    if token:
        return token
    from rigging.registry import credentials

    found = credentials.lookup(index_host(index_url))
    return found.password or found.identity_token or None


def index_headers(index_url: str) -> dict[str, str]:
    """What every request to the indexer carries: the token, when there is one."""
    token = index_token(index_url)
    return {"Authorization": f"Bearer {token}"} if token else {}
