"""Template filters: sizes, dates, digests and hidden characters, written for people."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup


def size(value: int | None) -> str:
    amount = float(value or 0)
    for unit in ("B", "KB", "MB", "GB"):
        if amount < 1024 or unit == "GB":
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{amount:.1f} GB"


def when(value: Any) -> str:
    """A date as YYYY-MM-DD (from a datetime or an RFC 3339 string); '' when unknown."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value[:10]
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d")


def short_digest(value: str | None) -> str:
    if not value:
        return ""
    algorithm, _, hexes = value.partition(":")
    return f"{algorithm}:{hexes[:12]}" if hexes else value[:19]


def number(value: int | None) -> str:
    return f"{int(value or 0):,}"


def reveal(value: Any) -> Markup:
    """Plain text from a package (a name, a description) escaped, with hidden characters shown."""
    from rigging_indexer.markdown_html import reveal_hidden

    return Markup(reveal_hidden(str(value if value is not None else "")))  # noqa: S704 - reveal_hidden escapes


FILTERS = {"size": size, "when": when, "short_digest": short_digest, "number": number, "reveal": reveal}
