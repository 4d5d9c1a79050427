"""The install policy beyond who signed a package: the index's attestations it must carry, the
capabilities its content may have, and the fingerprint of the whole policy that rigging.lock
records, so that a changed policy (or a key file replaced in place) makes install verify again.

    "signatures": {"require": [{"packages": "*", "attestations": ["scan", "approval"], "keys": ["keys/index.pub"]}]}
    "capabilities": {"deny": ["scripts", "hooks"]}      or {"allow": ["network"], "packages": "acme/*"}, or a list

Capabilities are computed here from the content being installed, never taken from the index or
from the lock (which arrives with every pull request), and checked before anything is written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rigging.errors import RiggingError
from rigging.project import CAPABILITY_CLASSES, Project

if TYPE_CHECKING:
    from datetime import datetime

    from rigging.lockfile import LockedPackage
    from rigging.registry.client import RegistryClient
    from rigging.scan.model import Capabilities
    from rigging.signing.attestations import Attestation

FINGERPRINT_VERSION = 1


def fingerprint(project: Project) -> str | None:
    """A digest of everything the install policy decides by: the signature and attestation rules,
    the bytes of each key file they name, and the capability rules. None without a policy, so a
    lock written before policies existed stays current for a project without one.

    Only a few small files are hashed: an unchanged project's install stays free of the network
    and of key parsing."""
    if project.signatures is None and project.capabilities is None:
        return None
    from rigging.digests import sha256_digest
    from rigging.txn import disk_hash

    keys: dict[str, str | None] = {}
    for rule in (project.signatures or {}).get("require", []):
        for key in rule.get("keys", []):
            keys[key] = disk_hash(project.root / key)
    document = {
        "version": FINGERPRINT_VERSION,
        "signatures": project.signatures,
        "keys": keys,
        "capabilities": project.capabilities,
    }
    return sha256_digest(json.dumps(document, sort_keys=True, separators=(",", ":")).encode())


def matching_rules(rules: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    """Every rule whose "packages" glob covers `name`: all of them must hold."""
    import fnmatch

    return [rule for rule in rules if fnmatch.fnmatchcase(name, rule.get("packages", "*"))]


# -- attestations ------------------------------------------------------------------------------


# The predicate field that places an attestation in time. The newest of a kind decides, so the
# index can withdraw what it said before by saying something newer: a `block` scan after a
# `pass`, a `rejected` or `revoked` decision after an `approved` one.
DATED_BY = {"scan": "scannedAt", "approval": "decidedAt"}
OUTCOME = {"scan": "verdict", "approval": "decision"}


def _dated(attestation: Attestation) -> datetime | None:
    from datetime import datetime

    value = attestation.predicate.get(DATED_BY[attestation.kind])
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def decide(kinds: list[str], found: list[Attestation]) -> tuple[dict[str, str], list[str]]:
    """Which required kinds hold (kind -> the key that signed the deciding attestation), and why
    the others do not. The newest attestation of each kind decides (see DATED_BY)."""
    signers: dict[str, str] = {}
    missing: list[str] = []
    for kind in kinds:
        mine = [a for a in found if a.kind == kind]
        if not mine:
            missing.append(f"no {kind} attestation signed by a trusted key")
            continue
        field, outcome = DATED_BY[kind], OUTCOME[kind]
        # a refusing one sorts after a satisfied one of the same moment: a tie is not a yes
        dated = [(moment, not a.satisfied(), a) for a in mine if (moment := _dated(a)) is not None]
        if len(dated) < len(mine):
            # one we cannot place in time might be the newest: never let an older yes decide
            undated = next(a for a in mine if _dated(a) is None)
            missing.append(f"{kind} attestation {undated.stored} has no RFC 3339 {field}")
            continue
        newest = max(dated, key=lambda entry: entry[:2])[2]
        if not newest.satisfied():
            missing.append(
                f"the newest {kind} ({newest.predicate.get(field)}, {newest.stored}) has {outcome} "
                f"{newest.predicate.get(outcome)!r}"
            )
            continue
        signers[kind] = newest.signer
    return signers, missing


def check_attestations(
    client: RegistryClient, package: LockedPackage, rule: dict[str, Any], root: Path
) -> tuple[dict[str, str], str | None]:
    """(kind -> signer for each kind the rule requires, None) when they all hold, else ({}, why not)."""
    from rigging.signing.attestations import verified_attestations

    repository = package.source.partition("/")[2]
    keys = [root / key for key in rule["keys"]]
    found, problems = verified_attestations(client, repository, package.manifest, keys)
    signers, missing = decide(list(rule["attestations"]), found)
    if not missing:
        return signers, None
    return {}, "; ".join(missing + problems[:3])


# -- capabilities ------------------------------------------------------------------------------


def content_capabilities(blob: Path, where: str) -> tuple[Capabilities, dict[str, str]]:
    """What a content layer can do, as `rigging.scan` finds it in the unpacked files (in a
    temporary folder, never the project), and each file's text (to name examples)."""
    import tempfile

    from rigging.agents.content import layer_files
    from rigging.archive import write_files
    from rigging.scan import scan_package

    files = layer_files(blob, where)
    with tempfile.TemporaryDirectory(prefix="rigging-capabilities-") as tmp:
        write_files(((rel, data) for rel, (data, _) in files.items()), Path(tmp))
        capabilities = scan_package(Path(tmp), validate=False).capabilities
    return capabilities, {rel: data.decode("utf-8", "replace") for rel, (data, _) in files.items()}


