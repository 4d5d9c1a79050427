"""Auth as docker/oras/skopeo do it, against the real Debian registry: htpasswd Basic and
`auth: token` Bearer (with a test token issuer); credentials from a docker config file, a
credential helper, `rigging login` and identity (refresh) tokens."""

from __future__ import annotations

import base64
import json
import os
import shutil
import stat
import sys
import time

import pytest
from rigging.registry.auth import Scope
from rigging.registry.client import RegistryClient
from rigging.registry.credentials import Credentials

from tests.packages import make_package, tree
from tests.support.fault_proxy import FaultProxy
from tests.support.registry import REGISTRY_BINARY, RegistryServer, basic_auth_config
from tests.support.services import unavailable
from tests.support.token_issuer import TokenIssuer

USER, PASSWORD = "alice", "s3cret-pass"


@pytest.fixture(autouse=True)
def _needs_binary():
    if shutil.which(REGISTRY_BINARY) is None:
        unavailable("auth tests configure their own registry: install docker-registry")


@pytest.fixture
def env(tmp_path):
    docker = tmp_path / "docker"
    docker.mkdir()
    return {"DOCKER_CONFIG": str(docker), "RIGGING_CACHE_DIR": str(tmp_path / "cache")}


@pytest.fixture
def basic_registry(tmp_path):
    server = RegistryServer(basic_auth_config(tmp_path, USER, PASSWORD))
    yield server.start()
    server.stop()


@pytest.fixture
def token_setup(tmp_path):
    issuer = TokenIssuer(tmp_path, users={USER: PASSWORD}, refresh_tokens={"refresh-alice": USER}).start()
    server = RegistryServer(issuer.registry_config())
    registry = server.start()
    yield registry, issuer
    server.stop()
    issuer.stop()


def _write_config(env, config):
    path = os.path.join(env["DOCKER_CONFIG"], "config.json")
    with open(path, "w") as out:
        json.dump(config, out)


def _read_json(path):
    with open(path) as handle:
        return json.load(handle)


def _basic_auths(host):
    return {"auths": {host: {"auth": base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()}}}


def _roundtrip(cli, tmp_path, host, env, name="acme/secured"):
    pkg = make_package(tmp_path / name.replace("/", "-"), name, "1.0.0")
    published = cli("publish", pkg, f"{host}/{name}", "--json", env=env)
    assert published.returncode == 0, published.stderr
    out = tmp_path / f"pulled-{name.replace('/', '-')}"
    pulled = cli("pull", f"{host}/{name}:1.0.0", "-o", out, "--json", env=env)
    assert pulled.returncode == 0, pulled.stderr
    assert json.loads(pulled.stdout)["digest"] == json.loads(published.stdout)["digest"]
    assert tree(out) == tree(pkg)


def test_basic_anonymous_is_refused_with_a_login_hint(cli, tmp_path, basic_registry, env):
    pkg = make_package(tmp_path / "pkg", "acme/secured", "1.0.0")
    result = cli("publish", pkg, f"{basic_registry.host}/acme/secured", env=env)
    assert result.returncode == 1
    assert f"rigging login {basic_registry.host}" in result.stderr and "Traceback" not in result.stderr


def test_basic_with_docker_config_auths(cli, tmp_path, basic_registry, env):
    _write_config(env, _basic_auths(basic_registry.host))
    _roundtrip(cli, tmp_path, basic_registry.host, env)


def test_a_redirect_to_another_origin_is_not_sent_the_login(cli, tmp_path, basic_registry, env):
    """Blob downloads sent to a storage service (S3, a CDN) by a redirect: the registry's login
    goes to the registry only. The storage serves what the signed-looking URL names, with its
    own access to the registry behind it."""
    login = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    storage = FaultProxy(basic_registry.host, upstream_authorization=login).start()
    front = FaultProxy(
        basic_registry.host, redirect_blobs=lambda path: f"http://{storage.host}{path}?X-Amz-Signature=s1gned"
    ).start()
    try:
        _write_config(env, _basic_auths(front.host))
        _roundtrip(cli, tmp_path, front.host, env)
    finally:
        front.stop()
        storage.stop()
    assert [auth for method, path, auth in front.seen if "/manifests/" in path and auth == login]
    downloads = [(path, auth) for method, path, auth in storage.seen if method == "GET"]
    assert downloads and all("X-Amz-Signature" in path for path, _ in downloads)
    assert [auth for _, auth in downloads] == [None] * len(downloads)


