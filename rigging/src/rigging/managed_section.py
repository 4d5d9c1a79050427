"""The section rigging manages inside CLAUDE.md and AGENTS.md, between two markers.

Kept apart from the renderers so that checking an installed project imports nothing heavy.
"""

from __future__ import annotations

BEGIN = "<!-- rigging:begin — managed by `rigging install`; edit the packages, not this section -->"
END = "<!-- rigging:end -->"


def current_section(existing: str | None) -> str | None:
    """The managed section as it stands in the file, or None when there is none."""
    if not existing:
        return None
    start, end = existing.find(BEGIN), existing.find(END)
    return existing[start : end + len(END)] if start != -1 and end > start else None


def replace_section(existing: str | None, section: str) -> str | None:
    """`existing` with its managed section replaced by `section`; None when the file should go."""
    text = existing or ""
    start, end = text.find(BEGIN), text.find(END)
    if start != -1 and end > start:
        before, after = text[:start], text[end + len(END) :]
    else:
        before, after = (text.rstrip("\n") + "\n\n" if text.strip() else ""), ""
    if not section:
        rest = (before.rstrip("\n") + "\n" + after.lstrip("\n")).strip("\n")
        return rest + "\n" if rest else None
    return before + section + (after if after.startswith("\n") else "\n" + after.lstrip("\n"))