def classes(capabilities: Capabilities) -> list[str]:
    """The capability classes present, in CAPABILITY_CLASSES order."""
    present = {
        "scripts": bool(capabilities.scripts),
        "network": bool(capabilities.hosts),
        "hooks": bool(capabilities.hooks),
        "tools": bool(capabilities.allowed_tools),
        "outside-paths": bool(capabilities.outside_paths),
    }
    return [c for c in CAPABILITY_CLASSES if present[c]]


def example(capabilities: Capabilities, texts: dict[str, str], kind: str) -> str:
    """One instance of a class, with the file it is in: what the user looks at first."""

    def found_in(needle: str) -> str:
        where = next((path for path in sorted(texts) if needle in texts[path]), None)
        return f" in {where}" if where else ""

    if kind == "scripts":
        path = min(capabilities.scripts)
        return f"{path} ({capabilities.scripts[path]})"
    if kind == "hooks":
        return min(capabilities.hooks)
    if kind == "network":
        host = min(capabilities.hosts)
        return f"host {host}{found_in(host)}"
    if kind == "tools":
        tool = min(capabilities.allowed_tools)
        return f"tool {tool}{found_in(tool)}"
    path = min(capabilities.outside_paths)
    return f"path {path}{found_in(path)}"


def check_capabilities(project: Project, packages: dict[str, LockedPackage], blobs: dict[str, Path]) -> None:
    """Refuse the first package whose content has a class its rules deny (or do not allow);
    record each package's classes on it for rigging.lock."""
    assert project.capabilities is not None
    for name, package in sorted(packages.items()):
        rules = matching_rules(project.capabilities, name)
        capabilities, texts = content_capabilities(blobs[name], f"{name} {package.version}")
        present = classes(capabilities)
        package.capabilities = present
        for rule in rules:
            refused = [c for c in present if c in rule["deny"]] if "deny" in rule else None
            if refused is None:
                refused = [c for c in present if c not in rule["allow"]]
            if not refused:
                continue
            kind = refused[0]
            verb = "denies" if "deny" in rule else "does not allow"
            scope = f' for "{rule["packages"]}"' if rule.get("packages", "*") != "*" else ""
            raise RiggingError(
                f"{name} {package.version} has capability {kind!r} ({example(capabilities, texts, kind)}), which "
                f'{project.path}\'s "capabilities"{scope} {verb}; nothing was installed. Remove the dependency, '
                f'or allow {kind!r} in "capabilities"'
            )