def test_basic_wrong_password_is_a_clear_error(cli, tmp_path, basic_registry, env):
    bad = base64.b64encode(f"{USER}:wrong".encode()).decode()
    _write_config(env, {"auths": {f"https://{basic_registry.host}/v1/": {"auth": bad}}})
    result = cli("pull", f"{basic_registry.host}/acme/x:1.0.0", "-o", tmp_path / "o", env=env)
    assert result.returncode == 1 and "refused the stored credentials" in result.stderr
    assert "wrong" not in result.stderr + result.stdout


def test_login_stores_docker_compatible_credentials_and_logout_removes_them(cli, tmp_path, basic_registry, env):
    refused = cli("login", basic_registry.host, "-u", USER, "--password-stdin", env=env, input="nope\n")
    assert refused.returncode == 1
    assert not os.path.exists(os.path.join(env["DOCKER_CONFIG"], "config.json")), "bad credentials not stored"
    done = cli("login", basic_registry.host, "-u", USER, "--password-stdin", env=env, input=PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    assert PASSWORD not in done.stdout + done.stderr
    path = os.path.join(env["DOCKER_CONFIG"], "config.json")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    stored = _read_json(path)["auths"][basic_registry.host]["auth"]
    assert base64.b64decode(stored).decode() == f"{USER}:{PASSWORD}"
    _roundtrip(cli, tmp_path, basic_registry.host, env)
    assert cli("logout", basic_registry.host, env=env).returncode == 0
    assert basic_registry.host not in _read_json(path)["auths"]
    again = cli("pull", f"{basic_registry.host}/acme/secured:1.0.0", "-o", tmp_path / "again", env=env)
    assert again.returncode == 1 and "rigging login" in again.stderr


def _helper_script(bin_dir, store_file):
    """A docker-credential helper speaking the real protocol (get/store/erase on stdin/stdout)."""
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / "docker-credential-rigtest"
    script.write_text(f"""#!{sys.executable}
import json, sys, os
path = {str(store_file)!r}
data = json.load(open(path)) if os.path.exists(path) else {{}}
action, payload = sys.argv[1], sys.stdin.read()
if action == "get":
    entry = data.get(payload.strip())
    if entry is None:
        print("credentials not found in native keychain"); sys.exit(1)
    print(json.dumps({{"ServerURL": payload.strip(), "Username": entry[0], "Secret": entry[1]}}))
elif action == "store":
    req = json.loads(payload); data[req["ServerURL"]] = [req["Username"], req["Secret"]]
    json.dump(data, open(path, "w"))
elif action == "erase":
    data.pop(payload.strip(), None); json.dump(data, open(path, "w"))
""")
    script.chmod(0o755)
    return script


def test_credential_helper_supplies_credentials(cli, tmp_path, basic_registry, env):
    store_file = tmp_path / "helper-store.json"
    store_file.write_text(json.dumps({basic_registry.host: [USER, PASSWORD]}))
    _helper_script(tmp_path / "bin", store_file)
    env = {**env, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}"}
    _write_config(env, {"credHelpers": {basic_registry.host: "rigtest"}})
    _roundtrip(cli, tmp_path, basic_registry.host, env)


def test_login_goes_to_the_creds_store_when_one_is_configured(cli, tmp_path, basic_registry, env):
    store_file = tmp_path / "helper-store.json"
    _helper_script(tmp_path / "bin", store_file)
    env = {**env, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}"}
    _write_config(env, {"credsStore": "rigtest"})
    done = cli("login", basic_registry.host, "-u", USER, "--password-stdin", env=env, input=PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    assert json.loads(store_file.read_text()) == {basic_registry.host: [USER, PASSWORD]}
    config = _read_json(os.path.join(env["DOCKER_CONFIG"], "config.json"))
    assert config["auths"][basic_registry.host] == {}, "docker keeps only an empty marker in the file"
    _roundtrip(cli, tmp_path, basic_registry.host, env)
    assert cli("logout", basic_registry.host, env=env).returncode == 0
    assert json.loads(store_file.read_text()) == {}


def test_token_auth_with_docker_config(cli, tmp_path, token_setup, env):
    registry, issuer = token_setup
    _write_config(env, _basic_auths(registry.host))
    _roundtrip(cli, tmp_path, registry.host, env)
    assert issuer.denied == 0


def test_a_lock_install_asks_for_one_token_for_all_its_packages(cli, tmp_path, token_setup, env):
    """Docker asks for several scopes in one token request; so does an install from a lock, so
    that a token registry (GHCR, Docker Hub) costs one token round trip, not one per package."""
    registry, issuer = token_setup
    _write_config(env, _basic_auths(registry.host))
    names = [f"acme/tok{n}" for n in range(4)]
    for name in names:
        pkg = make_package(tmp_path / name.replace("/", "-"), name, "1.0.0")
        assert cli("publish", pkg, f"{registry.host}/{name}", env=env).returncode == 0
    project = tmp_path / "project"
    project.mkdir()
    (project / "rigging.json").write_text(
        json.dumps({"registry": registry.host, "dependencies": {name: "^1.0.0" for name in names}})
    )
    done = cli("install", "-C", project, env=env)
    assert done.returncode == 0, done.stderr

    checkout = tmp_path / "checkout"
    checkout.mkdir()
    for kept in ("rigging.json", "rigging.lock"):
        shutil.copy2(project / kept, checkout / kept)
    before, scoped = issuer.calls, dict(issuer.requests)
    fresh = {**env, "RIGGING_CACHE_DIR": str(tmp_path / "fresh-cache")}
    done = cli("install", "-C", checkout, "--json", env=fresh)
    assert done.returncode == 0, done.stderr
    assert sorted(json.loads(done.stdout)["packages"]) == names
    assert issuer.calls - before == 1, "one token request for the four repositories"
    asked = {scope for scope, count in issuer.requests.items() if count > scoped.get(scope, 0)}
    assert asked == {f"repository:{name}:pull" for name in names}


def test_token_auth_anonymous_is_refused(cli, tmp_path, token_setup, env):
    registry, _ = token_setup
    pkg = make_package(tmp_path / "pkg", "acme/secured", "1.0.0")
    result = cli("publish", pkg, f"{registry.host}/acme/secured", env=env)
    assert result.returncode == 1 and "rigging login" in result.stderr


def test_token_auth_with_identity_token(cli, tmp_path, token_setup, env):
    registry, issuer = token_setup
    _write_config(env, {"auths": {registry.host: {"identitytoken": "refresh-alice"}}})
    _roundtrip(cli, tmp_path, registry.host, env, name="acme/refreshed")
    assert issuer.denied == 0


def test_tokens_are_cached_per_scope_and_renewed_after_expiry(tmp_path):
    issuer = TokenIssuer(tmp_path, users={USER: PASSWORD}, lifetime=12).start()
    server = RegistryServer(issuer.registry_config())
    registry = server.start()
    try:
        creds = Credentials(username=USER, password=PASSWORD)
        with RegistryClient(registry.host, credentials=creds) as client:
            for _ in range(5):
                assert client.has_blob("acme/cached", "sha256:" + "0" * 64) is False
            pull_scope = str(Scope("acme/cached"))
            assert issuer.requests[pull_scope] == 1, "one token for five requests"
            assert client.requests == 6, "one 401 challenge, then the token is sent up front"
            time.sleep(2.5)  # lifetime 12 s less the 10 s safety margin
            client.has_blob("acme/cached", "sha256:" + "0" * 64)
            assert issuer.requests[pull_scope] == 2, "an expired token is renewed"
            assert client.requests == 7, "renewal happens before the request, not after a 401"
    finally:
        server.stop()
        issuer.stop()


def test_login_against_a_token_registry(cli, tmp_path, token_setup, env):
    registry, _ = token_setup
    refused = cli("login", registry.host, "-u", USER, "--password-stdin", env=env, input="wrong\n")
    assert refused.returncode == 1 and "refused the credentials" in refused.stderr
    done = cli("login", registry.host, "-u", USER, "--password-stdin", env=env, input=PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    _roundtrip(cli, tmp_path, registry.host, env, name="acme/after-login")
