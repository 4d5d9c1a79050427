"""The package config blob's document: rigging.json as written, plus the skills list pack computes.

Shared by `rigging pack`, which writes it, and the indexer, which rebuilds it from a content layer
to skip downloading the config (it then checks the digest, so a mismatch only costs that GET).
"""

from __future__ import annotations

from typing import Any


def package_config(manifest: dict[str, Any], skills: list[dict[str, Any]]) -> dict[str, Any]:
    """rigging.json with `skills` as the SKILL.md files say (validation has checked that a
    hand-written `skills` says the same). A package without skills has no `skills` key, so its
    config, and digest, are what they were before skills existed."""
    config = {key: value for key, value in manifest.items() if key != "skills"}
    if skills:
        config["skills"] = sorted(skills, key=lambda entry: entry["name"])
    return config


def skills_catalogue(skill_md_texts: dict[str, str]) -> list[dict[str, Any]] | None:
    """The `skills` list from {skill folder name: its SKILL.md text}, or None if any is invalid."""
    if not skill_md_texts:
        return []
    from rigging.skill_md import check_skill_md, summary

    entries = []
    for folder, text in sorted(skill_md_texts.items()):
        entry = summary(check_skill_md(f"skills/{folder}/SKILL.md", folder, text))
        if entry is None:
            return None
        entries.append(entry)
    return entries
