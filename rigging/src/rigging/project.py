"""The consumer side of rigging.json: what a project installs, for which agents, from where.

    {"dependencies": {"acme/python-style": "^1.2.0"},
     "targets": ["cursor", "claude"],
     "registry": "ghcr.io/acme-org",                 # default location of packages
     "registries": {"vendor": "registry.vendor.example/rules"},   # per namespace
     "resolver": {"maxDepth": 20}}

A package's own rigging.json may hold the same fields; `name` and `version` are optional here.
Read without jsonschema on purpose (an install must start in milliseconds), but to the same rules
as project.schema.json (tests/test_first_contact_refs.py holds the two to agreement): an unknown
key is an error naming its line and the key it is likely a slip for, never silently ignored.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from rigging.errors import RiggingError
from rigging.install_paths import LOCK_FILE, PROJECT_FILE
from rigging.names import name_problem

TYPE_CHECKING = False  # typing costs ~3 ms to import; only the annotations use it
if TYPE_CHECKING:
    from typing import Any

    from rigging.reference import RegistryRef

ALL_TARGETS = ("windsurf", "cursor", "copilot", "claude", "agents", "gemini", "cline", "kiro", "junie")
# The keys project.schema.json allows at each level; a package's own keys may stand beside them.
PROJECT_KEYS = (
    "dependencies",
    "registry",
    "registries",
    "targets",
    "renameSkills",
    "resolver",
    "signatures",
    "capabilities",
)
PACKAGE_KEYS = (
    "$schema",
    "name",
    "version",
    "description",
    "license",
    "keywords",
    "authors",
    "homepage",
    "repository",
    "rules",
    "workflows",
    "skills",
)
RESOLVER_KEYS = ("maxDepth",)
SIGNATURES_KEYS = ("mode", "require")
SIGNATURE_RULE_KEYS = ("packages", "keys", "issuer", "identity", "identityRegexp", "offline", "attestations")
ATTESTATION_KINDS = ("scan", "approval")
# What a package may be able to do, as rigging.scan discloses it: a project allows or denies each.
CAPABILITY_CLASSES = ("scripts", "network", "hooks", "tools", "outside-paths")
CAPABILITY_RULE_KEYS = ("packages", "allow", "deny")


class Project:
    __slots__ = (
        "capabilities",
        "data",
        "dependencies",
        "explicit_targets",
        "max_depth",
        "registries",
        "registry",
        "renames",
        "root",
        "signatures",
        "targets",
    )

    def __init__(self, root: Path, data: dict[str, Any]) -> None:
        self.root, self.data = root, data
        self.dependencies: dict[str, str] = {}
        self.targets: list[str] = []
        self.explicit_targets = False  # False: install uses the agents the project already shows signs of
        self.renames: dict[str, str] = {}  # "namespace/name/skill" -> the name that skill is installed under
        self.registry: str | None = None
        self.registries: dict[str, str] = {}
        self.max_depth = 20
        # {"mode": "enforce"|"warn", "require": [{"packages": GLOB, "keys": [...]} | {..., "issuer", "identity"}]}
        self.signatures: dict[str, Any] | None = None
        # [{"packages": GLOB, "allow": [...]} | {"packages": GLOB, "deny": [...]}]; every matching rule applies
        self.capabilities: list[dict[str, Any]] | None = None

    def check_ranges(self) -> None:
        """Every dependency range parses (checked before resolving; an unchanged lock skips it)."""
        from rigging.ranges import RangeError, parse_range

        for name, text in self.dependencies.items():
            try:
                parse_range(text)
            except RangeError as exc:
                raise _fail(self.path, f"dependency {name}: {exc}") from None

    @property
    def path(self) -> Path:
        return self.root / PROJECT_FILE

    def location(self, name: str) -> RegistryRef:
        """Where package `name` lives: its namespace's registry, else the default registry.

        An `oci:DIR` store (a folder of `ns/name` OCI layouts, DIR relative to the project root)
        is a registry whose host is `oci:DIR` as written: the lock records `oci:DIR/ns/name`, and
        `rigging.layout_registry` opens it relative to the project root."""
        from rigging.reference import RegistryRef, parse_ref

        namespace = name.split("/", 1)[0]
        base = self.registries.get(namespace) or self.registry
        if not base:
            fix = (
                f'add "registry": "HOST[/PREFIX]" or "oci:DIR" (or "registries": {{"{namespace}": ...}}), '
                f"or add it by full reference HOST/{name}"
            )
            if not self.path.exists():
                raise RiggingError(
                    f"no registry for {name}: give a full reference (rigging add HOST/{name}), --registry HOST, "
                    "or --registry oci:DIR for a local folder of packages"
                )
            raise RiggingError(f"{self.path}: no registry for {name}; {fix}")
        if base.startswith("oci:") and not base.startswith("oci://"):
            folder = base[4:].rstrip("/")
            if not folder or "@" in folder:
                raise RiggingError(
                    f'{self.path}: registry {base!r} must be "oci:DIR", a folder holding NS/NAME layouts'
                )
            return RegistryRef(f"oci:{folder}", name)
        ref = parse_ref(f"{base.rstrip('/')}/{name}")
        if not isinstance(ref, RegistryRef) or ref.tag or ref.digest:
            raise RiggingError(f'{self.path}: registry {base!r} must be HOST[:PORT][/PREFIX] or "oci:DIR"')
        return ref

    def serialise(self) -> bytes:
        return (json.dumps(self.data, indent=2, ensure_ascii=False) + "\n").encode()


def _fail(path: Path, message: str, at: tuple[str | int, ...] = ()) -> RiggingError:
    """`path:LINE: message`, LINE being where the key path `at` is written (read only on failure)."""
    line = None
    if at:
        from rigging.problems import json_key_line

        with contextlib.suppress(OSError, UnicodeDecodeError):
            line = json_key_line(path.read_text(encoding="utf-8"), list(at))
    return RiggingError(f"{path}:{line}: {message}" if line else f"{path}: {message}")


def _unknown_keys(
    path: Path,
    data: dict[str, Any],
    known: tuple[str, ...],
    at: tuple[str | int, ...] = (),
    shown: tuple[str, ...] | None = None,
) -> None:
    for key in data:
        if key not in known:
            from rigging.names import closest

            where = f" in {'.'.join(str(k) for k in at)}" if at else ""
            guess = closest(key, known)
            fix = f"did you mean {guess!r}?" if guess else f"the keys{where} are {', '.join(shown or known)}"
            raise _fail(path, f"unknown key {key!r}{where}; {fix}", (*at, key))


def find_root(start: Path) -> Path | None:
    """The nearest folder from `start` upward holding rigging.json or rigging.lock, as git and npm look."""
    import os.path

    folder = str(start)
    while True:  # plain strings: every command that finds its project pays for this walk
        if os.path.isfile(os.path.join(folder, PROJECT_FILE)) or os.path.isfile(os.path.join(folder, LOCK_FILE)):
            return Path(folder)
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


def load_project(root: Path) -> Project:
    path = root / PROJECT_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _fail(
            path,
            "no such file; start it with `rigging add REGISTRY/NAMESPACE/NAME` "
            '(or write {"registry": "HOST", "dependencies": {}})',
        ) from None
    except json.JSONDecodeError as exc:
        raise RiggingError(
            f"{path}:{exc.lineno}: is not valid JSON (column {exc.colno}: {exc.msg}); fix the syntax there"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(path, f"cannot be read ({exc})") from None
    if not isinstance(data, dict):
        raise _fail(path, "must be a JSON object")
    return parse_project(root, data)


def parse_project(root: Path, data: dict[str, Any]) -> Project:
    path = root / PROJECT_FILE
    project = Project(root, data)
    _unknown_keys(path, data, PROJECT_KEYS + PACKAGE_KEYS, shown=PROJECT_KEYS)
    deps = data.get("dependencies", {})
    if not isinstance(deps, dict):
        raise _fail(path, '"dependencies" must be an object of name -> range', ("dependencies",))
    for name, text in deps.items():
        if (problem := name_problem(name)) is not None:
            where = _where_hint(name)
            message = f"dependency {name!r} is a full reference; {where}" if where else f"dependency {name!r} {problem}"
            raise _fail(path, message, ("dependencies", name))
        if not isinstance(text, str) or not text:
            raise _fail(path, f'dependency {name}: the range must be a string such as "^1.0.0"', ("dependencies", name))
    project.dependencies = dict(deps)
    if "targets" in data:
        targets = data["targets"]
        if not isinstance(targets, list) or not targets or any(t not in ALL_TARGETS for t in targets):
            raise _fail(path, *_targets_problem(targets))
        project.targets = sorted(set(targets), key=ALL_TARGETS.index)
        project.explicit_targets = True
    project.renames = _check_renames(path, data.get("renameSkills", {}))
    registry = data.get("registry")
    if registry is not None and not isinstance(registry, str):
        raise _fail(path, '"registry" must be a string such as "ghcr.io/acme-org" or "oci:./packages"')
    project.registry = registry
    registries = data.get("registries", {})
    if not isinstance(registries, dict) or not all(isinstance(v, str) for v in registries.values()):
        raise _fail(path, '"registries" must map a namespace to "HOST[/PREFIX]" or "oci:DIR"')
    project.registries = dict(registries)
    resolver = data.get("resolver", {})
    if isinstance(resolver, dict):
        _unknown_keys(path, resolver, RESOLVER_KEYS, ("resolver",))
    depth = resolver.get("maxDepth", 20) if isinstance(resolver, dict) else None
    if not isinstance(depth, int) or isinstance(depth, bool) or depth < 1:
        raise _fail(path, '"resolver": {"maxDepth": N} needs a positive whole number', ("resolver",))
    project.max_depth = depth
    signatures = data.get("signatures")
    if signatures is not None:
        project.signatures = _check_signature_policy(path, signatures)
    capabilities = data.get("capabilities")
    if capabilities is not None:
        project.capabilities = _check_capability_policy(path, capabilities)
    return project


def _targets_problem(targets: Any) -> tuple[str, tuple[str | int, ...]]:
    """What is wrong with "targets", and where: the list, or its first entry that names no agent."""
    from rigging.names import closest

    choices = ", ".join(ALL_TARGETS)
    if not isinstance(targets, list) or not targets:
        return f'"targets" must be a non-empty list drawn from {choices}', ("targets",)
    index, wrong = next((i, t) for i, t in enumerate(targets) if t not in ALL_TARGETS)
    guess = closest(wrong, ALL_TARGETS) if isinstance(wrong, str) else None
    fix = f"did you mean {guess!r}?" if guess else f"the agents are {choices}"
    return f'"targets": {wrong!r} is not an agent rigging installs for; {fix}', ("targets", index)


def _where_hint(name: str) -> str:
    """For a dependency written as a full reference: how to say where it comes from instead."""
    from rigging.names import name_in_reference
    from rigging.reference import PackageSpec, parse_spec

    if name_in_reference(name) is None:
        return ""
    try:
        spec: PackageSpec | None = parse_spec(name)
    except RiggingError:
        spec = None
    if spec is None or spec.name is None or spec.registry is None:
        return ""
    namespace = spec.name.split("/", 1)[0]
    return (
        f'write "{spec.name}" in "dependencies" and say where it lives with "registry": "{spec.registry}" '
        f'(or "registries": {{"{namespace}": "{spec.registry}"}})'
    )


def _check_renames(path: Path, renames: Any) -> dict[str, str]:
    from rigging.install_paths import skill_name_problem

    hint = '"renameSkills": {"namespace/name/skill": "new-name"}'
    if not isinstance(renames, dict):
        raise _fail(path, f'"renameSkills" must be an object such as {hint}', ("renameSkills",))
    for key, new in renames.items():
        package, _, skill = key.rpartition("/")
        at = ("renameSkills", key)
        if name_problem(package) is not None or skill_name_problem(skill) is not None:
            raise _fail(path, f'"renameSkills": {key!r} must be "namespace/name/skill", as in {hint}', at)
        if not isinstance(new, str) or skill_name_problem(new) is not None:
            raise _fail(path, f'"renameSkills": {key} -> {new!r} is not a skill name (a-z, 0-9 and single "-")', at)
    return dict(renames)


def _check_signature_policy(path: Path, policy: Any) -> dict[str, Any]:
    hint = (
        '"signatures": {"mode": "enforce", "require": [{"packages": "acme/*", "keys": ["keys/acme.pub"]}]}; '
        'or a rule with "issuer" and "identity" (or "identityRegexp")'
    )
    at: tuple[str | int, ...] = ("signatures",)
    if isinstance(policy, dict):
        _unknown_keys(path, policy, SIGNATURES_KEYS, at)
    if not isinstance(policy, dict) or policy.get("mode", "enforce") not in ("enforce", "warn"):
        raise _fail(path, f"malformed signature policy; expected {hint}", at)
    rules = policy.get("require")
    if not isinstance(rules, list) or not rules:
        raise _fail(path, f'signature policy needs "require" rules; expected {hint}', at)
    for index, rule in enumerate(rules):
        where = ("signatures", "require", index)
        if isinstance(rule, dict):
            _unknown_keys(path, rule, SIGNATURE_RULE_KEYS, where)
        if not isinstance(rule, dict) or not _well_typed_rule(rule):
            raise _fail(path, f"signature rule {rule!r} is malformed; expected {hint}", where)
        if "attestations" in rule and not _well_typed_attestations(rule):
            raise _fail(
                path,
                f'signature rule {rule!r}: "attestations" must list some of {", ".join(ATTESTATION_KINDS)} '
                'and be checked with the index\'s "keys", as in {"packages": "*", "attestations": ["scan", '
                '"approval"], "keys": ["keys/index.pub"]}',
                where,
            )
    return {"mode": policy.get("mode", "enforce"), "require": rules}


def _well_typed_attestations(rule: dict[str, Any]) -> bool:
    """An index signs its attestations with a key, so an attestation rule names keys, not an identity."""
    kinds = rule["attestations"]
    if not isinstance(kinds, list) or not kinds or len(set(map(str, kinds))) != len(kinds):
        return False
    if any(kind not in ATTESTATION_KINDS for kind in kinds):
        return False
    return "keys" in rule and not any(k in rule for k in ("issuer", "identity", "identityRegexp", "offline"))


def _check_capability_policy(path: Path, policy: Any) -> list[dict[str, Any]]:
    """`{"deny": [CLASS…]}` or `{"allow": [CLASS…]}`, optionally with "packages": GLOB, or a list of such rules."""
    classes = ", ".join(CAPABILITY_CLASSES)
    hint = (
        f'"capabilities": {{"deny": ["scripts", "hooks"]}} or {{"allow": ["network"]}} (classes: {classes}), '
        'optionally with "packages": "acme/*", or a list of such rules'
    )
    rules = policy if isinstance(policy, list) else [policy]
    if isinstance(policy, list) and not policy:
        raise _fail(path, f'"capabilities" is an empty list; expected {hint}', ("capabilities",))
    checked: list[dict[str, Any]] = []
    for index, rule in enumerate(rules):
        at: tuple[str | int, ...] = ("capabilities", index) if isinstance(policy, list) else ("capabilities",)
        if isinstance(rule, dict):
            _unknown_keys(path, rule, CAPABILITY_RULE_KEYS, at)
        if not isinstance(rule, dict) or ("allow" in rule) == ("deny" in rule):
            raise _fail(path, f'a capability rule needs exactly one of "allow" and "deny"; expected {hint}', at)
        verb = "allow" if "allow" in rule else "deny"
        named = rule[verb]
        if not isinstance(named, list) or (verb == "deny" and not named) or len(set(map(str, named))) != len(named):
            raise _fail(path, f'"capabilities": "{verb}" must be a list of distinct classes; expected {hint}', at)
        for entry in named:
            if entry not in CAPABILITY_CLASSES:
                from rigging.names import closest

                guess = closest(entry, CAPABILITY_CLASSES) if isinstance(entry, str) else None
                fix = f"did you mean {guess!r}?" if guess else f"the classes are {classes}"
                raise _fail(path, f'"capabilities": {entry!r} is not a capability class; {fix}', at)
        if "packages" in rule and not isinstance(rule["packages"], str):
            raise _fail(path, f'"capabilities": "packages" must be a glob such as "acme/*"; expected {hint}', at)
        checked.append({"packages": rule.get("packages", "*"), verb: sorted(set(named))})
    return checked


def _well_typed_rule(rule: dict[str, Any]) -> bool:
    """Each key of a signature rule has its type, and the rule names keys or a keyless identity."""
    keys = rule.get("keys")
    if "keys" in rule and not (isinstance(keys, list) and keys and all(isinstance(k, str) for k in keys)):
        return False
    texts = ("packages", "issuer", "identity", "identityRegexp")
    if any(k in rule and not isinstance(rule[k], str) for k in texts):
        return False
    if "offline" in rule and not isinstance(rule["offline"], bool):
        return False
    return "keys" in rule or ("issuer" in rule and ("identity" in rule or "identityRegexp" in rule))
