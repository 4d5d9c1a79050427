"""The consumer side of the index's attestations and of capabilities: an install policy that
requires a scan and an approval signed by the index's key, a capability policy computed from the
content being installed, both checked before anything is written; a lock that records what was
verified and a policy fingerprint, so that a changed policy or key file is verified again;
`rigging info`; and sigstore-js verifying the attestations `attest()` pushes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rigging.reference import RegistryRef
from rigging.referrers import fallback_tag
from rigging.registry.client import RegistryClient
from rigging.signing.attestations import APPROVAL_PREDICATE, SCAN_PREDICATE, attest
from rigging.signing.formats import BUNDLE, BUNDLE_PREDICATE_ANNOTATION
from rigging.signing.keys import load_private_key
from rigging.signing.signer import subject_of
from rigging.signing.store import bundles

from tests.catalog_publish import unique_namespace
from tests.conftest import KEY_PASSWORD
from tests.packages import make_package
from tests.support.sigstore_js import require_sigstore_js, sigstore_js_verify
from tests.test_install import snapshot

ATTESTED = {"packages": "*", "attestations": ["scan", "approval"], "keys": ["keys/index.pub"]}


def _scan(verdict: str, at: str) -> dict:
    return {
        "scanner": {"name": "rigging-indexer", "version": "0", "rules": "test"},
        "verdict": verdict,
        "counts": {"block": int(verdict == "block"), "warn": 0, "info": 0},
        "findings": [],
        "capabilities": {},
        "scannedAt": at,
    }


def _decision(decision: str, at: str) -> dict:
    return {"decision": decision, "reviewer": "rita", "reason": "read it", "decidedAt": at}


APPROVAL = _decision("approved", "2026-12-01T10:00:00Z")


def _publish(cli, tmp_path, registry, env, name, *sign, files: dict[str, str] | None = None) -> str:
    """Publish NAME 1.0.0 (with extra `files`); returns its manifest digest."""
    pkg = make_package(tmp_path / name.replace("/", "_"), name, "1.0.0")
    for path, text in (files or {}).items():
        (pkg / path).parent.mkdir(parents=True, exist_ok=True)
        (pkg / path).write_text(text)
    result = cli("publish", pkg, f"{registry.host}/{name}", "--json", *sign, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["digest"]


def _attest(registry, name: str, digest: str, key_dir: Path, kind: str, predicate: dict) -> str:
    key = load_private_key(key_dir / "cosign.key", KEY_PASSWORD.encode())
    with RegistryClient(registry.host) as client:
        subject = subject_of(client, RegistryRef(registry.host, name, digest=digest))
        return attest(client, name, subject, key, f"{registry.host}/{name}", kind, predicate)


def _attested(registry, name: str, digest: str, key_dir: Path, *scans: tuple[str, str], approved: bool = True):
    """Scan attestations (verdict, scannedAt) in order, then an approval."""
    for verdict, at in scans:
        _attest(registry, name, digest, key_dir, "scan", _scan(verdict, at))
    if approved:
        _attest(registry, name, digest, key_dir, "approval", APPROVAL)


def _project(root: Path, registry, name: str, rules: list[dict], keys: dict[str, Path], **extra) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "keys").mkdir(exist_ok=True)
    for file_name, key_dir in keys.items():
        (root / "keys" / file_name).write_bytes((key_dir / "cosign.pub").read_bytes())
    document = {"registry": registry.host, "dependencies": {name: "^1"}, "targets": ["cursor"], **extra}
    if rules:
        document["signatures"] = {"require": rules}
    (root / "rigging.json").write_text(json.dumps(document))
    return root


def _scanned_and_approved(cli, tmp_path, registry, env, key_dir: Path, leaf: str) -> tuple[str, str, Path]:
    """(name, digest, project): a published version with a passing scan and an approval, and a
    project that requires both."""
    name = f"{unique_namespace('at')}/{leaf}"
    digest = _publish(cli, tmp_path, registry, env, name)
    _attested(registry, name, digest, key_dir, ("pass", "2026-12-01T09:00:00Z"))
    return name, digest, _project(tmp_path / "project", registry, name, [ATTESTED], {"index.pub": key_dir})


def _edit(project: Path, change) -> None:
    document = json.loads((project / "rigging.json").read_text())
    change(document)
    (project / "rigging.json").write_text(json.dumps(document))


def _lock(project: Path) -> dict:
    return json.loads((project / "rigging.lock").read_text())


def _refused(cli, project: Path, env, *words: str) -> None:
    """Install fails with one line holding `words`, and not a byte of the project changes."""
    before = snapshot(project)
    result = cli("install", "-C", project, env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr, result.stderr
    for word in words:
        assert word in result.stderr, (word, result.stderr)
    assert snapshot(project) == before


# -- attestations -------------------------------------------------------------------------------


def test_a_scanned_and_approved_package_installs_and_the_lock_records_who_attested(
    cli, tmp_path, registry, signing_env, keys
):
    index, _ = keys
    name, _, project = _scanned_and_approved(cli, tmp_path, registry, signing_env, index, "good")
    done = cli("install", "-C", project, env=signing_env)
    assert done.returncode == 0, done.stderr
    locked = _lock(project)
    recorded = locked["packages"][name]["attestations"]
    assert set(recorded) == {"scan", "approval"}
    assert all(label.startswith("key sha256:") and label.endswith("(index.pub)") for label in recorded.values())
    assert "signer" not in locked["packages"][name]  # an attestation is not the publisher's signature
    assert locked["policy"].startswith("sha256:")
    # nothing changed: the fast path, with no request at all
    again = cli("install", "-C", project, "--json", env=signing_env)
    assert again.returncode == 0 and json.loads(again.stdout)["requests"] == 0


def test_a_package_without_attestations_is_refused_and_nothing_is_written(cli, tmp_path, registry, signing_env, keys):
    index, _ = keys
    name = f"{unique_namespace('at')}/bare"
    digest = _publish(cli, tmp_path, registry, signing_env, name, "--sign", "--key", index / "cosign.key")
    project = _project(tmp_path / "project", registry, name, [ATTESTED], {"index.pub": index})
    _refused(cli, project, signing_env, name, "lacks the attestations", "no scan attestation", "nothing was installed")
    assert sorted(p.name for p in project.iterdir()) == ["keys", "rigging.json"]
    # an approval alone does not stand in for the scan
    _attested(registry, name, digest, index)
    _refused(cli, project, signing_env, "no scan attestation signed by a trusted key")


def test_the_newest_scan_decides_and_a_block_refuses(cli, tmp_path, registry, signing_env, keys):
    index, _ = keys
    name = f"{unique_namespace('at')}/blocked"
    digest = _publish(cli, tmp_path, registry, signing_env, name)
    _attested(registry, name, digest, index, ("pass", "2026-12-01T09:00:00Z"), ("block", "2026-12-02T09:00:00+00:00"))
    project = _project(tmp_path / "project", registry, name, [ATTESTED], {"index.pub": index})
    _refused(cli, project, signing_env, "the newest scan (2026-12-02T09:00:00+00:00", "verdict 'block'")
    assert not (project / "rigging.lock").exists()
    # a key rule (no "attestations") is about signatures: the index's scan is not its signature
    _edit(project, lambda d: d["signatures"].update(require=[{"packages": "*", "keys": ["keys/index.pub"]}]))
    _refused(cli, project, signing_env, "is not signed as rigging.json requires")


def test_a_later_rejection_withdraws_an_approval_and_a_later_approval_restores_it(
    cli, tmp_path, registry, signing_env, keys
):
    index, _ = keys
    name, digest, project = _scanned_and_approved(cli, tmp_path, registry, signing_env, index, "withdrawn")
    rejected = _attest(registry, name, digest, index, "approval", _decision("rejected", "2026-12-02T10:00:00Z"))
    _refused(cli, project, signing_env, name, f"the newest approval (2026-12-02T10:00:00Z, {rejected})", "'rejected'")
    assert sorted(p.name for p in project.iterdir()) == ["keys", "rigging.json"]
    _attest(registry, name, digest, index, "approval", _decision("approved", "2026-12-03T10:00:00Z"))
    done = cli("install", "-C", project, env=signing_env)
    assert done.returncode == 0, done.stderr
    assert set(_lock(project)["packages"][name]["attestations"]) == {"scan", "approval"}


def test_a_withdrawal_after_install_is_seen_by_frozen_not_by_an_unchanged_install(
    cli, tmp_path, registry, signing_env, keys
):
    index, _ = keys
    name, digest, project = _scanned_and_approved(cli, tmp_path, registry, signing_env, index, "revoked")
    assert cli("install", "-C", project, env=signing_env).returncode == 0
    _attest(registry, name, digest, index, "approval", _decision("revoked", "2026-12-02T10:00:00Z"))
    # the lock and policy are unchanged: the no-request fast path does not ask the registry again
    again = cli("install", "-C", project, "--json", env=signing_env)
    assert again.returncode == 0 and json.loads(again.stdout)["requests"] == 0
    # --frozen (CI) verifies a locked package against the policy again, and finds the withdrawal
    before = snapshot(project)
    frozen = cli("install", "-C", project, "--frozen", env=signing_env)
    assert frozen.returncode == 1 and "has decision 'revoked'" in frozen.stderr, frozen.stderr
    assert len(frozen.stderr.strip().splitlines()) == 1 and "nothing was installed" in frozen.stderr
    assert snapshot(project) == before


def test_attestations_signed_by_another_key_are_refused(cli, tmp_path, registry, signing_env, keys):
    index, other = keys
    name = f"{unique_namespace('at')}/forged"
    digest = _publish(cli, tmp_path, registry, signing_env, name)
    _attested(registry, name, digest, other, ("pass", "2026-12-01T09:00:00Z"))
    project = _project(tmp_path / "project", registry, name, [ATTESTED], {"index.pub": index})
    _refused(cli, project, signing_env, "no scan attestation", "no given key verifies it")


def test_a_signature_rule_and_an_attestation_rule_must_both_hold(cli, tmp_path, registry, signing_env, keys):
    publisher, index = keys
    name = f"{unique_namespace('at')}/both"
    digest = _publish(cli, tmp_path, registry, signing_env, name, "--sign", "--key", publisher / "cosign.key")
    rules = [{"packages": "*", "keys": ["keys/publisher.pub"]}, {**ATTESTED, "attestations": ["scan"]}]
    project = _project(tmp_path / "project", registry, name, rules, {"publisher.pub": publisher, "index.pub": index})
    _refused(cli, project, signing_env, "lacks the attestations rigging.json requires (scan)")
    _attest(registry, name, digest, index, "scan", _scan("warn", "2026-12-01T09:00:00Z"))
    done = cli("install", "-C", project, env=signing_env)
    assert done.returncode == 0, done.stderr
    entry = _lock(project)["packages"][name]
    assert entry["signer"].endswith("(publisher.pub)") and entry["attestations"]["scan"].endswith("(index.pub)")


# -- a changed policy is verified again ---------------------------------------------------------


@pytest.fixture
def installed(cli, tmp_path, registry, signing_env, keys):
    """A project whose one package, signed by the good key, is installed under a key policy."""
    good, _ = keys
    name = f"{unique_namespace('pc')}/pkg"
    digest = _publish(
        cli,
        tmp_path,
        registry,
        signing_env,
        name,
        "--sign",
        "--key",
        good / "cosign.key",
        files={"rules/links.md": "---\ntrigger: manual\n---\nSee https://docs.example.org/guide for more.\n"},
    )
    rules = [{"packages": "*", "keys": ["keys/trusted.pub"]}]
    project = _project(tmp_path / "project", registry, name, rules, {"trusted.pub": good})
    done = cli("install", "-C", project, env=signing_env)
    assert done.returncode == 0, done.stderr
    unchanged = cli("install", "-C", project, env=signing_env)
    assert unchanged.returncode == 0 and "rigging.lock unchanged" in unchanged.stdout
    return project, name, digest


def test_a_replaced_key_file_is_verified_again_and_refuses(cli, keys, signing_env, installed):
    project, name, _ = installed
    _, other = keys
    lock = (project / "rigging.lock").read_bytes()
    (project / "keys" / "trusted.pub").write_bytes((other / "cosign.pub").read_bytes())
    _refused(cli, project, signing_env, name, "not signed as rigging.json requires", "no given key verifies it")
    assert (project / "rigging.lock").read_bytes() == lock


def test_a_moved_key_path_is_verified_again_and_the_lock_names_the_new_file(cli, signing_env, installed):
    project, name, _ = installed
    (project / "keys" / "trusted.pub").rename(project / "keys" / "acme.pub")
    _edit(project, lambda d: d["signatures"]["require"][0].update(keys=["keys/acme.pub"]))
    done = cli("install", "-C", project, env=signing_env)
    assert done.returncode == 0, done.stderr
    assert "rigging.lock unchanged" not in done.stdout
    assert _lock(project)["packages"][name]["signer"].endswith("(acme.pub)")


def test_an_added_attestation_requirement_is_verified_again(cli, registry, keys, signing_env, installed):
    project, name, digest = installed
    good, _ = keys
    (project / "keys" / "index.pub").write_bytes((good / "cosign.pub").read_bytes())
    _edit(project, lambda d: d["signatures"]["require"].append(ATTESTED))
    _refused(cli, project, signing_env, "lacks the attestations")
    _attested(registry, name, digest, good, ("pass", "2026-12-01T09:00:00Z"))
    done = cli("install", "-C", project, env=signing_env)
    assert done.returncode == 0, done.stderr
    assert set(_lock(project)["packages"][name]["attestations"]) == {"scan", "approval"}


def test_an_added_capability_deny_is_verified_again(cli, signing_env, installed):
    project, name, _ = installed
    lock = (project / "rigging.lock").read_bytes()
    _edit(project, lambda d: d.update(capabilities={"deny": ["network"]}))
    _refused(cli, project, signing_env, name, "'network'", "host docs.example.org in rules/links.md", "denies")
    assert (project / "rigging.lock").read_bytes() == lock
    _edit(project, lambda d: d.update(capabilities={"deny": ["scripts"]}))
    done = cli("install", "-C", project, env=signing_env)
    assert done.returncode == 0, done.stderr
    assert _lock(project)["packages"][name]["capabilities"] == ["network"]


# -- capabilities -------------------------------------------------------------------------------

SCRIPTED = {
    "skills/fetcher/SKILL.md": "---\nname: fetcher\ndescription: Fetches things.\nallowed-tools: Bash(curl:*)\n---\n"
    "Run scripts/get.sh.\n",
    "skills/fetcher/scripts/get.sh": "#!/bin/sh\ncurl -fsS https://api.example.net/data\n",
}


@pytest.mark.parametrize(
    ("policy", "words"),
    [
        ({"deny": ["scripts"]}, ["'scripts'", "skills/fetcher/scripts/get.sh (shell)", "denies"]),
        ({"deny": ["tools"]}, ["'tools'", "tool Bash(curl:*) in skills/fetcher/SKILL.md"]),
        ({"allow": ["network"]}, ["does not allow", "'scripts'"]),
        ([{"packages": "*/caps", "allow": []}], ['for "*/caps"', "does not allow"]),
    ],
)
def test_a_capability_the_policy_refuses_stops_the_install(cli, tmp_path, registry, env, policy, words):
    name = f"{unique_namespace('cap')}/caps"
    _publish(cli, tmp_path, registry, env, name, files=SCRIPTED)
    project = _project(tmp_path / "project", registry, name, [], {}, capabilities=policy)
    _refused(cli, project, env, f"{name} 1.0.0 has capability", "nothing was installed", *words)
    assert sorted(p.name for p in project.iterdir()) == ["keys", "rigging.json"]


def test_allowed_capabilities_install_and_the_lock_lists_their_classes(cli, tmp_path, registry, env):
    name = f"{unique_namespace('cap')}/caps"
    _publish(cli, tmp_path, registry, env, name, files=SCRIPTED)
    policy = [{"packages": "other/*", "deny": ["scripts"]}, {"allow": ["scripts", "network", "tools"]}]
    project = _project(tmp_path / "project", registry, name, [], {}, capabilities=policy)
    done = cli("install", "-C", project, env=env)
    assert done.returncode == 0, done.stderr
    assert _lock(project)["packages"][name]["capabilities"] == ["network", "scripts", "tools"]


# -- rigging info -------------------------------------------------------------------------------


def test_info_shows_a_version_its_attestations_and_its_capabilities(cli, tmp_path, registry, signing_env, keys):
    index, _ = keys
    name = f"{unique_namespace('info')}/caps"
    digest = _publish(
        cli, tmp_path, registry, signing_env, name, "--sign", "--key", index / "cosign.key", files=SCRIPTED
    )
    _attest(registry, name, digest, index, "scan", _scan("warn", "2026-12-01T09:00:00Z"))
    result = cli("info", f"{registry.host}/{name}:1.0.0", "--json", env=signing_env)
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert (info["name"], info["version"], info["digest"]) == (name, "1.0.0", digest)
    assert info["files"] >= 4 and info["skills"] == ["fetcher"]
    assert [s["format"] for s in info["signatures"]] == ["bundle"]
    assert [(a["kind"], a["verdict"]) for a in info["attestations"]] == [("scan", "warn")]
    caps = info["capabilities"]
    assert caps["classes"] == ["scripts", "network", "tools"]
    assert caps["scripts"] == [{"file": "skills/fetcher/scripts/get.sh", "language": "shell"}]
    assert caps["network_hosts"] == ["api.example.net"] and caps["allowed_tools"] == ["Bash(curl:*)"]
    text = cli("info", f"{registry.host}/{name}", env=signing_env)
    assert text.returncode == 0 and text.stdout.startswith(f"{name} 1.0.0\n")
    assert "scan (warn, 2026-12-01T09:00:00Z" in text.stdout and "skills/fetcher/scripts/get.sh" in text.stdout


def test_info_reads_an_oci_layout_and_names_a_missing_version(cli, tmp_path, env):
    pkg = make_package(tmp_path / "pkg", "acme/laid-out", "1.0.0")
    assert cli("publish", pkg, f"oci:{tmp_path}/store/acme/laid-out", env=env).returncode == 0
    result = cli("info", f"oci:{tmp_path}/store/acme/laid-out:1.0.0", "--json", env=env)
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["name"] == "acme/laid-out" and info["signatures"] == [] and info["capabilities"]["classes"] == []
    missing = cli("info", f"oci:{tmp_path}/store/acme/laid-out:2.0.0", env=env)
    assert missing.returncode == 1 and "not found" in missing.stderr and "Traceback" not in missing.stderr


# -- sigstore-js --------------------------------------------------------------------------------


def test_sigstore_js_verifies_the_attestations_attest_pushes(cli, tmp_path, registry, signing_env, keys):
    require_sigstore_js()
    index, other = keys
    name = f"{unique_namespace('js')}/attested"
    digest = _publish(cli, tmp_path, registry, signing_env, name)
    pushed = {
        _attest(registry, name, digest, index, "scan", _scan("pass", "2026-12-01T09:00:00Z")): SCAN_PREDICATE,
        _attest(registry, name, digest, index, "approval", APPROVAL): APPROVAL_PREDICATE,
    }
    with RegistryClient(registry.host) as client:
        assert client.referrers_api(name, digest) is None  # distribution 2.8: the fallback tag it is
        fallback, _, _ = client.get_manifest(name, fallback_tag(digest))
        found = bundles(client, name, digest)
    listed = {m["digest"]: m for m in json.loads(fallback)["manifests"]}
    assert set(pushed) <= set(listed)
    for stored, predicate_type in pushed.items():
        assert listed[stored]["artifactType"] == BUNDLE
        assert listed[stored]["annotations"][BUNDLE_PREDICATE_ANNOTATION] == predicate_type
    assert sorted(stored for stored, _ in found) == sorted(pushed)
    for stored, raw in found:
        bundle = tmp_path / f"{stored.replace(':', '-')}.json"
        bundle.write_bytes(raw)
        assert sigstore_js_verify(bundle, index / "cosign.pub") == {"verified": True}, stored
        refused = sigstore_js_verify(bundle, other / "cosign.pub")
        assert refused["verified"] is False and "SIGNATURE_ERROR" in refused["error"]


# -- without a registry: the policy's syntax, the lock's strictness, which scan decides ----------


def _lock_with(tmp_path: Path, **entry) -> Path:
    package = {
        "version": "1.0.0",
        "source": "registry.example/acme/x",
        "tag": "1.0.0",
        "manifest": "sha256:" + "a" * 64,
        "content": {"digest": "sha256:" + "b" * 64, "size": 1},
        **entry.pop("package", {}),
    }
    document = {"lockfileVersion": 1, "requires": {}, "targets": [], "packages": {"acme/x": package}, "managed": {}}
    (tmp_path / "rigging.lock").write_text(json.dumps({**document, **entry}))
    return tmp_path


def test_the_lock_reads_what_was_verified_and_refuses_malformed_records(tmp_path):
    from rigging.errors import RiggingError
    from rigging.lockfile import load_lock

    recorded = {"attestations": {"scan": "key sha256:1 (index.pub)"}, "capabilities": ["scripts", "hooks"]}
    lock = load_lock(_lock_with(tmp_path, package=recorded, policy="sha256:" + "c" * 64))
    assert lock is not None and lock.policy == "sha256:" + "c" * 64
    assert lock.packages["acme/x"].attestations == {"scan": "key sha256:1 (index.pub)"}
    assert json.loads(lock.serialise())["packages"]["acme/x"]["capabilities"] == ["hooks", "scripts"]
    old = load_lock(_lock_with(tmp_path))  # a lock from before policies: no fingerprint, nothing verified
    assert old is not None and old.policy is None and old.packages["acme/x"].capabilities is None
    assert "policy" not in json.loads(old.serialise()) and "capabilities" not in old.serialise().decode()
    for bad, words in [
        ({"policy": "latest"}, "policy 'latest' is not a sha256 digest"),
        ({"package": {"attestations": {"review": "k"}}}, "attestations must map scan or approval"),
        ({"package": {"attestations": {"scan": 3}}}, "attestations must map"),
        ({"package": {"capabilities": ["root"]}}, "capabilities must be drawn from scripts"),
        ({"package": {"capabilities": [{"x": 1}]}}, "capabilities must be drawn from"),
    ]:
        with pytest.raises(RiggingError, match="tampered with") as caught:
            load_lock(_lock_with(tmp_path, **bad))
        assert words in str(caught.value)


def test_a_typo_in_a_capability_class_is_named_with_its_fix(tmp_path):
    from rigging.errors import RiggingError
    from rigging.project import parse_project

    with pytest.raises(RiggingError, match="'script' is not a capability class; did you mean 'scripts'"):
        parse_project(tmp_path, {"capabilities": {"deny": ["script"]}})


def test_the_newest_scan_decides_whatever_its_offset_and_an_undated_one_refuses():
    from rigging.install_policy import decide
    from rigging.signing.attestations import Attestation

    def scan(verdict: str, at: object, stored: str) -> Attestation:
        return Attestation("scan", {"verdict": verdict, "scannedAt": at}, "key k", stored)

    early_block = scan("block", "2026-12-01T10:00:00+02:00", "s1")  # 08:00 UTC
    later_pass = scan("pass", "2026-12-01T09:00:00Z", "s2")
    assert decide(["scan"], [early_block, later_pass]) == ({"scan": "key k"}, [])
    assert decide(["scan"], [later_pass, scan("block", "2026-12-01T09:00:01Z", "s3")])[0] == {}
    assert decide(["scan"], [later_pass, scan("block", "2026-12-01T11:00:00+02:00", "s3")])[0] == {}  # a tie
    signers, missing = decide(["scan", "approval"], [later_pass, scan("pass", "yesterday", "s4")])
    assert signers == {} and "s4 has no RFC 3339 scannedAt" in missing[0] and "no approval attestation" in missing[1]


def test_the_newest_approval_decision_decides_a_tie_refuses_and_an_undated_one_refuses():
    from rigging.install_policy import decide
    from rigging.signing.attestations import Attestation

    def decided(decision: str, at: object, stored: str, signer: str = "key k") -> Attestation:
        return Attestation("approval", {"decision": decision, "decidedAt": at}, signer, stored)

    approved = decided("approved", "2026-12-01T10:00:00Z", "a1")
    assert decide(["approval"], [approved]) == ({"approval": "key k"}, [])
    for withdrawal in ("rejected", "revoked"):
        later = decided(withdrawal, "2026-12-01T12:00:00+02:00", "a2")  # 10:00:00 UTC: a tie
        assert decide(["approval"], [approved, later]) == (
            {},
            [f"the newest approval (2026-12-01T12:00:00+02:00, a2) has decision {withdrawal!r}"],
        )
    restored = decided("approved", "2026-12-01T10:00:01Z", "a3", "key j")
    assert decide(["approval"], [decided("rejected", "2026-12-01T10:00:00Z", "a2"), restored]) == (
        {"approval": "key j"},
        [],
    )
    assert decide(["approval"], [decided("approved", "2026-12-02T10:00:00", "a4")]) == (
        {},
        ["approval attestation a4 has no RFC 3339 decidedAt"],  # no offset: not placed in time
    )
    signers, missing = decide(["approval"], [approved, decided("rejected", None, "a5")])
    assert signers == {} and missing == ["approval attestation a5 has no RFC 3339 decidedAt"]


def test_a_lock_written_before_policies_is_verified_once_and_then_left_alone(cli, signing_env, installed):
    project, name, _ = installed
    lock = _lock(project)
    del lock["policy"], lock["packages"][name]["signer"]
    (project / "rigging.lock").write_text(json.dumps(lock))
    done = cli("install", "-C", project, env=signing_env)
    assert done.returncode == 0 and "rigging.lock unchanged" not in done.stdout, done.stdout + done.stderr
    assert _lock(project)["packages"][name]["signer"].endswith("(trusted.pub)") and _lock(project)["policy"]
    again = cli("install", "-C", project, "--json", env=signing_env)
    assert again.returncode == 0 and json.loads(again.stdout)["requests"] == 0
