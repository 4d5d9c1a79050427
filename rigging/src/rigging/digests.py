"""Content digests and the canonical JSON we hash."""

from __future__ import annotations

import re

TYPE_CHECKING = False  # typing costs ~3 ms to import; only the annotations use it
if TYPE_CHECKING:
    from typing import Any

_SHA256 = re.compile(r"^sha256:[a-f0-9]{64}$")


def sha256_digest(data: bytes) -> str:
    import hashlib  # here, not above: a no-op install checks digests' form (is_sha256_digest) only

    return "sha256:" + hashlib.sha256(data).hexdigest()


def is_sha256_digest(text: str) -> bool:
    return _SHA256.match(text) is not None


def canonical_json(value: Any) -> bytes:
    """One byte form per value: sorted keys, no spaces, UTF-8."""
    import json

    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
