"""TLS is verified by default; a custom CA bundle (flag, config or RIGGING_CA_BUNDLE) makes a
private CA trusted; a certificate for another name or an expired one is refused whatever the CA;
plain HTTP is chosen by itself only for loopback registries (127.0.0.0/8, localhost, [::1])."""

from __future__ import annotations

import json
import shutil
import socket

import pytest

from tests.packages import make_package, tree
from tests.support.registry import REGISTRY_BINARY, RegistryServer
from tests.support.services import unavailable
from tests.support.sniff import SniffingRelay
from tests.support.tls import loopback_alias, make_ca_and_server_cert


@pytest.fixture
def https_registry_with(tmp_path):
    """Start a Debian registry serving HTTPS with a certificate for the names given."""
    if shutil.which(REGISTRY_BINARY) is None:
        unavailable("needs Debian's docker-registry")
    servers = []

    def start(names=("127.0.0.1",), expired=False):
        ca, cert, key = make_ca_and_server_cert(tmp_path / f"certs{len(servers)}", names, expired=expired)
        server = RegistryServer({"http": {"tls": {"certificate": str(cert), "key": str(key)}}})
        servers.append(server)
        return server.start(), ca

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def https_registry(https_registry_with):
    return https_registry_with()


def _env(tmp_path, https_hosts=(), **registries):
    """Isolated cache and docker config; loopback registries listed in `https_hosts` speak HTTPS."""
    config = tmp_path / "rigging.json"
    entries = {host: {"plain_http": False} for host in https_hosts}
    entries.update(registries)
    config.write_text(json.dumps({"registries": entries}))
    return {
        "RIGGING_CONFIG": str(config),
        "RIGGING_CACHE_DIR": str(tmp_path / "cache"),
        "DOCKER_CONFIG": str(tmp_path / "docker"),
        "RIGGING_CA_BUNDLE": "",
    }


def _one_line_error(result, *needles):
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rigging: error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def test_untrusted_certificate_is_refused_then_accepted_with_the_ca(cli, tmp_path, https_registry):
    registry, ca = https_registry
    # loopback registries default to plain HTTP; the config says this one speaks HTTPS
    env = _env(tmp_path, [registry.host])
    pkg = make_package(tmp_path / "pkg", "acme/tls", "1.0.0")
    refused = cli("publish", pkg, f"{registry.host}/acme/tls", env=env)
    _one_line_error(refused, registry.host, "TLS certificate not trusted", "--ca-file")

    accepted = cli("publish", pkg, f"{registry.host}/acme/tls", "--ca-file", ca, env=env)
    assert accepted.returncode == 0, accepted.stderr
    env = _env(tmp_path, **{registry.host: {"plain_http": False, "ca_file": str(ca)}})
    pulled = cli("pull", f"{registry.host}/acme/tls:1.0.0", "-o", tmp_path / "out", env=env)
    assert pulled.returncode == 0, pulled.stderr
    assert tree(tmp_path / "out") == tree(pkg)


def test_pull_over_tls_needs_the_ca_and_works_with_it(cli, tmp_path, https_registry):
    registry, ca = https_registry
    env = _env(tmp_path, [registry.host])
    pkg = make_package(tmp_path / "pkg", "acme/tls-pull", "1.0.0")
    published = cli("publish", pkg, f"{registry.host}/acme/tls-pull", "--ca-file", ca, "--json", env=env)
    assert published.returncode == 0, published.stderr
    ref = f"{registry.host}/acme/tls-pull:1.0.0"

    refused = cli("pull", ref, "-o", tmp_path / "refused", env=env)
    _one_line_error(refused, registry.host, "TLS certificate not trusted", "--ca-file")
    assert not (tmp_path / "refused").exists(), "a refused pull writes nothing"

    pulled = cli("pull", ref, "-o", tmp_path / "out", "--ca-file", ca, "--json", env=env)
    assert pulled.returncode == 0, pulled.stderr
    assert json.loads(pulled.stdout)["digest"] == json.loads(published.stdout)["digest"]
    assert tree(tmp_path / "out") == tree(pkg)

    bundle_env = {**env, "RIGGING_CA_BUNDLE": str(ca), "RIGGING_CACHE_DIR": str(tmp_path / "cache2")}
    again = cli("pull", ref, "-o", tmp_path / "out2", env=bundle_env)
    assert again.returncode == 0, again.stderr
    assert tree(tmp_path / "out2") == tree(pkg)


def test_a_certificate_for_another_name_is_refused_with_its_ca_trusted(cli, tmp_path, https_registry_with):
    registry, ca = https_registry_with(names=("registry.example",))
    env = _env(tmp_path, [registry.host])
    pkg = make_package(tmp_path / "pkg", "acme/tls-name", "1.0.0")
    refused = cli("publish", pkg, f"{registry.host}/acme/tls-name", "--ca-file", ca, env=env)
    line = _one_line_error(refused, registry.host, "not valid for this name", "127.0.0.1")
    assert "reissued" in line and "address the registry by a name its certificate lists" in line
    pulled = cli("pull", f"{registry.host}/acme/tls-name:1.0.0", "-o", tmp_path / "o", "--ca-file", ca, env=env)
    _one_line_error(pulled, registry.host, "not valid for this name")
    assert not (registry.storage / "docker" / "registry" / "v2" / "repositories").exists(), "nothing was uploaded"


