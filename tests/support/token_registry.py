"""A registry that asks our token service: Debian's `docker-registry` (distribution 2.8) with
`auth: token` pointed at a real `rigging-indexer serve` process on a free loopback port.

The indexer gets its key folder (from `rigging-indexer keys init`), service and issuer through the
environment; the registry trusts only the folder's CA certificate (`rootcertbundle`), so leaves
can be rotated under it while both run.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.indexer_server import INDEXER, send_request
from tests.support.registry import REGISTRY_BINARY, Registry, RegistryServer
from tests.support.services import free_port, unavailable, wait_http

SERVICE = "rigging-test-registry"
ISSUER = "rigging-test-indexer"
# runs the indexer's own `serve` with every log on at DEBUG, uvicorn's access log included
VERBOSE_SERVE = """
import logging, sys
import uvicorn
logging.basicConfig(level=logging.DEBUG, stream=sys.stderr, format="%(asctime)s %(name)s %(levelname)s %(message)s")
logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)  # every statement and its parameters
_run = uvicorn.run
def _verbose(*args, **kwargs):
    kwargs.update(log_level="debug", access_log=True, log_config=None)
    return _run(*args, **kwargs)
uvicorn.run = _verbose
from rigging_indexer.main import main
sys.exit(main(sys.argv[1:]))
"""


def need_registry_binary() -> None:
    import shutil

    if shutil.which(REGISTRY_BINARY) is None:
        unavailable("this test configures its own registry with `auth: token`: install docker-registry")


def keys_command(action: str, folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(INDEXER), "keys", action, str(folder)], capture_output=True, text=True, timeout=60, check=False
    )


@dataclass
class TokenRegistry:
    """The indexer (token service) and a registry trusting it; `stop()` ends both."""

    workdir: Path
    database: str
    lifetime: int = 300
    verbose: bool = False  # the indexer logs everything at DEBUG into `indexer_log`
    index: str = ""
    registry: Registry | None = None
    keys: Path = field(init=False)
    indexer_log: Path = field(init=False)
    _indexer: subprocess.Popen | None = None
    _registry: RegistryServer | None = None

    def __post_init__(self) -> None:
        self.keys = self.workdir / "token-keys"
        self.indexer_log = self.workdir / "indexer.log"

    @property
    def host(self) -> str:
        assert self.registry is not None
        return self.registry.host

    @property
    def realm(self) -> str:
        return f"{self.index}/auth/registry/token"

    def start(self) -> TokenRegistry:
        made = keys_command("init", self.keys)
        assert made.returncode == 0, made.stderr
        port = free_port()
        env = {
            **os.environ,
            "RIGGING_INDEXER_REGISTRY_KEYS": str(self.keys),
            "RIGGING_INDEXER_REGISTRY_SERVICE": SERVICE,
            "RIGGING_INDEXER_REGISTRY_ISSUER": ISSUER,
            "RIGGING_INDEXER_REGISTRY_TOKEN_SECONDS": str(self.lifetime),
        }
        arguments = ["serve", "--port", str(port), "--database", self.database, "--crawl-interval", "0"]
        command = [sys.executable, "-c", VERBOSE_SERVE, *arguments] if self.verbose else [str(INDEXER), *arguments]
        with self.indexer_log.open("wb") as log:
            self._indexer = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.index = f"http://127.0.0.1:{port}"
        try:
            wait_http(f"{self.index}/healthz", timeout=60, ok_statuses=(200,))
            self._registry = RegistryServer(
                {
                    "log": {"level": "debug" if self.verbose else "warn"},
                    "auth": {
                        "token": {
                            "realm": self.realm,
                            "service": SERVICE,
                            "issuer": ISSUER,
                            "rootcertbundle": str(self.keys / "ca.pem"),
                        }
                    },
                }
            )
            self.registry = self._registry.start()
        except BaseException:
            self.stop()
            raise
        return self

    def registry_log(self) -> str:
        return self._registry.log() if self._registry else ""

    def stop(self) -> None:
        if self._registry is not None:
            self._registry.stop()
            self._registry = None
        if self._indexer is not None and self._indexer.poll() is None:
            self._indexer.terminate()
            try:
                self._indexer.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._indexer.kill()
                self._indexer.wait()

    # -- talking to them as clients do ----------------------------------------------------------

    def api(self, method: str, path: str, token: str | None = None, body: Any = None) -> tuple[int, Any]:
        return api_call(self.index, method, path, token, body)

    def token_request(
        self, scopes: list[str], user: str | None = None, password: str | None = None, service: str = SERVICE
    ) -> tuple[int, Any]:
        """GET the realm as docker does: `service` and `scope`s, Basic credentials if given."""
        query = urllib.parse.urlencode([("service", service), *(("scope", s) for s in scopes)])
        headers = {}
        if user is not None:
            headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        return send_request(urllib.request.Request(f"{self.realm}?{query}", headers=headers))  # noqa: S310

    def registry_request(self, method: str, path: str, bearer: str | None = None) -> tuple[int, dict[str, str], bytes]:
        """(status, headers, body) of a registry request with a bearer token, or none."""
        headers = {"Accept": "application/vnd.oci.image.manifest.v1+json"}
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        request = urllib.request.Request(f"http://{self.host}{path}", method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback test server
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    def registry_get(self, path: str, bearer: str | None = None) -> tuple[int, dict[str, str]]:
        status, headers, _ = self.registry_request("GET", path, bearer)
        return status, headers

    def docker_status(
        self, method: str, path: str, user: str | None = None, password: str | None = None
    ) -> tuple[int, bytes]:
        """A registry request the way docker makes it: unauthenticated first, the 401's challenge
        followed to the token service (with credentials if given), then again with the token.
        The final (status, body): the token service's 401 when it refused the credentials."""
        from rigging.registry.auth import parse_challenge

        status, headers, body = self.registry_request(method, path)
        if status != 401:
            return status, body
        scheme, params = parse_challenge(headers.get("Www-Authenticate") or headers.get("WWW-Authenticate", ""))
        assert scheme == "bearer" and params["realm"] == self.realm, headers
        got, answer = self.token_request([params["scope"]], user, password)
        if got != 200:
            return got, json.dumps(answer).encode()
        status, _, body = self.registry_request(method, path, answer["token"])
        return status, body

    def docker_pull_status(
        self, repository: str, reference: str, user: str | None = None, password: str | None = None
    ) -> int:
        """The final status of a docker-style manifest GET: 200 when the token allowed the pull."""
        return self.docker_status("GET", f"/v2/{repository}/manifests/{reference}", user, password)[0]


def api_call(index: str, method: str, path: str, token: str | None = None, body: Any = None) -> tuple[int, Any]:
    """(status, JSON or text) of an indexer API call as a bearer of `token` (or nobody)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    return send_request(urllib.request.Request(index + path, data=data, method=method, headers=headers))  # noqa: S310


def jwt_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT (its signature is the registry's business, which the tests exercise)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
