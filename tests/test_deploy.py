"""deploy/ checked by the tools that define each format, and against the code it deploys.

- deploy/compose.yaml against the Compose Specification's JSON Schema (check-jsonschema's copy);
- every Kubernetes object the kustomizations list against the Kubernetes API's OpenAPI schemas
  (kubernetes-validate, strict: unknown fields fail), and the kustomizations built by kustomize;
- deploy/fly.toml parsed with tomllib, its keys among those Fly documents;
- the registry's configuration run by a real CNCF distribution (Debian's docker-registry) through
  its entrypoint, and its webhook and token URLs answered by the indexer's own app;
- every command line in compose, Kubernetes and Fly against the CLIs' own --help;
- the operations guide: its scaling figures cite bench scripts (and flags) that exist, and it names
  every setting the services read.
"""

from __future__ import annotations

import base64
import contextlib
import fnmatch
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.support.registry import REGISTRY_BINARY
from tests.support.services import free_port, stop, unavailable, wait_http

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
BIN = Path(sys.executable).parent
COMPOSE = DEPLOY / "compose.yaml"
GUIDE = DEPLOY / "README.md"
REGISTRY_CONFIGS = [K8S / "base/registry/config.yml", K8S / "overlays/production/registry-s3.yml"]
ENTRYPOINT = K8S / "base/registry/entrypoint.sh"
# the newest Kubernetes release whose schemas kubernetes-validate ships (1.37 when this was written)
KUBERNETES = kubernetes_validate.latest_version()


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def compose() -> dict[str, Any]:
    return load_yaml(COMPOSE)


# -- Compose -----------------------------------------------------------------------------------


