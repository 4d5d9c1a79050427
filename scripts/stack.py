"""The whole stack on one machine, without Docker: `./dev up`, `./dev down`, `./dev status`.

    up [--database URL]   start (or, when it is up already, show) the stack
    down [--clean]        stop every process of it; --clean also deletes its data
    status [--json]       where each part answers, or that the stack is down

Parts, each a supervised process with its log in STATE/logs/NAME.log:
- registry: Debian's docker-registry (CNCF distribution) on a free port, open for pushes, whose
  notifications reach the indexer's webhook (a push is indexed within a second). Without
  docker-registry, the packages live in an `oci:` store folder (STATE/store) and the crawler
  reads it every few seconds instead;
- indexer: the API (`rigging-indexer serve`), also the registry token service for registries
  whose logins it decides (signing keys in STATE/token-keys);
- crawler and scanner: the indexer's workers (`crawl` on an interval, `scan` of queued versions);
- portal: `rigging-portal serve` on the same index.
The index is SQLite (STATE/index.db) unless --database names a PostgreSQL URL.

A supervisor process (its own session, so `down` finds every process it ever started) restarts
a part that exits, with a growing pause (1 s, doubling to 30 s). STATE is `.dev-stack` in the
checkout, or RIGGING_STACK_DIR. Only the standard library: it runs before anything is installed
but the venv.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
STATE = Path(os.environ.get("RIGGING_STACK_DIR") or ROOT / ".dev-stack").resolve()
PLAN = STATE / "stack.json"
RESTART_PAUSE_MAX = 30.0
STOP_GRACE = 10.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _ours(pid: int) -> bool:
    """Whether `pid` is a live process of this stack: the supervisor and every part carry its
    folder in their environment, so a pid the system has since given to another program is not
    taken for one of them."""
    marker = f"RIGGING_STACK_DIR={STATE}".encode()
    try:
        return marker in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False


def _read_plan() -> dict[str, Any] | None:
    try:
        return json.loads(PLAN.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None


def _running() -> dict[str, Any] | None:
    plan = _read_plan()
    return plan if plan and _ours(int(plan.get("supervisor", 0))) else None


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=2).close()  # noqa: S310 - our own loopback services
    except urllib.error.HTTPError:
        return True  # any HTTP answer: a registry that wants a login says 401
    except OSError:
        return False
    return True


def _plan(database: str | None) -> dict[str, Any]:
    """Ports, folders and each part's command line."""
    logs = STATE / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    index_port, portal_port = _free_port(), _free_port()
    index = f"http://127.0.0.1:{index_port}"
    database = database or f"sqlite:///{STATE / 'index.db'}"
    secret_file = STATE / "webhook-secret"
    if not secret_file.exists():
        secret_file.write_text(secrets.token_urlsafe(24), encoding="utf-8")
        secret_file.chmod(0o600)
    secret = secret_file.read_text(encoding="utf-8").strip()
    keys = STATE / "token-keys"
    if not (keys / "ca.pem").exists():
        subprocess.run([str(BIN / "rigging-indexer"), "keys", "init", str(keys)], check=True, capture_output=True)
    parts: dict[str, list[str]] = {}
    registry = shutil.which("docker-registry")
    if registry:
        port = _free_port()
        store = f"127.0.0.1:{port}"
        source = f"http://{store}"
        config = STATE / "registry.yml"
        # JSON is YAML: the notification endpoint and its Bearer secret, as deploy/ configures it
        config.write_text(
            json.dumps(
                {
                    "version": 0.1,
                    "log": {"level": "warn", "accesslog": {"disabled": True}},
                    "storage": {"filesystem": {"rootdirectory": str(STATE / "registry")}, "delete": {"enabled": True}},
                    "http": {"addr": store},
                    "notifications": {
                        "endpoints": [
                            {
                                "name": "indexer",
                                "url": f"{index}/api/v1/webhooks/registry",
                                "headers": {"Authorization": [f"Bearer {secret}"]},
                                "timeout": "2s",
                                "threshold": 3,
                                "backoff": "1s",
                            }
                        ]
                    },
                },
                indent=2,
            ),
            encoding="utf-8",
        )
        parts["registry"] = [registry, "serve", str(config)]
        crawl_every = "300"  # webhooks carry the pushes; the crawl catches what they miss
    else:
        (STATE / "store").mkdir(exist_ok=True)
        store = source = f"oci:{STATE / 'store'}"
        crawl_every = "3"  # a folder sends no webhooks
    indexer = str(BIN / "rigging-indexer")
    common = ["--database", database, "--source", source]
    parts["indexer"] = [
        indexer, "serve", *common, "--port", str(index_port),
        "--crawl-interval", "0", "--scan-workers", "0", "--workers", "1",
    ]  # fmt: skip
    parts["crawler"] = [indexer, "crawl", *common, "--interval", crawl_every]
    parts["scanner"] = [indexer, "scan", *common]
    portal_config = STATE / "portal.json"
    portal_config.write_text(json.dumps({"sources": [source]}), encoding="utf-8")
    parts["portal"] = [
        str(BIN / "rigging-portal"), "serve", "--database", database, "--config", str(portal_config),
        "--port", str(portal_port), "--workers", "1",
    ]  # fmt: skip
    env = {
        "RIGGING_INDEXER_WEBHOOK_SECRET": secret,  # in the environment, not on a command line `ps` shows
        "RIGGING_INDEXER_REGISTRY_KEYS": str(keys),
        "RIGGING_INDEXER_REGISTRY_SERVICE": "rigging-dev-registry",
        "RIGGING_INDEXER_REGISTRY_ISSUER": "rigging-dev",
    }
    semgrep = ROOT / ".venv-tools" / "bin" / "semgrep"
    if semgrep.exists():
        env["RIGGING_SEMGREP"] = str(semgrep)
    return {
        "store": store,
        "source": source,
        "registry": store if registry else None,
        "index": index,
        "portal": f"http://127.0.0.1:{portal_port}",
        "token_realm": f"{index}/auth/registry/token",
        "token_service": env["RIGGING_INDEXER_REGISTRY_SERVICE"],
        "token_issuer": env["RIGGING_INDEXER_REGISTRY_ISSUER"],
        "token_ca": str(keys / "ca.pem"),
        "database": database,
        "logs": str(logs),
        "parts": parts,
        "env": env,
    }


