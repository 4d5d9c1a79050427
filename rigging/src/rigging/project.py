"""The consumer side of rigging.json: what a project installs, for which agents, from where.

    {"dependencies": {"acme/python-style": "^1.2.0"},
     "targets": ["cursor", "claude"],
     "registry": "ghcr.io/acme-org",                 # default location of packages
     "registries": {"vendor": "registry.vendor.example/rules"},   # per namespace
     "resolver": {"maxDepth": 20}}

A package's own rigging.json may hold the same fields; `name` and `version` are optional here.
Read without jsonschema on purpose: an install must start in milliseconds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rigging.errors import RiggingError
from rigging.install_paths import PROJECT_FILE
from rigging.names import name_problem

if TYPE_CHECKING:
    from rigging.reference import RegistryRef

ALL_TARGETS = ("windsurf", "cursor", "copilot", "claude", "agents", "gemini", "cline", "kiro", "junie")


class Project:
    __slots__ = (
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
        """Where package `name` lives: its namespace's registry, else the default registry."""
        from rigging.reference import RegistryRef, parse_ref

        namespace = name.split("/", 1)[0]
        base = self.registries.get(namespace) or self.registry
        if not base:
            raise RiggingError(
                f'{self.path}: no registry for {name}; add "registry": "HOST[/PREFIX]" '
                f'(or "registries": {{"{namespace}": ...}})'
            )
        ref = parse_ref(f"{base.rstrip('/')}/{name}")
        if not isinstance(ref, RegistryRef) or ref.tag or ref.digest:
            raise RiggingError(f"{self.path}: registry {base!r} must be HOST[:PORT][/PREFIX]")
        return ref

    def serialise(self) -> bytes:
        return (json.dumps(self.data, indent=2, ensure_ascii=False) + "\n").encode()


def _fail(path: Path, message: str) -> RiggingError:
    return RiggingError(f"{path}: {message}")


def load_project(root: Path) -> Project:
    path = root / PROJECT_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _fail(
            path, 'not found; create it with {"dependencies": {}, "registry": "HOST"} or run rigging add NAME'
        ) from None
    except json.JSONDecodeError as exc:
        raise _fail(path, f"is not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(path, f"cannot be read ({exc})") from None
    if not isinstance(data, dict):
        raise _fail(path, "must be a JSON object")
    return parse_project(root, data)


def parse_project(root: Path, data: dict[str, Any]) -> Project:
    path = root / PROJECT_FILE
    project = Project(root, data)
    deps = data.get("dependencies", {})
    if not isinstance(deps, dict):
        raise _fail(path, '"dependencies" must be an object of name -> range')
    for name, text in deps.items():
        if (problem := name_problem(name)) is not None:
            raise _fail(path, f"dependency name {name!r} {problem}")
        if not isinstance(text, str):
            raise _fail(path, f'dependency {name}: the range must be a string such as "^1.0.0"')
    project.dependencies = dict(deps)
    if "targets" in data:
        targets = data["targets"]
        if not isinstance(targets, list) or not targets or any(t not in ALL_TARGETS for t in targets):
            raise _fail(path, f'"targets" must be a non-empty list drawn from {", ".join(ALL_TARGETS)}')
        project.targets = sorted(set(targets), key=ALL_TARGETS.index)
        project.explicit_targets = True
    project.renames = _check_renames(path, data.get("renameSkills", {}))
    registry = data.get("registry")
    if registry is not None and not isinstance(registry, str):
        raise _fail(path, '"registry" must be a string such as "ghcr.io/acme-org"')
    project.registry = registry
    registries = data.get("registries", {})
    if not isinstance(registries, dict) or not all(isinstance(v, str) for v in registries.values()):
        raise _fail(path, '"registries" must map a namespace to "HOST[/PREFIX]"')
    project.registries = dict(registries)
    resolver = data.get("resolver", {})
    depth = resolver.get("maxDepth", 20) if isinstance(resolver, dict) else None
    if not isinstance(depth, int) or depth < 1:
        raise _fail(path, '"resolver": {"maxDepth": N} needs a positive whole number')
    project.max_depth = depth
    signatures = data.get("signatures")
    if signatures is not None:
        project.signatures = _check_signature_policy(path, signatures)
    return project


def _check_renames(path: Path, renames: Any) -> dict[str, str]:
    from rigging.install_paths import skill_name_problem

    hint = '"renameSkills": {"namespace/name/skill": "new-name"}'
    if not isinstance(renames, dict):
        raise _fail(path, f'"renameSkills" must be an object such as {hint}')
    for key, new in renames.items():
        package, _, skill = key.rpartition("/")
        if name_problem(package) is not None or skill_name_problem(skill) is not None:
            raise _fail(path, f'"renameSkills": {key!r} must be "namespace/name/skill", as in {hint}')
        if not isinstance(new, str) or skill_name_problem(new) is not None:
            raise _fail(path, f'"renameSkills": {key} -> {new!r} is not a skill name (a-z, 0-9 and single "-")')
    return dict(renames)


def _check_signature_policy(path: Path, policy: Any) -> dict[str, Any]:
    hint = (
        '"signatures": {"mode": "enforce", "require": [{"packages": "acme/*", "keys": ["keys/acme.pub"]}]}; '
        'or a rule with "issuer" and "identity" (or "identityRegexp")'
    )
    if not isinstance(policy, dict) or policy.get("mode", "enforce") not in ("enforce", "warn"):
        raise _fail(path, f"malformed signature policy; expected {hint}")
    rules = policy.get("require")
    if not isinstance(rules, list) or not rules:
        raise _fail(path, f'signature policy needs "require" rules; expected {hint}')
    for rule in rules:
        keyed = isinstance(rule, dict) and isinstance(rule.get("keys"), list) and rule["keys"]
        keyless = (
            isinstance(rule, dict)
            and isinstance(rule.get("issuer"), str)
            and (isinstance(rule.get("identity"), str) or isinstance(rule.get("identityRegexp"), str))
        )
        if not isinstance(rule, dict) or not isinstance(rule.get("packages", "*"), str) or not (keyed or keyless):
            raise _fail(path, f"signature rule {rule!r} is malformed; expected {hint}")
    return {"mode": policy.get("mode", "enforce"), "require": rules}
