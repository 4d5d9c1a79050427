"""The embedded default end to end: a folder of OCI layouts (`oci:DIR`, package `ns/name` in
`DIR/ns/name`) is a project's registry, a publish target, a place for signatures and an indexer
source — no server at all. And `scripts/demo.sh` runs the whole story with and without
docker-registry."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.packages import make_package
from tests.support.indexer_server import INDEXER, start_indexer
from tests.support.processes import session_processes
from tests.support.services import free_port, unavailable, wait_http


@pytest.fixture
def env(tmp_path):
    return {
        "RIGGING_CACHE_DIR": str(tmp_path / "cache"),
        "DOCKER_CONFIG": str(tmp_path / "docker"),
        "COSIGN_PASSWORD": "pw",
        "RIGGING_INDEX_URL": "",
    }


def _publish(cli, tmp_path, env, name, version, target, deps=None, *extra):
    pkg = make_package(
        tmp_path / "src" / f"{name.replace('/', '.')}-{version}", name, version, dependencies=deps, extra_rule=version
    )
    result = cli("publish", pkg, target, "--json", *extra, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _project(root: Path, data: dict) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "rigging.json").write_text(json.dumps({"targets": ["claude"], **data}, indent=2))
    return root


def _lock(project: Path) -> dict:
    return json.loads((project / "rigging.lock").read_text())["packages"]


def _failed(result, *words):
    """A clear one-line error, never a traceback."""
    assert result.returncode not in (0, 70), result.stdout
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


def _layout_blob(layout: Path, digest: str) -> Path:
    return layout / "blobs" / "sha256" / digest.removeprefix("sha256:")


def test_a_store_is_a_project_registry_add_install_update_remove(cli, tmp_path, env):
    store = tmp_path / "store"
    first = _publish(cli, tmp_path, env, "acme/base", "1.0.0", f"oci:{store}/acme/base")
    assert first["target"] == f"oci:{store}/acme/base" and (store / "acme" / "base" / "oci-layout").is_file()
    # once the folder holds packages, oci:STORE is the store: the package goes to STORE/ns/name
    second = _publish(cli, tmp_path, env, "acme/style", "1.0.0", f"oci:{store}", {"acme/base": "^1.0.0"})
    assert second["target"] == f"oci:{store}/acme/style" and (store / "acme" / "style" / "oci-layout").is_file()

    project = _project(tmp_path / "project", {"registry": "oci:../store"})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()  # a relative store is relative to the project, not to where rigging runs
    added = cli("add", "acme/style", "-C", project, "--json", cwd=elsewhere, env=env)
    assert added.returncode == 0, added.stderr
    lock = _lock(project)
    assert {n: (p["version"], p["source"]) for n, p in lock.items()} == {
        "acme/base": ("1.0.0", "oci:../store/acme/base"),
        "acme/style": ("1.0.0", "oci:../store/acme/style"),
    }
    assert lock["acme/style"]["manifest"] == second["digest"]
    base_rule = project / ".claude" / "commands" / "acme.base.extra.md"
    assert "1.0.0" in base_rule.read_text()
    tree = cli("tree", "-C", project, env=env)
    assert tree.returncode == 0 and "acme/style" in tree.stdout and "acme/base" in tree.stdout
    listed = cli("list", "-C", project, "--json", env=env)
    assert listed.returncode == 0 and "acme/base" in listed.stdout

    _publish(cli, tmp_path, env, "acme/base", "1.1.0", f"oci:{store}")
    outdated = cli("outdated", "-C", project, "--json", env=env)
    assert outdated.returncode == 0, outdated.stderr
    assert [(r["name"], r["wanted"], r["latest"]) for r in json.loads(outdated.stdout)] == [
        ("acme/base", "1.1.0", "1.1.0")
    ]
    updated = cli("update", "-C", project, env=env)
    assert updated.returncode == 0, updated.stderr
    assert _lock(project)["acme/base"]["version"] == "1.1.0" and "1.1.0" in base_rule.read_text()
    # a project's location opens as a store from anywhere (pull and docs resolve names this way)
    from rigging.project import load_project
    from rigging.transfer import fetch_package, open_store

    with open_store(load_project(project).location("acme/base"), base=project) as found:
        assert sorted(found.tags()) == ["1.0.0", "1.1.0"]
        package, _ = fetch_package(found, None, found.describe())
        assert package.digest == _lock(project)["acme/base"]["manifest"]

    removed = cli("remove", "acme/style", "-C", project, env=env)
    assert removed.returncode == 0, removed.stderr
    assert _lock(project) == {} and not base_rule.exists()
    assert not [p for p in project.rglob("*.md") if ".claude" in p.parts], "remove takes every file it wrote"


def test_frozen_and_a_second_install_need_no_store(cli, tmp_path, env):
    store = tmp_path / "store"
    _publish(cli, tmp_path, env, "acme/base", "1.0.0", f"oci:{store}/acme/base")
    project = _project(tmp_path / "project", {"registry": "oci:../store", "dependencies": {"acme/base": "^1.0.0"}})
    assert cli("install", "-C", project, env=env).returncode == 0
    installed = project / ".claude" / "commands" / "acme.base.extra.md"
    original = installed.read_bytes()

    away = tmp_path / "store-away"
    store.rename(away)  # nothing below may read the store
    again = cli("install", "-C", project, "--json", env=env)
    assert again.returncode == 0, again.stderr
    shutil.rmtree(project / ".claude")
    frozen = cli("install", "-C", project, "--frozen", env=env)
    assert frozen.returncode == 0, frozen.stderr  # the lock and the warm cache are enough
    assert installed.read_bytes() == original

    shutil.rmtree(project / ".claude")
    shutil.rmtree(tmp_path / "cache")
    missing = cli("install", "-C", project, "--frozen", env=env)
    _failed(missing, "oci:../store/acme/base", "no OCI layout at")
    assert not installed.exists()

    away.rename(store)
    restored = cli("install", "-C", project, "--frozen", env=env)
    assert restored.returncode == 0, restored.stderr
    assert installed.read_bytes() == original

    # a version republished over its tag: --locked sees the moved tag and refuses
    moved = make_package(tmp_path / "moved", "acme/base", "1.0.0", extra_rule="other content")
    assert cli("publish", moved, f"oci:{store}", "--force", env=env).returncode == 0
    locked = cli("install", "-C", project, "--locked", env=env)
    _failed(locked, "moved")


def test_registries_map_namespaces_to_stores_and_bad_stores_are_named(cli, tmp_path, env):
    vendor_store = tmp_path / "vendor-store"  # absolute, beside a relative store inside the project
    _publish(cli, tmp_path, env, "vendor/lib", "2.0.0", f"oci:{vendor_store}/vendor/lib")
    project = tmp_path / "project"
    _publish(cli, tmp_path, env, "acme/app", "1.0.0", f"oci:{project}/packages/acme/app", {"vendor/lib": "^2"})
    _project(project, {"registry": "oci:packages", "registries": {"vendor": f"oci:{vendor_store}"}})
    added = cli("add", "acme/app", "-C", project, env=env)
    assert added.returncode == 0, added.stderr
    assert {n: p["source"] for n, p in _lock(project).items()} == {
        "acme/app": "oci:packages/acme/app",
        "vendor/lib": f"oci:{vendor_store}/vendor/lib",
    }
    # the lock's sources are read back (a fresh cache forces it)
    shutil.rmtree(project / ".claude")
    shutil.rmtree(tmp_path / "cache")
    frozen = cli("install", "-C", project, "--frozen", env=env)
    assert frozen.returncode == 0, frozen.stderr
    assert (project / ".claude" / "commands" / "vendor.lib.extra.md").is_file()

    # one package's layout is not a store; a store that does not exist is named as such
    single = tmp_path / "single"
    assert cli("pack", make_package(tmp_path / "one", "acme/one"), "-o", single, env=env).returncode == 0
    other = _project(tmp_path / "other", {"registry": f"oci:{single}"})
    _failed(cli("add", "acme/one", "-C", other, env=env), "one package's OCI layout, not a store")
    nowhere = _project(tmp_path / "nowhere", {"registry": "oci:./no-such-store"})
    _failed(cli("add", "acme/one", "-C", nowhere, env=env), "oci:./no-such-store", "no such folder")
    empty = _project(tmp_path / "empty", {"registry": "oci:"})
    _failed(cli("add", "acme/one", "-C", empty, env=env), "oci:DIR")


def test_sign_and_verify_in_a_layout_and_tampering_is_refused(cli, tmp_path, env):
    keys, other = tmp_path / "keys", tmp_path / "other-keys"
    for folder in (keys, other):
        assert cli("generate-key-pair", "--output-dir", folder, env=env).returncode == 0
    store = tmp_path / "store"
    sign = ("--sign", "--key", str(keys / "cosign.key"))
    published = _publish(cli, tmp_path, env, "acme/signed", "1.0.0", f"oci:{store}/acme/signed", None, *sign)
    digest, ref = published["digest"], f"oci:{store}/acme/signed:1.0.0"
    assert published["signature"]["signed"] == digest
    legacy = cli("sign", ref, "--key", keys / "cosign.key", "--format", "legacy", "--json", env=env)
    assert legacy.returncode == 0, legacy.stderr

    verified = cli("verify", ref, "--key", keys / "cosign.pub", "--json", env=env)
    assert verified.returncode == 0, verified.stderr
    report = json.loads(verified.stdout)
    assert report["verified"] and report["digest"] == digest
    assert sorted(s["format"] for s in report["signatures"]) == ["bundle", "legacy"]
    layout = store / "acme" / "signed"
    index = json.loads((layout / "index.json").read_text())
    tags = {m["annotations"]["org.opencontainers.image.ref.name"] for m in index["manifests"]}
    base = digest.replace(":", "-")
    assert tags == {"1.0.0", base, f"{base}.sig"}  # the referrers tag schema and cosign's .sig tag
    fallback = next(m for m in index["manifests"] if m["annotations"]["org.opencontainers.image.ref.name"] == base)
    referrer = json.loads(_layout_blob(layout, fallback["digest"]).read_text())["manifests"][0]
    subject = json.loads(_layout_blob(layout, referrer["digest"]).read_text())["subject"]
    assert subject["digest"] == digest  # an OCI 1.1 referrer of the package manifest

    wrong = cli("verify", ref, "--key", other / "cosign.pub", env=env)
    _failed(wrong, "no valid signature")

    # a project that requires the signature records who signed
    project = _project(
        tmp_path / "project",
        {
            "registry": "oci:../store",
            "dependencies": {"acme/signed": "^1"},
            "signatures": {"require": [{"packages": "acme/*", "keys": ["../keys/cosign.pub"]}]},
        },
    )
    installed = cli("install", "-C", project, env=env)
    assert installed.returncode == 0, installed.stderr
    assert _lock(project)["acme/signed"]["signer"].startswith("key sha256:")

    # tampered content: a fresh install refuses it and writes nothing
    content = _lock(project)["acme/signed"]["content"]["digest"]
    blob = _layout_blob(layout, content)
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0xFF
    blob.write_bytes(bytes(data))
    fresh = _project(tmp_path / "fresh", {"registry": "oci:../store", "dependencies": {"acme/signed": "^1"}})
    tampered = cli("install", "-C", fresh, env={**env, "RIGGING_CACHE_DIR": str(tmp_path / "cache2")})
    _failed(tampered, content)
    assert not (fresh / ".claude").exists() and not (fresh / "rigging.lock").exists()

    # a tampered manifest: verify refuses it
    manifest = _layout_blob(layout, digest)
    manifest.write_bytes(manifest.read_bytes().replace(b'"schemaVersion":2', b'"schemaVersion": 2', 1))
    refused = cli("verify", ref, "--key", keys / "cosign.pub", env=env)
    _failed(refused, "does not match its digest")


def test_the_indexer_crawls_a_store_and_search_finds_its_packages(cli, tmp_path, env):
    store = tmp_path / "store"
    _publish(cli, tmp_path, env, "acme/base", "1.0.0", f"oci:{store}/acme/base")
    _publish(cli, tmp_path, env, "acme/style", "1.0.0", f"oci:{store}", {"acme/base": "^1.0.0"})
    _publish(cli, tmp_path, env, "tools/shell", "0.3.0", f"oci:{store}")
    assert cli("generate-key-pair", "--output-dir", tmp_path / "keys", env=env).returncode == 0
    signed = cli("sign", f"oci:{store}/tools/shell:0.3.0", "--key", tmp_path / "keys" / "cosign.key", env=env)
    assert signed.returncode == 0, signed.stderr

    database = f"sqlite:///{tmp_path / 'index.db'}"
    crawl = [str(INDEXER), "crawl", "--once", "--database", database, "--source", f"oci:{store}"]
    first = subprocess.run(crawl, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    stats = json.loads(first.stdout.strip().splitlines()[-1])
    assert (stats["repositories"], stats["indexed"], stats["errors"]) == (3, 3, [])
    again = json.loads(subprocess.run(crawl, capture_output=True, text=True, timeout=120).stdout.splitlines()[-1])
    assert (again["indexed"], again["manifests_fetched"]) == (0, 0), "an unchanged store costs no manifest"

    port = free_port()
    server = start_indexer(port, database)
    try:
        index = f"http://127.0.0.1:{port}"
        wait_http(f"{index}/healthz", timeout=30, ok_statuses=(200,))
        found = cli("search", "acme", "--index", index, "--json", env=env)
        assert found.returncode == 0, found.stderr
        assert sorted(r["name"] for r in json.loads(found.stdout)) == ["acme/base", "acme/style"]
        shell = cli("search", "shell", "--index", index, "--json", env=env)
        assert [(r["name"], r["signed"]) for r in json.loads(shell.stdout)] == [("tools/shell", True)]

        # an install that takes its version lists from the index and its content from the store
        project = _project(tmp_path / "project", {"registry": "oci:../store", "dependencies": {"acme/style": "^1"}})
        installed = cli("install", "-C", project, env={**env, "RIGGING_INDEX_URL": index})
        assert installed.returncode == 0, installed.stderr
        assert set(_lock(project)) == {"acme/base", "acme/style"}
    finally:
        server.terminate()
        server.wait(timeout=10)


# -- the demo -------------------------------------------------------------------------------

DEMO_STEPS = (
    "new",
    "validate",
    "pack",
    "publish",
    "up",
    "search",
    "add",
    "sign",
    "verify",
    "info",
    "scan",
    "import",
)


def _path_without(tool: str, bin_dir: Path) -> str:
    """A PATH with every program of the current one but `tool` (links in one folder)."""
    bin_dir.mkdir()
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        if not os.path.isdir(folder):
            continue
        for entry in os.scandir(folder):
            target = bin_dir / entry.name
            if entry.name != tool and not target.exists() and os.access(entry.path, os.X_OK) and entry.is_file():
                target.symlink_to(entry.path)
    return str(bin_dir)


def _run_demo(tmp_path: Path, path: str) -> tuple[subprocess.CompletedProcess, Path]:
    """The demo on a stack of its own (RIGGING_STACK_DIR), which it leaves up: the portal must
    show the 50 catalogue packages then, and `./dev down` must leave no process of it."""
    out, stack = tmp_path / "demo", tmp_path / "stack"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIGGING_")}
    env = {**env, "PATH": path, "RIGGING_DEMO_OUT": str(out), "RIGGING_STACK_DIR": str(stack)}
    try:
        result = subprocess.run(
            ["bash", str(REPO_ROOT / "scripts" / "demo.sh")], capture_output=True, text=True, timeout=900, env=env
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        plan = json.loads((stack / "stack.json").read_text())
        with urllib.request.urlopen(f"{plan['portal']}/search?namespace=rigging", timeout=30) as page:  # noqa: S310
            assert "50 packages" in page.read().decode(), "the portal shows the starting catalogue"
    finally:
        stopped = subprocess.run(
            [sys.executable, str(REPO_ROOT / "scripts" / "stack.py"), "down"], capture_output=True, text=True, env=env
        )
    assert stopped.returncode == 0 and stopped.stdout.strip() == "stack down", stopped.stdout + stopped.stderr
    assert session_processes(plan["supervisor"]) == {}, "no process of the stack is left"
    ran = [line.replace("\x1b[0m", "") for line in result.stdout.splitlines() if "\x1b[1m$ " in line]
    for step in DEMO_STEPS:
        assert any(f" {step} " in line + " " for line in ran), f"the demo skipped `{step}`:\n" + "\n".join(ran)
    assert "pulled files are identical to the source" in result.stdout
    assert "verified sha256:" in result.stdout and "signed by key" in result.stdout
    assert "acme/python-style" in result.stdout.split("search python", 1)[1]
    assert ": passed (0 block" in result.stdout, "the published package scans clean"
    assert "publish refused" in result.stderr and "RIG-S010" in result.stderr, "the demo's injected rule"
    assert (out / "project" / ".cursor" / "rules").is_dir() and (out / "project" / ".claude").is_dir()
    assert (out / "imported" / "rigging.json").is_file()
    assert "the index lists 50 packages in the rigging namespace" in result.stdout
    assert "portal: http://127.0.0.1:" in result.stdout  # it served the package pages it printed
    return result, out


def test_the_demo_runs_on_oci_layouts_without_docker_registry(tmp_path):
    path = _path_without("docker-registry", tmp_path / "bin")
    result, out = _run_demo(tmp_path, path)
    assert "docker-registry is not installed" in result.stdout and "no server at all" in result.stdout
    lock = _lock(out / "project")
    assert {n: (p["version"], p["source"]) for n, p in lock.items()} == {  # relative: the lock stays portable
        "acme/base": ("1.0.0", "oci:../../stack/store/acme/base"),
        "acme/python-style": ("1.2.0", "oci:../../stack/store/acme/python-style"),
    }
    assert not (tmp_path / "stack" / "registry").exists()


def test_the_demo_runs_against_docker_registry_where_present(tmp_path):
    if shutil.which("docker-registry") is None:
        unavailable("needs Debian's docker-registry")
    result, out = _run_demo(tmp_path, os.environ["PATH"])
    assert "publishing to the stack's docker-registry" in result.stdout
    sources = {p["source"] for p in _lock(out / "project").values()}
    assert len(sources) == 2 and all(s.startswith("127.0.0.1:") for s in sources), sources
