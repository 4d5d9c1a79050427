"""The section rigging manages inside CLAUDE.md and AGENTS.md, between two markers.

Kept apart from the renderers so that checking an installed project imports nothing heavy.
"""

from __future__ import annotations

BEGIN = "<!-- rigging:begin — managed by `rigging install`; edit the packages, not this section -->"
END = "<!-- rigging:end -->"
# What a package's text must not hold: either marker would move the section's boundary.
MARKER_PREFIXES = ("<!-- rigging:begin", "<!-- rigging:end")


def marker_line(text: str) -> int | None:
    """The first line of `text` that holds a section marker, or None."""
    for number, line in enumerate(text.splitlines(), 1):
        if any(marker in line for marker in MARKER_PREFIXES):
            return number
    return None


def current_section(existing: str | None) -> str | None:
    """The managed section as it stands in the file, or None when there is none."""
    if not existing:
        return None
    start = existing.find(BEGIN)
    end = existing.find(END, start + len(BEGIN)) if start != -1 else -1
    return existing[start : end + len(END)] if end != -1 else None


def replace_section(existing: str | None, section: str) -> str | None:
    """`existing` with its managed section replaced by `section`; None when the file should go."""
    text = existing or ""
    start = text.find(BEGIN)
    end = text.find(END, start + len(BEGIN)) if start != -1 else -1
    if end != -1:
        before, after = text[:start], text[end + len(END) :]
    else:
        before, after = (text.rstrip("\n") + "\n\n" if text.strip() else ""), ""
    if not section:
        rest = (before.rstrip("\n") + "\n" + after.lstrip("\n")).strip("\n")
        return rest + "\n" if rest else None
    return before + section + (after if after.startswith("\n") else "\n" + after.lstrip("\n"))
