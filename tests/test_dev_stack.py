"""`./dev up` and `./dev down` (scripts/stack.py): the whole stack as supervised processes on one
machine, here on PostgreSQL, with the registry's webhook indexing each push; a part that dies is
started again; `up` twice is one stack; `down` leaves no process of it behind."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request

from tests.conftest import REPO_ROOT, run_cli
from tests.support.postgres import required_database
from tests.support.processes import session_processes
from tests.support.services import unavailable

DEV = REPO_ROOT / "dev"


def _dev(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(DEV), *args], capture_output=True, text=True, env=env, timeout=300)


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - the stack's loopback servers
        return response.read().decode()


def _eventually(probe, what: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = probe()
        except OSError:
            found = None
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"{what} not within {timeout:.0f} s")


def test_dev_up_runs_the_stack_supervised_and_dev_down_leaves_nothing(tmp_path):
    if shutil.which("docker-registry") is None:
        unavailable("the stack's registry is Debian's docker-registry")
    env = {**os.environ, "RIGGING_STACK_DIR": str(tmp_path / "stack"), "RIGGING_CACHE_DIR": str(tmp_path / "cache")}
    with required_database() as database:
        started = _dev("up", "--database", database, env=env)
        try:
            assert started.returncode == 0, started.stdout + started.stderr
            plan = json.loads((tmp_path / "stack" / "stack.json").read_text())
            status = _dev("status", "--json", env=env)
            assert status.returncode == 0 and json.loads(status.stdout)["answering"] == {
                "indexer": True,
                "portal": True,
                "registry": True,
            }
            parts = session_processes(plan["supervisor"])
            for part in ("docker-registry serve", "rigging-indexer serve", "rigging-indexer crawl", "scan", "portal"):
                assert any(part in command for command in parts.values()), f"{part} is not running: {parts}"
            secret = (tmp_path / "stack" / "webhook-secret").read_text().strip()
            assert plan["database"] == database and secret not in " ".join(parts.values()), "a secret `ps` shows"

            # pushes reach the index by the registry's webhook, and the portal shows them
            for name in ("git-hygiene", "code-review"):
                done = run_cli("publish", REPO_ROOT / "catalogue" / name, f"{plan['registry']}/rigging/{name}", env=env)
                assert done.returncode == 0, done.stderr
            _eventually(
                lambda: "2 packages" in _get(f"{plan['portal']}/search?namespace=rigging"), "the portal lists both"
            )

            # a part that dies is started again
            portal_pid = next(pid for pid, command in parts.items() if "rigging-portal serve" in command)
            os.kill(portal_pid, signal.SIGKILL)

            def restarted() -> bool:
                running = session_processes(plan["supervisor"]).items()
                return any("rigging-portal serve" in command and pid != portal_pid for pid, command in running)

            _eventually(restarted, "a new portal process")
            _eventually(lambda: _get(f"{plan['portal']}/healthz"), "the restarted portal answering")
            log = (tmp_path / "stack" / "logs" / "supervisor.log").read_text()
            assert "portal exited with -9; restarting" in log

            again = _dev("up", env=env)
            assert again.returncode == 0 and "stack already up" in again.stdout and plan["portal"] in again.stdout
        finally:
            stopped = _dev("down", env=env)
        assert stopped.returncode == 0 and stopped.stdout.strip() == "stack down", stopped.stdout + stopped.stderr
        assert session_processes(plan["supervisor"]) == {}, "no process of the stack is left"
        assert _dev("status", env=env).returncode == 3
        for url in (plan["portal"] + "/healthz", plan["index"] + "/healthz", f"http://{plan['registry']}/v2/"):
            try:
                urllib.request.urlopen(url, timeout=2)  # noqa: S310
            except urllib.error.HTTPError as exc:
                raise AssertionError(f"{url} still answers") from exc
            except OSError:
                continue
            raise AssertionError(f"{url} still answers")