def _health(plan: dict[str, Any]) -> dict[str, str]:
    checks = {"indexer": f"{plan['index']}/healthz", "portal": f"{plan['portal']}/healthz"}
    if plan["registry"]:
        checks["registry"] = f"http://{plan['registry']}/v2/"
    return checks


def up(database: str | None) -> int:
    running = _running()
    if running:
        _say_where(running, "already up")
        return 0
    if _read_plan() is not None:  # its supervisor was killed: stop what it left before starting anew
        down(clean=False)
    STATE.mkdir(parents=True, exist_ok=True)
    plan = _plan(database)
    # once, before the parts start: each would otherwise migrate on start, all at once
    migrated = subprocess.run(
        [str(BIN / "rigging-indexer"), "migrate", "--database", plan["database"]], capture_output=True, text=True
    )
    if migrated.returncode != 0:
        print(f"dev up: the index database would not migrate: {migrated.stderr.strip()}", file=sys.stderr)
        return 1
    with open(Path(plan["logs"]) / "supervisor.log", "ab") as log:
        supervisor = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "supervise"],
            env={**os.environ, "RIGGING_STACK_DIR": str(STATE)},  # the parts inherit it: see _ours
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its session holds every process of the stack: `down` sweeps it
            cwd=ROOT,
        )
    plan["supervisor"] = supervisor.pid
    PLAN.write_text(json.dumps(plan, indent=2), encoding="utf-8")  # the supervisor waits for it
    deadline = time.monotonic() + 90
    waiting = _health(plan)
    while waiting and time.monotonic() < deadline:
        if supervisor.poll() is not None:
            break
        waiting = {name: url for name, url in waiting.items() if not _answers(url)}
        time.sleep(0.2)
    if waiting:
        print(f"dev up: {', '.join(waiting)} did not answer; their logs are in {plan['logs']}", file=sys.stderr)
        down(clean=False)
        return 1
    _say_where(plan, "up")
    return 0


def _say_where(plan: dict[str, Any], state: str) -> None:
    print(f"stack {state}:")
    print(f"  registry  {plan['registry'] or plan['store'] + ' (no docker-registry: an oci: store)'}")
    print(f"  index     {plan['index']}  (database {plan['database']})")
    print(f"  portal    {plan['portal']}")
    print(f"  logs      {plan['logs']}/  (./dev down stops it)")


def _session_members(session: int) -> list[int]:
    """Every live process of the stack in the supervisor's session, from /proc (Linux)."""
    members = []
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else ():
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                if os.getsid(int(entry)) == session and _ours(int(entry)):
                    members.append(int(entry))
            except OSError:
                continue
    return members


