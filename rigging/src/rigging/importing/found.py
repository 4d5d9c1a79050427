"""What an importer finds: rules, workflows and skills with the agent file each came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class FoundRule:
    stem: str
    trigger: str  # always_on | glob | model_decision | manual
    description: str
    globs: list[str]
    body: str
    source: str  # project-relative path of the agent's file

    def meaning(self) -> tuple[str, str, tuple[str, ...], str]:
        return (self.trigger, self.description, tuple(self.globs), self.body.strip())


@dataclass
class FoundWorkflow:
    stem: str
    front: str  # frontmatter lines to keep, as written (without the '---' lines)
    body: str
    source: str

    def meaning(self) -> tuple[str, str]:
        return (self.front.strip(), self.body.strip())


@dataclass
class FoundSkill:
    name: str
    folder: Path
    files: dict[str, tuple[bytes, bool]] = field(default_factory=dict)  # path in the skill -> (bytes, executable)
    source: str = ""


@dataclass
class Findings:
    rules: list[FoundRule] = field(default_factory=list)
    workflows: list[FoundWorkflow] = field(default_factory=list)
    skills: list[FoundSkill] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what was left out, and why
    sources: dict[str, int] = field(default_factory=dict)  # agent -> files taken from it
