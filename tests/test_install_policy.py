"""The install policy: required signers per package pattern, enforced before any file is written,
and the verified signer recorded in rigging.lock."""

from __future__ import annotations

import json

from tests.packages import make_package
from tests.test_install import snapshot


def _project(tmp_path, registry, name, key_dir, mode="enforce"):
    project = tmp_path / "project"
    project.mkdir(parents=True, exist_ok=True)
    (project / "keys").mkdir(exist_ok=True)
    (project / "keys" / "trusted.pub").write_bytes((key_dir / "cosign.pub").read_bytes())
    (project / "rigging.json").write_text(
        json.dumps(
            {
                "registry": registry.host,
                "dependencies": {name: "^1"},
                "targets": ["cursor"],
                "signatures": {"mode": mode, "require": [{"packages": "policy/*", "keys": ["keys/trusted.pub"]}]},
            }
        )
    )
    return project


def _publish(cli, tmp_path, registry, signing_env, name, *sign):
    pkg = make_package(tmp_path / name.replace("/", "_"), name, "1.0.0")
    result = cli("publish", pkg, f"{registry.host}/{name}", *sign, env=signing_env)
    assert result.returncode == 0, result.stderr


def test_enforce_refuses_unsigned_and_wrongly_signed_and_writes_nothing(cli, tmp_path, registry, signing_env, keys):
    good, other = keys
    _publish(cli, tmp_path, registry, signing_env, "policy/unsigned")
    project = _project(tmp_path, registry, "policy/unsigned", good)
    before = snapshot(project)
    refused = cli("install", "-C", project, env=signing_env)
    assert refused.returncode == 1 and "not signed as rigging.json requires" in refused.stderr
    assert "nothing was installed" in refused.stderr and snapshot(project) == before

    _publish(cli, tmp_path, registry, signing_env, "policy/wrong", "--sign", "--key", other / "cosign.key")
    project = _project(tmp_path / "2", registry, "policy/wrong", good)
    before = snapshot(project)
    wrong = cli("install", "-C", project, env=signing_env)
    assert wrong.returncode == 1 and "no given key verifies it" in wrong.stderr
    assert snapshot(project) == before


def test_a_signed_package_installs_and_the_lock_names_the_signer(cli, tmp_path, registry, signing_env, keys):
    good, other = keys
    _publish(cli, tmp_path, registry, signing_env, "policy/signed", "--sign", "--key", good / "cosign.key")
    project = _project(tmp_path, registry, "policy/signed", good)
    done = cli("install", "-C", project, env=signing_env)
    assert done.returncode == 0, done.stderr
    signer = json.loads((project / "rigging.lock").read_text())["packages"]["policy/signed"]["signer"]
    assert signer.startswith("key sha256:") and signer.endswith("(trusted.pub)")
    # --frozen verifies again: with the trusted key swapped, the same lock no longer installs
    (project / "keys" / "trusted.pub").write_bytes((other / "cosign.pub").read_bytes())
    again = cli("install", "-C", project, "--frozen", env=signing_env)
    assert again.returncode == 1 and "not signed" in again.stderr


def test_warn_installs_unsigned_packages_with_a_warning(cli, tmp_path, registry, signing_env, keys):
    good, _ = keys
    _publish(cli, tmp_path, registry, signing_env, "policy/warned")
    project = _project(tmp_path, registry, "policy/warned", good, mode="warn")
    done = cli("install", "-C", project, env=signing_env)
    assert done.returncode == 0 and "warning: policy/warned 1.0.0" in done.stderr
    assert "signer" not in json.loads((project / "rigging.lock").read_text())["packages"]["policy/warned"]


def test_a_malformed_policy_is_a_clear_error(cli, tmp_path, registry, signing_env):
    project = tmp_path / "p"
    project.mkdir()
    (project / "rigging.json").write_text(
        json.dumps({"registry": registry.host, "dependencies": {}, "signatures": {"mode": "sometimes", "require": []}})
    )
    result = cli("install", "-C", project, env=signing_env)
    assert result.returncode == 1 and "malformed signature policy" in result.stderr


def test_signing_modules_load_only_for_commands_that_sign_or_verify(tmp_path, cli):
    import subprocess
    import sys

    pkg = make_package(tmp_path / "pkg", "acme/lazy", "1.0.0")
    probe = (
        "import sys; from rigging_cli.main import main; code = main(sys.argv[1:]); "
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('sigstore', 'nacl') "
        "or m.startswith('rigging.signing')); print(heavy, file=sys.stderr)"
    )
    for args in (["--help"], ["validate", str(pkg)], ["pack", str(pkg), "-o", str(tmp_path / "out")]):
        out = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True)
        assert out.stderr.strip().splitlines()[-1] == "[]", (args, out.stderr)
