"""Runs build_support/lockstep.py, which gives all four distributions one version."""

import runpy
from pathlib import Path

from hatchling.metadata.plugin.interface import MetadataHookInterface


class Lockstep(MetadataHookInterface):
    def update(self, metadata: dict) -> None:
        runpy.run_path(str(Path(self.root).parent / "build_support/lockstep.py"))["update"](self.config, metadata)