def down(clean: bool) -> int:
    plan = _read_plan()
    if plan is not None:
        session = int(plan.get("supervisor", 0))
        if session and _ours(session):
            os.kill(session, signal.SIGTERM)
            deadline = time.monotonic() + STOP_GRACE + 5
            while _ours(session) and time.monotonic() < deadline:
                time.sleep(0.1)
        # whatever the supervisor left (it was killed, or a part ignored SIGTERM)
        for pid in _session_members(session) if session else []:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        left = _session_members(session) if session else []
        if left:
            print(f"dev down: processes {left} would not stop", file=sys.stderr)
            return 1
        PLAN.unlink(missing_ok=True)
    if clean:
        shutil.rmtree(STATE, ignore_errors=True)
    print("stack down" + (f"; {STATE} deleted" if clean else "") if plan else "stack is not up")
    return 0


def status(as_json: bool) -> int:
    plan = _running()
    if plan is None:
        print(json.dumps({"up": False}) if as_json else "stack is down (./dev up starts it)")
        return 3
    answering = {name: _answers(url) for name, url in _health(plan).items()}
    if as_json:
        print(json.dumps({"up": True, "answering": answering, **{k: v for k, v in plan.items() if k != "env"}}))
    else:
        _say_where(plan, "up")
        print("  " + ", ".join(f"{name} {'answers' if ok else 'DOES NOT ANSWER'}" for name, ok in answering.items()))
    return 0 if all(answering.values()) else 1


class _Supervisor:
    """Starts every part, restarts one that exits, stops them all on SIGTERM."""

    def __init__(self) -> None:
        self.stopping = False
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.pause: dict[str, float] = {}
        self.started: dict[str, float] = {}

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        plan = self._wait_for_plan()
        if plan is None:
            return 1
        env = {**os.environ, **plan["env"]}
        for name, command in plan["parts"].items():
            self._start(name, command, env, plan["logs"])
        while not self.stopping:
            for name, child in list(self.children.items()):
                if child.poll() is None:
                    continue
                if time.monotonic() - self.started[name] > 60:
                    self.pause[name] = 1.0  # it ran a while: a new failure, not a crash loop
                pause = self.pause.get(name, 1.0)
                self._log(f"{name} exited with {child.returncode}; restarting in {pause:.0f} s")
                self._sleep(pause)
                if self.stopping:
                    break
                self.pause[name] = min(pause * 2, RESTART_PAUSE_MAX)
                self._start(name, plan["parts"][name], env, plan["logs"])
            self._sleep(0.5)
        self._stop_all()
        return 0

    def _wait_for_plan(self) -> dict[str, Any] | None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not self.stopping:
            plan = _read_plan()
            if plan and plan.get("supervisor") == os.getpid():
                return plan
            time.sleep(0.05)
        return None

    def _start(self, name: str, command: list[str], env: dict[str, str], logs: str) -> None:
        with open(Path(logs) / f"{name}.log", "ab") as log:
            self.children[name] = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
                process_group=0,  # a part's own workers (uvicorn's) stop with it
            )  # fmt: skip
        self.started[name] = time.monotonic()
        self._log(f"{name} started (pid {self.children[name].pid})")

    def _stop(self, *_: object) -> None:
        self.stopping = True

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < deadline:
            time.sleep(0.05)

    def _stop_all(self) -> None:
        for child in self.children.values():
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        for name, child in self.children.items():
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self._log(f"{name} ignored SIGTERM for {STOP_GRACE:.0f} s; killed")
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)  # its group: workers it started
            child.wait()
        self._log("stopped")

    @staticmethod
    def _log(message: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {message}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(prog="./dev", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    starting = commands.add_parser("up", help="start the stack (or show where it runs)")
    starting.add_argument("--database", help="the index's SQLAlchemy URL (default: SQLite in the stack's folder)")
    stopping = commands.add_parser("down", help="stop every process of the stack")
    stopping.add_argument("--clean", action="store_true", help="also delete its data (registry, index, keys)")
    asking = commands.add_parser("status", help="where each part answers")
    asking.add_argument("--json", action="store_true")
    commands.add_parser("supervise", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.command == "up":
        if not (BIN / "rigging-indexer").exists():
            print(f"dev up: {BIN} has no rigging-indexer; run ./dev setup first", file=sys.stderr)
            return 1
        return up(args.database)
    if args.command == "down":
        return down(args.clean)
    if args.command == "status":
        return status(args.json)
    return _Supervisor().run()


if __name__ == "__main__":
    sys.exit(main())
