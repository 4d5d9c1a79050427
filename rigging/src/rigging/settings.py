"""User settings: `$RIGGING_CONFIG` or `<user config dir>/rigging/config.json`.

{"registries": {"registry.internal:5000": {"plain_http": true, "ca_file": "/etc/ssl/corp.pem"}}}
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rigging.errors import RiggingError


def config_file() -> Path:
    configured = os.environ.get("RIGGING_CONFIG")
    if configured:
        return Path(configured)
    from platformdirs import user_config_dir

    return Path(user_config_dir("rigging", appauthor=False)) / "config.json"


def read_json_object(path: Path, what: str) -> dict[str, Any]:
    """A JSON object from a settings file; {} when it is absent; a one-line error when it is broken."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise RiggingError(f"{path}: cannot read the {what} ({exc}); fix or remove it") from None
    if not isinstance(data, dict):
        raise RiggingError(f"{path}: the {what} must be a JSON object; fix or remove it")
    return data


def load() -> dict[str, Any]:
    return read_json_object(config_file(), "rigging config")


@dataclass(frozen=True)
class RegistryOptions:
    plain_http: bool | None = None  # None: plain only for loopback registries
    ca_file: str | None = None


def registry_options(host: str, plain_http: bool = False, ca_file: str | None = None) -> RegistryOptions:
    """Command-line flags win over the config file's entry for `host`."""
    entry = (load().get("registries") or {}).get(host) or {}
    plain = True if plain_http else (bool(entry["plain_http"]) if "plain_http" in entry else None)
    return RegistryOptions(plain_http=plain, ca_file=ca_file or entry.get("ca_file"))
