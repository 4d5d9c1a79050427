"""`rigging new`: a package folder that validates as it is."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from rigging.errors import RiggingError, UsageError
from rigging.names import name_problem, short_name

_RULE = """\
---
trigger: glob
description: Conventions for Python code in this project
globs: **/*.py
---

# Python conventions

- Type every public function; run `ruff check` before proposing a change.
- Prefer the standard library; add a dependency only with a reason in the commit message.
- Tests live in `tests/` and use pytest fixtures rather than setup methods.
"""

_WORKFLOW = """\
---
description: Prepare a release of this project
---

# Release

1. Run the full test suite and stop if anything fails.
2. Update `CHANGELOG.md` with the changes since the last tag.
3. Bump the version, commit, and tag it `vX.Y.Z`.
"""

_README = """\
# {name}

{description}

## Contents

- `rules/python-conventions.md`: applies to `**/*.py` files.
- `workflows/release.md`: a step-by-step release workflow.

## Install

```
rigging add {name}
rigging install
```
"""


def create_package(target: Path, name: str, version: str = "0.1.0", description: str | None = None) -> Path:
    if (reason := name_problem(name)) is not None:
        raise UsageError(
            f"package name {name!r} {reason} "
            f"(use a lowercase namespace/name, e.g. acme/{short_name(name).lower() or 'rules'})"
        )
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise RiggingError(f"{target}: already exists and is not empty; choose a new folder")
    description = description or f"Agent rules and workflows for {short_name(name)}."
    manifest = {
        "name": name,
        "version": version,
        "description": description,
        "license": "MIT",
        "keywords": ["python"],
        "targets": ["windsurf", "cursor", "copilot", "claude", "agents"],
        "dependencies": {},
    }
    files = {
        "rigging.json": json.dumps(manifest, indent=2) + "\n",
        "README.md": _README.format(name=name, description=description),
        "rules/python-conventions.md": _RULE,
        "workflows/release.md": _WORKFLOW,
    }
    # Built beside the target and renamed into place, so a failure leaves no half a package.
    parent = target.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=parent, prefix=f".{target.name}."))
    try:
        for rel, text in files.items():
            path = staging / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        os.chmod(staging, 0o777 & ~_umask())
        if target.exists():
            target.rmdir()
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
