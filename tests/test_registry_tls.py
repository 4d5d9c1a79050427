"""TLS is verified by default; a custom CA bundle (flag or config) makes a private CA trusted."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.packages import make_package, tree
from tests.support.registry import REGISTRY_BINARY, RegistryServer
from tests.support.services import unavailable
from tests.support.tls import make_ca_and_server_cert


@pytest.fixture
def https_registry(tmp_path):
    if shutil.which(REGISTRY_BINARY) is None:
        unavailable("needs Debian's docker-registry")
    ca, cert, key = make_ca_and_server_cert(tmp_path)
    server = RegistryServer({"http": {"tls": {"certificate": str(cert), "key": str(key)}}})
    registry = server.start()
    yield registry, ca
    server.stop()


def test_untrusted_certificate_is_refused_then_accepted_with_the_ca(cli, tmp_path, https_registry):
    registry, ca = https_registry
    config = tmp_path / "rigging.json"
    # loopback registries default to plain HTTP; the config says this one speaks HTTPS
    config.write_text(json.dumps({"registries": {registry.host: {"plain_http": False}}}))
    env = {
        "RIGGING_CONFIG": str(config),
        "RIGGING_CACHE_DIR": str(tmp_path / "cache"),
        "DOCKER_CONFIG": str(tmp_path / "docker"),
    }
    pkg = make_package(tmp_path / "pkg", "acme/tls", "1.0.0")
    refused = cli("publish", pkg, f"{registry.host}/acme/tls", env=env)
    assert refused.returncode == 1
    assert "TLS certificate not trusted" in refused.stderr and "--ca-file" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1

    accepted = cli("publish", pkg, f"{registry.host}/acme/tls", "--ca-file", ca, env=env)
    assert accepted.returncode == 0, accepted.stderr
    config.write_text(json.dumps({"registries": {registry.host: {"plain_http": False, "ca_file": str(ca)}}}))
    pulled = cli("pull", f"{registry.host}/acme/tls:1.0.0", "-o", tmp_path / "out", env=env)
    assert pulled.returncode == 0, pulled.stderr
    assert tree(tmp_path / "out") == tree(pkg)