def test_an_expired_certificate_is_refused_with_its_ca_trusted(cli, tmp_path, https_registry_with):
    registry, ca = https_registry_with(expired=True)
    env = _env(tmp_path, [registry.host])
    pkg = make_package(tmp_path / "pkg", "acme/tls-expired", "1.0.0")
    refused = cli("publish", pkg, f"{registry.host}/acme/tls-expired", "--ca-file", ca, env=env)
    line = _one_line_error(refused, registry.host, "TLS certificate has expired")
    assert "renewed" in line
    pulled = cli("pull", f"{registry.host}/acme/tls-expired:1.0.0", "-o", tmp_path / "o", "--ca-file", ca, env=env)
    _one_line_error(pulled, registry.host, "TLS certificate has expired")
    assert not (registry.storage / "docker" / "registry" / "v2" / "repositories").exists(), "nothing was uploaded"


# -- plain HTTP only for loopback registries ---------------------------------------------------


@pytest.fixture
def plain_package(cli, tmp_path, own_registry):
    """A plain-HTTP registry holding acme/plain:1.0.0; (registry, package folder)."""
    registry = own_registry()
    pkg = make_package(tmp_path / "pkg", "acme/plain", "1.0.0")
    env = _env(tmp_path)
    assert cli("publish", pkg, f"{registry.host}/acme/plain", env=env).returncode == 0
    return registry, pkg


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.parametrize("name", ["127.0.0.1", "localhost", "[::1]"])
def test_loopback_registries_use_plain_http_by_themselves(cli, tmp_path, plain_package, name):
    registry, pkg = plain_package
    if name == "[::1]" and not _ipv6_loopback():
        unavailable("this machine has no IPv6 loopback")
    relay = SniffingRelay(int(registry.host.rsplit(":", 1)[1]), "::1" if name == "[::1]" else "127.0.0.1").start()
    try:
        pulled = cli("pull", f"{name}:{relay.port}/acme/plain:1.0.0", "-o", tmp_path / "out", env=_env(tmp_path))
    finally:
        relay.stop()
    assert pulled.returncode == 0, pulled.stderr
    assert tree(tmp_path / "out") == tree(pkg)
    assert relay.first_bytes and relay.saw_plain_http and not relay.saw_tls, relay.first_bytes[:3]


def test_a_non_loopback_name_uses_https_unless_told_plain_http(cli, tmp_path, plain_package):
    alias = loopback_alias()
    if alias is None:
        unavailable("no host name other than localhost resolves to 127.0.0.1 alone (add one to /etc/hosts)")
    registry, pkg = plain_package
    upstream = int(registry.host.rsplit(":", 1)[1])

    relay = SniffingRelay(upstream).start()
    host = f"{alias}:{relay.port}"
    try:
        refused = cli("pull", f"{host}/acme/plain:1.0.0", "-o", tmp_path / "refused", env=_env(tmp_path))
    finally:
        relay.stop()
    _one_line_error(refused, host, "TLS handshake failed", "--plain-http")
    assert relay.saw_tls and not relay.saw_plain_http, relay.first_bytes[:3]

    relay = SniffingRelay(upstream).start()
    host = f"{alias}:{relay.port}"
    try:
        flagged = cli("pull", f"{host}/acme/plain:1.0.0", "-o", tmp_path / "flag", "--plain-http", env=_env(tmp_path))
    finally:
        relay.stop()
    assert flagged.returncode == 0, flagged.stderr
    assert tree(tmp_path / "flag") == tree(pkg)
    assert relay.saw_plain_http and not relay.saw_tls, relay.first_bytes[:3]

    relay = SniffingRelay(upstream).start()
    host = f"{alias}:{relay.port}"
    try:
        configured = cli(
            "pull",
            f"{host}/acme/plain:1.0.0",
            "-o",
            tmp_path / "conf",
            env=_env(tmp_path, **{host: {"plain_http": True}}),
        )
    finally:
        relay.stop()
    assert configured.returncode == 0, configured.stderr
    assert relay.saw_plain_http and not relay.saw_tls, relay.first_bytes[:3]


def test_a_non_loopback_name_reaches_an_https_registry_with_only_the_ca(cli, tmp_path, https_registry_with):
    alias = loopback_alias()
    if alias is None:
        unavailable("no host name other than localhost resolves to 127.0.0.1 alone (add one to /etc/hosts)")
    registry, ca = https_registry_with(names=(alias,))
    host = f"{alias}:{registry.host.rsplit(':', 1)[1]}"
    env = _env(tmp_path)  # no plain_http entry: HTTPS is the default for this name
    pkg = make_package(tmp_path / "pkg", "acme/named", "1.0.0")
    refused = cli("publish", pkg, f"{host}/acme/named", env=env)
    _one_line_error(refused, host, "TLS certificate not trusted", "--ca-file")
    assert cli("publish", pkg, f"{host}/acme/named", "--ca-file", ca, env=env).returncode == 0
    pulled = cli("pull", f"{host}/acme/named:1.0.0", "-o", tmp_path / "out", "--ca-file", ca, env=env)
    assert pulled.returncode == 0, pulled.stderr
    assert tree(tmp_path / "out") == tree(pkg)


def test_plain_http_to_a_loopback_https_registry_says_how_to_switch(cli, tmp_path, https_registry):
    """Plain HTTP is the loopback default, so a loopback registry serving HTTPS needs the config."""
    registry, ca = https_registry
    pulled = cli("pull", f"{registry.host}/acme/x:1.0.0", "-o", tmp_path / "o", "--ca-file", ca, env=_env(tmp_path))
    _one_line_error(pulled, registry.host, "serves HTTPS, not plain HTTP", '"plain_http": false')