def check_compose_schema(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_compose_file_matches_the_compose_specification():
    checked = check_compose_schema(COMPOSE)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_compose_schema_refuses_a_misspelt_key(tmp_path):
    """The schema check bites: a service key spelt wrong fails it."""
    text = COMPOSE.read_text(encoding="utf-8").replace("    healthcheck:\n", "    healthchek:\n", 1)
    wrong = tmp_path / "compose.yaml"
    wrong.write_text(text, encoding="utf-8")
    checked = check_compose_schema(wrong)
    assert checked.returncode != 0 and "healthchek" in checked.stdout + checked.stderr


def test_compose_services_start_in_order_with_health_checks_and_named_volumes():
    spec = compose()
    services = spec["services"]
    assert {"postgres", "migrate", "bootstrap", "registry", "indexer", "crawler", "scanner", "portal", "proxy"} <= set(
        services
    )
    assert services["postgres"]["image"].startswith("postgres:15")
    assert services["registry"]["image"].startswith("registry:2")
    assert services["migrate"]["command"] == ["rigging-indexer", "migrate"]
    assert services["migrate"]["restart"] == "no"
    for name, service in services.items():
        for needed, condition in (service.get("depends_on") or {}).items():
            assert needed in services, (name, needed)
            assert condition["condition"] in ("service_healthy", "service_completed_successfully"), (name, needed)
            wanted = "service_completed_successfully" if services[needed].get("restart") == "no" else "service_healthy"
            assert condition["condition"] == wanted, (name, needed)
        if service.get("restart") != "no":  # every long-running service says when it is healthy
            assert service.get("healthcheck", {}).get("test"), name
        for volume in service.get("volumes") or []:
            source = volume.split(":", 1)[0]
            if not source.startswith("."):
                assert source in spec["volumes"], (name, source)
            else:
                assert (DEPLOY / source).exists(), (name, source)
    # the one-shot services come first: nothing long-running starts before the schema is migrated
    assert services["bootstrap"]["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}
    assert services["portal"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_compose_takes_every_secret_from_the_env_file_documented_in_the_example():
    text = COMPOSE.read_text(encoding="utf-8")
    used = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", text))
    required = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*):\?", text))
    example = (DEPLOY / ".env.example").read_text(encoding="utf-8")
    documented = dict(re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=(.*)$", example, flags=re.MULTILINE))
    assert used <= set(documented), used - set(documented)
    for secret in ("POSTGRES_PASSWORD", "RIGGING_WEBHOOK_SECRET", "RIGGING_SESSION_SECRET", "REGISTRY_HTTP_SECRET"):
        assert secret in required, secret
        assert documented[secret] == "", f"{secret} has a value in .env.example: no secret is committed"
    assert ".env" in (DEPLOY / ".gitignore").read_text(encoding="utf-8").split()


# -- Kubernetes --------------------------------------------------------------------------------


def kustomizations() -> list[Path]:
    found = sorted(K8S.rglob("kustomization.yaml"))
    assert K8S / "base/kustomization.yaml" in found
    return found


def listed_files(kustomization: Path) -> tuple[list[Path], list[Path]]:
    """The manifests a kustomization lists as resources, and its patch files."""
    spec = load_yaml(kustomization)
    folder = kustomization.parent
    resources = [folder / r for r in spec.get("resources", []) if not (folder / r).is_dir()]
    patches = [folder / p["path"] for p in spec.get("patches", []) if "path" in p]
    return resources, patches


def objects(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


@pytest.mark.parametrize("kustomization", kustomizations(), ids=lambda p: str(p.parent.relative_to(K8S)))
def test_each_kustomization_lists_every_manifest_in_its_folder(kustomization):
    resources, patches = listed_files(kustomization)
    folder = kustomization.parent
    on_disk = {p for p in folder.glob("*.yaml") if p.name != "kustomization.yaml"}
    listed = set(resources) | set(patches)
    assert on_disk == listed, f"not listed: {on_disk - listed}; missing: {listed - on_disk}"
    spec = load_yaml(kustomization)
    for directory in (r for r in spec.get("resources", []) if (folder / r).is_dir()):
        assert (folder / directory / "kustomization.yaml").exists(), directory
    for generator in spec.get("configMapGenerator", []):
        for entry in generator.get("files", []):
            assert (folder / entry.split("=", 1)[-1]).is_file(), entry


def all_manifests() -> list[tuple[Path, dict[str, Any]]]:
    return [(path, doc) for k in kustomizations() for path in listed_files(k)[0] for doc in objects(path)]


def test_every_kubernetes_object_validates_against_the_api_schemas():
    problems = []
    manifests = all_manifests()
    for path, doc in manifests:
        try:
            kubernetes_validate.validate(doc, KUBERNETES, strict=True)
        except kubernetes_validate.ValidationError as exc:
            problems.append(f"{path.relative_to(DEPLOY)} {doc['kind']}/{doc['metadata']['name']}: {exc.message}")
    assert not problems, "\n".join(problems)
    kinds = {doc["kind"] for _, doc in manifests}
    assert {"Deployment", "Service", "Ingress", "Job", "HorizontalPodAutoscaler", "PodDisruptionBudget"} <= kinds
    assert {"ConfigMap", "PersistentVolumeClaim", "Namespace"} <= kinds
    assert "Secret" not in kinds, "secrets are created by the operator (deploy/README.md), never kept here"


def test_the_kubernetes_validator_refuses_a_misspelt_field():
    """Strict validation bites: an unknown field in a Deployment fails it."""
    deployment = next(doc for _, doc in all_manifests() if doc["kind"] == "Deployment")
    wrong = json.loads(json.dumps(deployment))
    wrong["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {"tcpSocket": {"port": 1}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(wrong, KUBERNETES, strict=True)


def manifest(kind: str, name: str) -> dict[str, Any]:
    return next(doc for _, doc in all_manifests() if doc["kind"] == kind and doc["metadata"]["name"] == name)


def test_each_deployment_has_probes_resources_and_runs_unprivileged():
    deployments = [doc for _, doc in all_manifests() if doc["kind"] == "Deployment"]
    assert {d["metadata"]["name"] for d in deployments} == {"indexer", "crawler", "scanner", "portal", "registry"}
    for deployment in deployments:
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, deployment["metadata"]["name"]
        for container in [*pod.get("initContainers", []), *pod["containers"]]:
            where = f"{deployment['metadata']['name']}/{container['name']}"
            for kind in ("requests", "limits"):
                assert set(container["resources"][kind]) >= {"cpu", "memory"}, where
            assert container["securityContext"]["allowPrivilegeEscalation"] is False, where
        for container in pod["containers"]:
            where = f"{deployment['metadata']['name']}/{container['name']}"
            assert container.get("readinessProbe") and container.get("livenessProbe"), where


def test_autoscalers_and_disruption_budgets_target_the_stateless_deployments():
    manifests = [doc for _, doc in all_manifests()]
    deployments = {d["metadata"]["name"]: d for d in manifests if d["kind"] == "Deployment"}
    autoscaled, budgeted = set(), set()
    for doc in manifests:
        if doc["kind"] == "HorizontalPodAutoscaler":
            target = doc["spec"]["scaleTargetRef"]
            assert (target["apiVersion"], target["kind"]) == ("apps/v1", "Deployment")
            assert target["name"] in deployments, target
            assert 1 <= doc["spec"]["minReplicas"] <= doc["spec"]["maxReplicas"]
            autoscaled.add(target["name"])
        if doc["kind"] == "PodDisruptionBudget":
            wanted = doc["spec"]["selector"]["matchLabels"]
            matching = [
                name
                for name, d in deployments.items()
                if wanted.items() <= d["spec"]["template"]["metadata"]["labels"].items()
            ]
            assert len(matching) == 1, (doc["metadata"]["name"], matching)
            budgeted.add(matching[0])
        if doc["kind"] == "Deployment":  # an autoscaled Deployment leaves the count to its autoscaler
            assert "replicas" not in doc["spec"] or doc["metadata"]["name"] == "registry"
    stateless = {"indexer", "crawler", "scanner", "portal"}
    assert stateless <= autoscaled and stateless <= budgeted
    # the registry becomes stateless (S3) in the production overlay, which adds both
    assert "registry" in autoscaled and "registry" in budgeted


def test_every_secret_the_pods_use_is_one_the_guide_says_how_to_create():
    referenced = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "secretKeyRef" in node:
                referenced.add(node["secretKeyRef"]["name"])
            if "secretName" in node:
                referenced.add(node["secretName"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for _, doc in all_manifests():
        walk(doc)
    guide = GUIDE.read_text(encoding="utf-8")
    assert referenced == {"rigging-secrets", "rigging-token-keys", "rigging-registry-login", "rigging-tls"}
    for name in referenced - {"rigging-tls"}:
        assert f"secret generic {name}" in guide or f"secret docker-registry {name}" in guide, name


@pytest.mark.parametrize("kustomization", kustomizations(), ids=lambda p: str(p.parent.relative_to(K8S)))
def test_kustomize_builds_each_kustomization_into_valid_objects(kustomization):
    """The overlay's patches only show in the built output; kustomize (kubectl's) builds it."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        unavailable("kubectl is not installed (its kustomize builds the overlays); the schemas are checked above")
    built = subprocess.run(
        [kubectl, "kustomize", str(kustomization.parent)], capture_output=True, text=True, timeout=120, check=False
    )
    assert built.returncode == 0, built.stderr
    docs = [doc for doc in yaml.safe_load_all(built.stdout) if doc]
    for doc in docs:
        kubernetes_validate.validate(doc, KUBERNETES, strict=True)
    # generated ConfigMaps carry a content hash, and every reference was rewritten to it
    names = {doc["metadata"]["name"] for doc in docs if doc["kind"] == "ConfigMap"}
    assert any(re.fullmatch(r"rigging-config-[a-z0-9]{10}", n) for n in names), names
    assert "rigging-config" not in re.findall(r"name: (rigging-config)\n", built.stdout)
    if "overlays" in kustomization.parts:
        deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
        registry = deployments["registry"]["spec"]
        assert "replicas" not in registry and registry["strategy"]["type"] == "RollingUpdate"
        assert not [d for d in docs if d["kind"] == "PersistentVolumeClaim"]
        assert all(d["metadata"].get("namespace") == "rigging" for d in docs if d["kind"] != "Namespace")
        config = next(d for d in docs if d["metadata"]["name"].startswith("rigging-registry-"))
        assert "s3:" in config["data"]["config.yml"] and config["data"]["entrypoint.sh"].startswith("#!/bin/sh")


# -- Fly.io ------------------------------------------------------------------------------------

# The keys of fly.toml as Fly's reference documents them: "App configuration (fly.toml)",
# https://fly.io/docs/reference/configuration/ (superfly/docs, reference/configuration.html.markerb).
# A dict maps a section to its keys; None means any key (names chosen by the app); [dict] is an
# array of tables. Only what the reference names is here.
_CHECK = {
    "grace_period": None,
    "interval": None,
    "timeout": None,
    "method": None,
    "path": None,
    "protocol": None,
    "tls_server_name": None,
    "tls_skip_verify": None,
    "headers": None,
}
_CONCURRENCY = {"type": None, "hard_limit": None, "soft_limit": None}
_HTTP_OPTIONS = {"idle_timeout": None, "h2_backend": None, "response": {"pristine": None, "headers": None}}
_MACHINE_CHECK = {"image": None, "entrypoint": None, "command": None, "kill_signal": None, "kill_timeout": None}
_AUTOSTOP = {"auto_stop_machines": None, "auto_start_machines": None, "min_machines_running": None}
FLY_KEYS: dict[str, Any] = {
    "app": None,
    "primary_region": None,
    "kill_signal": None,
    "kill_timeout": None,
    "console_command": None,
    "swap_size_mb": None,
    "build": {
        "builder": None,
        "buildpacks": None,
        "image": None,
        "dockerfile": None,
        "ignorefile": None,
        "build-target": None,
        "args": None,
    },
    "deploy": {
        "release_command": None,
        "release_command_timeout": None,
        "release_command_vm": {"size": None, "memory": None},
        "strategy": None,
        "max_unavailable": None,
        "wait_timeout": None,
    },
    "env": None,
    "http_service": {
        "processes": None,
        "internal_port": None,
        "force_https": None,
        **_AUTOSTOP,
        "concurrency": _CONCURRENCY,
        "http_options": _HTTP_OPTIONS,
        "tls_options": {"alpn": None, "versions": None, "default_self_signed": None},
        "checks": [_CHECK],
        "machine_checks": [_MACHINE_CHECK],
    },
    "services": [
        {
            "processes": None,
            "internal_port": None,
            "protocol": None,
            **_AUTOSTOP,
            "ports": [
                {
                    "handlers": None,
                    "port": None,
                    "start_port": None,
                    "end_port": None,
                    "force_https": None,
                    "http_options": _HTTP_OPTIONS,
                    "proxy_proto_options": {"version": None},
                    "tls_options": {"alpn": None, "versions": None, "default_self_signed": None},
                }
            ],
            "concurrency": _CONCURRENCY,
            "tcp_checks": [{"grace_period": None, "interval": None, "timeout": None, "restart_limit": None}],
            "http_checks": [{**_CHECK, "restart_limit": None}],
            "machine_checks": [_MACHINE_CHECK],
        }
    ],
    "mounts": None,  # a table or an array of tables of source, destination, processes, initial_size, …
    "vm": [
        {
            "size": None,
            "memory": None,
            "cpus": None,
            "cpu_kind": None,
            "gpus": None,
            "gpu_kind": None,
            "kernel_args": None,
            "host_dedication_id": None,
            "processes": None,
        }
    ],
    "restart": [{"policy": None, "retries": None, "processes": None}],
    "checks": None,
    "processes": None,
    "metrics": None,
    "statics": [
        {"guest_path": None, "url_prefix": None, "tigris_bucket": None, "index_document": None},
    ],
    "files": [{"guest_path": None, "raw_value": None, "local_path": None, "secret_name": None, "processes": None}],
    "experimental": {"cmd": None, "entrypoint": None, "exec": None},
}


def undocumented_keys(value: Any, allowed: Any, where: str = "") -> list[str]:
    if allowed is None:
        return []
    if isinstance(allowed, list):
        items = value if isinstance(value, list) else [value]
        return [k for item in items for k in undocumented_keys(item, allowed[0], where)]
    if not isinstance(value, dict):
        return [f"{where}: a table was expected"]
    found = []
    for key, inner in value.items():
        path = f"{where}.{key}" if where else key
        found += [path] if key not in allowed else undocumented_keys(inner, allowed[key], path)
    return found


def fly() -> dict[str, Any]:
    return tomllib.loads((DEPLOY / "fly.toml").read_text(encoding="utf-8"))


def test_fly_toml_uses_only_keys_fly_documents():
    config = fly()
    assert undocumented_keys(config, FLY_KEYS) == []
    assert undocumented_keys({"http_service": {"checkz": []}}, FLY_KEYS) == ["http_service.checkz"]  # it bites


def test_fly_toml_builds_the_image_migrates_and_runs_every_part():
    config = fly()
    assert config["app"] and re.fullmatch(r"[a-z]{3}", config["primary_region"])
    # dockerfile and ignorefile are relative to fly.toml (flyctl's resolveDockerfilePath)
    assert (DEPLOY / config["build"]["dockerfile"]).is_file()
    assert (DEPLOY / config["build"]["ignorefile"]).is_file()
    assert config["deploy"]["release_command"] == "rigging-indexer migrate"
    processes = config["processes"]
    assert {"api", "worker", "portal"} <= set(processes)
    assert processes["api"].startswith("rigging-indexer serve ") and processes["portal"].startswith("rigging-portal ")
    assert config["http_service"]["processes"] == ["api"] and config["http_service"]["checks"][0]["path"] == "/healthz"
    assert config["http_service"]["internal_port"] == int(re.search(r"--port (\d+)", processes["api"])[1])
    for service in config["services"]:
        assert set(service["processes"]) <= set(processes)
    sized = {p for vm in config["vm"] for p in vm["processes"]}
    assert sized == set(processes), "every process group has its size"
    for name, value in config["env"].items():
        assert isinstance(value, str) and not name.startswith("FLY_"), name
    for entry in config["files"]:
        assert entry["secret_name"] not in config["env"]


# -- the registry and the indexer ------------------------------------------------------------


@functools.cache
def indexer_json(overlay: str) -> dict[str, Any]:
    return json.loads((K8S / overlay / "indexer.json").read_text(encoding="utf-8"))


def compose_indexer_config() -> str:
    return compose()["configs"]["indexer-config"]["content"]


def test_the_deployments_agree_on_the_token_service_and_the_webhook():
    """The registry's auth.token (issuer, service, realm) and notifications (the indexer's
    Service and port) match what the indexer is configured and started with, everywhere."""
    spec = compose()
    registry_env = spec["services"]["registry"]["environment"]
    # compose: the realm, the service and the source all follow deploy/.env's public URL and host
    assert registry_env["REGISTRY_AUTH_TOKEN_REALM"].startswith("${RIGGING_PUBLIC_URL")
    assert registry_env["REGISTRY_AUTH_TOKEN_REALM"].endswith("}/auth/registry/token")
    assert registry_env["REGISTRY_AUTH_TOKEN_SERVICE"].startswith("${RIGGING_PUBLIC_HOST")
    settings = json.loads(re.sub(r"\$\{(\w+)[^}]*\}", r"<\1>", compose_indexer_config()))
    tokens = [settings["auth"]["registry_token"]]
    assert tokens[0]["service"] == "<RIGGING_PUBLIC_HOST>"
    assert settings["sources"] == [settings["auth"]["public_url"]] == ["<RIGGING_PUBLIC_URL>"]
    # Kubernetes: the registry's ConfigMap against indexer.json, in the base and the overlay
    env = next(
        doc for _, doc in all_manifests() if doc["kind"] == "ConfigMap" and doc["metadata"]["name"] == "rigging-env"
    )
    patched = objects(K8S / "overlays/production/patches.yaml")
    overlay_env = next(doc for doc in patched if doc["kind"] == "ConfigMap")
    for overlay, data in (("base", env["data"]), ("overlays/production", overlay_env["data"])):
        config = indexer_json(overlay)
        tokens.append(config["auth"]["registry_token"])
        assert data["REGISTRY_AUTH_TOKEN_SERVICE"] == tokens[-1]["service"]
        assert data["REGISTRY_AUTH_TOKEN_REALM"] == config["auth"]["public_url"] + "/auth/registry/token"
        assert config["sources"] == [config["auth"]["public_url"]]
    for path in REGISTRY_CONFIGS:
        registry = load_yaml(path)
        for token in tokens:
            assert registry["auth"]["token"]["issuer"] == token["issuer"] == "rigging-indexer"
            assert registry["auth"]["token"]["rootcertbundle"] == token["keys"] + "/ca.pem"
        assert registry["log"]["level"] == "warn"  # at info distribution logs the webhook's header
        (endpoint,) = registry["notifications"]["endpoints"]
        url = endpoint["url"]
        assert url.startswith("http://indexer:8700/")
        assert endpoint["headers"]["Authorization"] == ["Bearer @RIGGING_WEBHOOK_SECRET@"]
    # the notification's host is the indexer's compose service and Kubernetes Service, on its port
    assert "--port=8700" in spec["services"]["indexer"]["command"]
    service = next(
        doc for _, doc in all_manifests() if doc["kind"] == "Service" and doc["metadata"]["name"] == "indexer"
    )
    assert service["spec"]["ports"][0]["port"] == 8700


def test_the_registry_webhook_and_token_realm_are_paths_the_indexer_serves(tmp_path):
    """The indexer's own app, as `serve` builds it, answers the notification URL (with the Bearer
    secret) and the realm (with a token for the registry's service and issuer)."""
    from fastapi.testclient import TestClient
    from rigging_indexer.app import Settings, create_app

    from tests.support.index_db import fresh_index

    registry = load_yaml(REGISTRY_CONFIGS[0])
    webhook = registry["notifications"]["endpoints"][0]["url"].removeprefix("http://indexer:8700")
    realm = load_yaml(K8S / "base/configmap.yaml")["data"]["REGISTRY_AUTH_TOKEN_REALM"]
    realm_path = "/" + realm.split("://", 1)[1].split("/", 1)[1]
    keys = tmp_path / "token-keys"
    made = subprocess.run([str(BIN / "rigging-indexer"), "keys", "init", str(keys)], capture_output=True, timeout=60)
    assert made.returncode == 0, made.stderr
    token_settings = {**indexer_json("base")["auth"]["registry_token"], "keys": str(keys)}
    with fresh_index("sqlite", tmp_path) as (_, sessions):
        app = create_app(Settings(sessions, webhook_secret="s3cret", auth={"registry_token": token_settings}))
        with TestClient(app) as client:
            bearer = {"Authorization": "Bearer s3cret"}
            answer = client.post(webhook, json={"events": []}, headers=bearer)
            assert (answer.status_code, answer.json()) == (202, {"indexed": 0, "downloads": 0}), answer.text
            assert client.post(webhook, json={"events": []}).status_code == 401
            assert client.post(webhook + "s", json={"events": []}, headers=bearer).status_code == 404
            service = load_yaml(K8S / "base/configmap.yaml")["data"]["REGISTRY_AUTH_TOKEN_SERVICE"]
            given = client.get(realm_path, params={"service": service, "scope": "repository:a/b:pull"})
            assert given.status_code == 200, given.text
            claims = json.loads(base64.urlsafe_b64decode(given.json()["token"].split(".")[1] + "=="))
            # what the registry checks a token against: its auth.token issuer and service
            assert (claims["iss"], claims["aud"]) == (registry["auth"]["token"]["issuer"], service)


@contextlib.contextmanager
def deploy_registry(tmp_path: Path, secret: str, realm: str) -> Any:
    """Debian's distribution run as the compose service and the Kubernetes pod run it: sh
    entrypoint.sh with the deploy configuration, only its addresses and paths moved here."""
    if shutil.which(REGISTRY_BINARY) is None:
        unavailable("needs Debian's docker-registry (apt-get install -y docker-registry)")
    keys = tmp_path / "token-keys"
    made = subprocess.run([str(BIN / "rigging-indexer"), "keys", "init", str(keys)], capture_output=True, timeout=60)
    assert made.returncode == 0, made.stderr
    port, debug = free_port(), free_port()
    env = {
        "PATH": os.environ["PATH"],
        "TMPDIR": str(tmp_path),
        "RIGGING_WEBHOOK_SECRET": secret,
        "RIGGING_REGISTRY_BINARY": REGISTRY_BINARY,
        "REGISTRY_HTTP_ADDR": f"127.0.0.1:{port}",
        "REGISTRY_HTTP_DEBUG_ADDR": f"127.0.0.1:{debug}",
        "REGISTRY_HTTP_SECRET": "registry-http-secret",
        "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY": str(tmp_path / "storage"),
        "REGISTRY_AUTH_TOKEN_ROOTCERTBUNDLE": str(keys / "ca.pem"),
        "REGISTRY_AUTH_TOKEN_REALM": realm,
        "REGISTRY_AUTH_TOKEN_SERVICE": "registry.example.test",
    }
    log = (tmp_path / "registry.log").open("wb")
    process = subprocess.Popen(["sh", str(ENTRYPOINT)], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_http(f"http://127.0.0.1:{debug}/debug/health", timeout=30, ok_statuses=(200,))
        yield f"http://127.0.0.1:{port}", f"http://127.0.0.1:{debug}"
    finally:
        stop(process)
        log.close()


def test_the_registry_runs_with_the_deploy_configuration(tmp_path):
    secret = "0123456789abcdef-webhook"
    realm = "https://index.example.test/auth/registry/token"
    with deploy_registry(tmp_path, secret, realm) as (registry, debug):
        with urllib.request.urlopen(f"{debug}/debug/health", timeout=5) as health:  # noqa: S310
            assert health.status == 200
        with urllib.request.urlopen(f"{debug}/metrics", timeout=5) as metrics:  # noqa: S310
            assert b"registry_" in metrics.read()
        with pytest.raises(urllib.error.HTTPError) as challenged:
            urllib.request.urlopen(f"{registry}/v2/", timeout=5)  # noqa: S310
        assert challenged.value.code == 401
        assert challenged.value.headers["WWW-Authenticate"] == (
            f'Bearer realm="{realm}",service="registry.example.test"'
        )
    written = load_yaml(tmp_path / "rigging-registry-config.yml")
    assert written["notifications"]["endpoints"][0]["headers"]["Authorization"] == [f"Bearer {secret}"]
    assert secret not in (tmp_path / "registry.log").read_text(errors="replace"), "the webhook secret was logged"


def test_the_registry_entrypoint_refuses_a_secret_it_cannot_write_safely(tmp_path):
    refused = subprocess.run(
        ["sh", str(ENTRYPOINT)],
        env={"PATH": os.environ["PATH"], "TMPDIR": str(tmp_path), "RIGGING_WEBHOOK_SECRET": "a/b&c"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert refused.returncode == 2 and "openssl rand -hex 32" in refused.stderr
    assert not (tmp_path / "rigging-registry-config.yml").exists()


# -- the command lines -------------------------------------------------------------------------


@functools.cache
def cli_help(program: str, *subcommands: str) -> str:
    shown = subprocess.run(
        [str(BIN / program), *subcommands, "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert shown.returncode == 0, shown.stderr
    return shown.stdout


def subcommand_path(words: list[str]) -> tuple[str, ...]:
    """`admin token create` of `rigging-indexer admin token create --user …`: the words before
    the first flag or argument."""
    path = []
    for word in words[1:]:
        if not re.fullmatch(r"[a-z][a-z-]*", word):
            break
        path.append(word)
    return tuple(path)


def command_lines() -> list[tuple[str, list[str]]]:
    """Every rigging-indexer / rigging-portal invocation the deploy files make."""
    found: list[tuple[str, list[str]]] = []
    for name, service in compose()["services"].items():
        command = service.get("command")
        if isinstance(command, list) and command and command[0].startswith("rigging-"):
            found.append((f"compose {name}", command))
        if isinstance(command, list) and command and "rigging-indexer" in command[0] and "\n" in command[0]:
            found += [(f"compose {name}", line.split()) for line in re.findall(r"rigging-indexer [^\n;)]*", command[0])]
    for path, doc in all_manifests():
        if doc["kind"] in ("Deployment", "Job"):
            for container in doc["spec"]["template"]["spec"]["containers"]:
                if container.get("args"):
                    found.append((f"{path.name} {doc['metadata']['name']}", container["args"]))
    for name, line in fly()["processes"].items():
        found.append((f"fly {name}", line.split()))
    found.append(("fly release", fly()["deploy"]["release_command"].split()))
    return found


def test_every_command_line_uses_subcommands_and_flags_the_clis_have():
    lines = command_lines()
    assert len(lines) >= 15
    for where, words in lines:
        program = words[0]
        assert program in ("rigging-indexer", "rigging-portal"), where
        path = subcommand_path(words)
        known = cli_help(program, *path)
        for word in words[1 + len(path) :]:
            if word.startswith("--"):
                flag = word.split("=", 1)[0]
                assert re.search(rf"(^|[\s\[]){re.escape(flag)}(?![a-z-])", known), f"{where}: no {flag} in {path}"


def test_the_servers_listen_on_all_interfaces_and_the_api_leaves_crawls_and_scans_to_the_workers():
    for where, words in command_lines():
        text = " ".join(words)
        if " serve" in text:
            assert re.search(r"--host[= ]0\.0\.0\.0", text), where
        if text.startswith("rigging-indexer serve"):
            assert re.search(r"--crawl-interval[= ]0\b", text) and re.search(r"--scan-workers[= ]0\b", text), where


# -- the image ---------------------------------------------------------------------------------


def dockerignored(relative: str, patterns: list[str]) -> bool:
    parts = relative.split("/")
    for pattern in patterns:
        if pattern.startswith("**/"):
            if any(fnmatch.fnmatch(part, pattern[3:]) for part in parts):
                return True
        elif fnmatch.fnmatch(relative, pattern) or any(
            fnmatch.fnmatch("/".join(parts[:i]), pattern) for i in range(1, len(parts))
        ):
            return True
    return False


def build_stage_instructions(dockerfile: str) -> list[str]:
    """The build stage's instructions (FROM … AS build up to the next FROM), continuations joined."""
    text = re.sub(r"\\\n\s*", " ", dockerfile)
    stages = re.split(r"^FROM .*$", text, flags=re.MULTILINE)
    assert len(stages) == 3, "one build stage, one runtime stage"
    return [line.strip() for line in stages[1].splitlines() if re.match(r"[A-Z]+ ", line.strip())]


def test_the_image_installs_the_services_from_the_build_context_the_dockerfile_sees(tmp_path):
    """The Dockerfile's build stage, without Docker: the repository filtered by
    Dockerfile.dockerignore is the context; each COPY brings its files into the stage's folder in
    order, and each `uv sync` runs there when the Dockerfile runs it (the dependency layer sees only
    the lock and the pyproject files), into a fresh environment whose rigging-indexer and
    rigging-portal must then start. Semgrep's own venv is not installed again here."""
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^USER 10001:10001$", dockerfile, flags=re.MULTILINE)
    patterns = [
        line.strip()
        for line in (DEPLOY / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    context = [r for r in listed if not dockerignored(r, patterns) and (ROOT / r).is_file()]
    assert "uv.lock" in context and "indexer/src/rigging_indexer/main.py" in context
    assert not [r for r in context if r.startswith((".venv/", "tests/", ".git/"))]
    uv = shutil.which("uv")
    if uv is None:
        unavailable("uv is not installed (./dev installs it)")
    env = {
        **os.environ,
        "UV_PROJECT_ENVIRONMENT": str(tmp_path / "opt-rigging"),
        "UV_PYTHON": sys.executable,
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_LINK_MODE": "copy",
    }
    env.pop("VIRTUAL_ENV", None)
    stage = tmp_path / "src"
    stage.mkdir()
    syncs = 0
    for instruction in build_stage_instructions(dockerfile):
        words = instruction.split()
        if words[0] == "COPY" and not words[1].startswith("--"):
            *sources, target = words[1:]
            chosen = context if sources == ["."] else sources
            for source in chosen:
                assert source in context, f"the Dockerfile copies {source}, which the build context lacks"
                where = stage / source if sources == ["."] or target.endswith("/") else stage / target
                where.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / source, where)
        if words[0] == "RUN" and "uv sync" in instruction:
            sync = re.search(r"uv sync[^&]*", instruction)[0].split()
            done = subprocess.run([uv, *sync[1:]], cwd=stage, env=env, capture_output=True, text=True, timeout=600)
            assert done.returncode == 0, f"{' '.join(sync)}: {done.stderr[-2000:]}"
            syncs += 1
        if words[0] == "RUN" and "semgrep" in instruction:
            pin = (stage / "tools/requirements.txt").read_text(encoding="utf-8")
            assert re.search(r"^semgrep==\S+", pin, flags=re.MULTILINE), "no Semgrep pin for the image"
    assert syncs == 2
    for program in ("rigging-indexer", "rigging-portal"):
        version = subprocess.run(
            [str(tmp_path / "opt-rigging/bin" / program), "--version"], capture_output=True, text=True, timeout=60
        )
        assert version.returncode == 0 and version.stdout.startswith(program), version.stderr


# -- the operations guide ----------------------------------------------------------------------


def guide_section(title: str) -> str:
    text = GUIDE.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}")
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else None]


def test_the_scaling_table_cites_bench_scripts_that_exist_with_their_commands():
    section = guide_section("Scaling out")
    rows = [line for line in section.splitlines() if re.match(r"\| [A-Z] \|", line)]
    assert len(rows) >= 10, "the measured figures table"
    letters = set()
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        letter, _figure, value, script, command, _source = cells
        letters.add(letter)
        assert re.search(r"\d", value), row
        (name,) = set(re.findall(r"bench/(\w+)\.py", script))
        assert (ROOT / "bench" / f"{name}.py").is_file(), name
        if command != "same command":
            runs = re.findall(r"\.venv/bin/python (bench/\w+\.py)([^`]*)`", command)
            assert runs, row
            for script_path, arguments in runs:
                assert (ROOT / script_path).is_file(), script_path
                shown = subprocess.run(
                    [sys.executable, str(ROOT / script_path), "--help"], capture_output=True, text=True, timeout=60
                )
                assert shown.returncode == 0, shown.stderr
                for flag in re.findall(r"--[a-z][a-z-]*", arguments):
                    assert flag in shown.stdout, f"{script_path} has no {flag}"
                for name_given in re.findall(r"(?<!-)\b([a-z_]+)\b", arguments) if "all.py" in script_path else ():
                    assert (ROOT / "bench" / f"{name_given}.py").is_file(), name_given
    # the replica table says which figures each row comes from, and they are rows above
    replicas = section[section.index("### Replicas by catalogue size") :]
    table = [line for line in replicas.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert len(table) >= 6
    for line in table:
        sources = line.strip("|").split("|")[-1]
        cited = set(re.findall(r"\b([A-L])\b", sources))
        assert cited and cited <= letters, line


def test_the_guide_names_every_setting_the_services_read():
    guide = GUIDE.read_text(encoding="utf-8")
    read = set()
    for source in [*(ROOT / "indexer/src").rglob("*.py"), *(ROOT / "portal/src").rglob("*.py")]:
        text = source.read_text(encoding="utf-8")
        read |= set(re.findall(r"""(?:environ|env)(?:\.get\(|\[)["']([A-Z][A-Z0-9_]+)["']""", text))
        read |= set(re.findall(r"""^[A-Z_]+ = ["']((?:RIGGING|COSIGN)_[A-Z0-9_]+)["']""", text, flags=re.MULTILINE))
    assert {"RIGGING_INDEXER_DATABASE_URL", "RIGGING_INDEXER_WEBHOOK_SECRET", "RIGGING_INDEXER_REGISTRY_KEYS"} <= read
    missing = sorted(name for name in read if name not in guide)
    assert not missing, f"deploy/README.md does not name {missing}"
    for program, subcommands in (
        ("rigging-indexer", ("serve", "crawl", "scan", "migrate", "rescan", "admin", "keys")),
        ("rigging-portal", ("serve",)),
    ):
        for subcommand in subcommands:
            for flag in set(re.findall(r"(--[a-z][a-z-]+)", cli_help(program, subcommand))) - {"--help"}:
                named = re.search(re.escape(flag) + r"(?![a-z-])", guide)
                assert named, f"deploy/README.md does not name {program} {subcommand} {flag}"


def test_the_guide_backs_up_exactly_the_tables_a_crawl_cannot_rebuild():
    """Every table of the schema is in the backup table, and the ones marked **no** are the ones
    the accounts dump names."""
    from rigging_indexer.models import Base

    section = guide_section("Backups")
    tables = set(Base.metadata.tables) | {"search_state", "alembic_version"}
    for table in tables:
        assert f"`{table}`" in section, table
    kept = set()
    for line in section.splitlines():
        if line.startswith("| `") and line.rstrip("|").rstrip().endswith("| **no**"):
            kept |= set(re.findall(r"`([a-z_]+)`", line.split("|")[1]))
    dumped = set(re.findall(r"--table=([a-z_]+)", section))
    assert (
        kept
        == dumped
        == {
            "users",
            "organisations",
            "memberships",
            "namespaces",
            "access_tokens",
            "trusted_publishers",
            "audit_log",
        }
    )
