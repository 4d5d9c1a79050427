"""Credentials as docker, oras and skopeo keep them: `$DOCKER_CONFIG/config.json` (default
`~/.docker/config.json`) with `auths`, `credsStore` and `credHelpers`
(`docker-credential-<name> get|store|erase`). Secrets are never logged or printed.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rigging.errors import RiggingError

# docker-credential helpers answer Username "<token>" when the secret is an identity token.
_TOKEN_USERNAME = "<token>"  # noqa: S105 - a marker, not a secret


@dataclass(frozen=True)
class Credentials:
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    identity_token: str | None = field(default=None, repr=False)  # an OAuth2 refresh token

    @property
    def has_basic(self) -> bool:
        return bool(self.username) and self.password is not None


ANONYMOUS = Credentials()


def config_dir() -> Path:
    return Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")


def config_path() -> Path:
    return config_dir() / "config.json"


def _load_config() -> dict[str, Any]:
    from rigging.settings import read_json_object

    return read_json_object(config_path(), "docker config")


def _normalise(server: str) -> str:
    """`https://host:5000/v1/` and `host:5000` name the same registry."""
    server = server.split("://", 1)[-1]
    return server.split("/", 1)[0]


HELPER_TIMEOUT = 30.0  # seconds; RIGGING_CREDENTIAL_HELPER_TIMEOUT overrides it


def _helper_timeout() -> float:
    value = os.environ.get("RIGGING_CREDENTIAL_HELPER_TIMEOUT")
    if not value:
        return HELPER_TIMEOUT
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if seconds <= 0:
        raise RiggingError(f"RIGGING_CREDENTIAL_HELPER_TIMEOUT={value!r} is not a positive number of seconds")
    return seconds


def _helper(name: str, action: str, payload: str, secret: str | None = None) -> str:
    """Run `docker-credential-<name> <action>` with `payload` on stdin; its stdout.

    As docker does, a failure is reported with the helper's stdout (where the helper protocol puts
    its error message), never its stderr, and never a line that may hold credentials."""
    program = f"docker-credential-{name}"
    timeout = _helper_timeout()
    try:
        proc = subprocess.Popen(
            [program, action],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # a timeout ends the helper and whatever it started
        )
    except FileNotFoundError:
        raise RiggingError(
            f"credential helper {program} is not on PATH; install it, or remove it from {config_path()}"
        ) from None
    except OSError as exc:
        raise RiggingError(f"credential helper {program} cannot be run ({exc.strerror}); check its file mode") from None
    try:
        stdout, stderr = proc.communicate(payload, timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise RiggingError(
            f"credential helper {program} {action} did not answer within {timeout:g} s; "
            "check that it works on its own (it may be waiting for a keychain to unlock)"
        ) from None
    if proc.returncode != 0:
        text = stdout.strip()
        if action == "get" and "credentials not found" in (text + stderr).lower():
            return ""  # docker's "no credentials for this server": anonymous
        first = text.splitlines()[0][:160] if text else ""
        if secret:
            first = first.replace(secret, "***")
        if not first or first.lstrip().startswith("{"):
            first = "no message"  # nothing to show, or JSON that may carry credentials
        raise RiggingError(f"credential helper {program} {action} failed (exit {proc.returncode}): {first}")
    return stdout


def _from_helper(name: str, host: str) -> Credentials:
    out = _helper(name, "get", host)
    if not out.strip():
        return ANONYMOUS
    program = f"docker-credential-{name}"
    try:
        data = json.loads(out)
    except ValueError:
        raise RiggingError(f"credential helper {program} get answered something that is not JSON") from None
    if not isinstance(data, dict):
        raise RiggingError(f"credential helper {program} get answered JSON that is not an object")
    username, secret = data.get("Username") or None, data.get("Secret") or None
    if not all(value is None or isinstance(value, str) for value in (username, secret)):
        raise RiggingError(f"credential helper {program} get answered a Username or Secret that is not a string")
    if username == _TOKEN_USERNAME:
        return Credentials(identity_token=secret)
    return Credentials(username=username, password=secret)


def lookup(host: str) -> Credentials:
    """Credentials for `host`: credHelpers, then credsStore, then auths; anonymous when none."""
    config = _load_config()
    helpers = config.get("credHelpers") or {}
    if isinstance(helpers, dict) and helpers.get(host):
        return _from_helper(str(helpers[host]), host)
    auths = config.get("auths") or {}
    entry: dict[str, Any] | None = None
    if isinstance(auths, dict):
        entry = next((v for k, v in auths.items() if _normalise(k) == host and isinstance(v, dict)), None)
    store = config.get("credsStore")
    if store and (entry is None or not (entry.get("auth") or entry.get("identitytoken"))):
        found = _from_helper(str(store), host)
        if found != ANONYMOUS:
            return found
    if not entry:
        return ANONYMOUS
    username, password = entry.get("username"), entry.get("password")
    if entry.get("auth"):
        try:
            username, _, password = base64.b64decode(entry["auth"]).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            raise RiggingError(f"{config_path()}: the auth entry for {host} is not base64 of user:password") from None
    return Credentials(username=username or None, password=password, identity_token=entry.get("identitytoken"))


def _write_config(config: dict[str, Any]) -> None:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".config.", suffix=".json")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(config, out, indent="\t")
            out.write("\n")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def store(host: str, username: str, password: str) -> str:
    """Save credentials where docker would; returns where they went (never the secret)."""
    config = _load_config()
    helper = (config.get("credHelpers") or {}).get(host) or config.get("credsStore")
    if helper:
        payload = json.dumps({"ServerURL": host, "Username": username, "Secret": password})
        _helper(str(helper), "store", payload, secret=password)
        auths = config.setdefault("auths", {})
        auths.setdefault(host, {})  # docker records the host with an empty entry
        _write_config(config)
        return f"docker-credential-{helper}"
    auth = base64.b64encode(f"{username}:{password}".encode()).decode()
    config.setdefault("auths", {})[host] = {"auth": auth}
    _write_config(config)
    return str(config_path())


def erase(host: str) -> bool:
    """Forget `host`'s credentials; True when something was removed."""
    config = _load_config()
    removed = False
    helper = (config.get("credHelpers") or {}).get(host) or config.get("credsStore")
    if helper:
        with contextlib.suppress(RiggingError):
            _helper(str(helper), "erase", host)
            removed = True
    auths = config.get("auths") or {}
    for key in [k for k in auths if _normalise(k) == host]:
        del auths[key]
        removed = True
    if removed:
        _write_config(config)
    return removed
