"""Arguments and output shared by the commands that change a project (add, remove, install, update)."""

from __future__ import annotations

import sys
from pathlib import Path

TYPE_CHECKING = False  # annotations only: typing costs ~3 ms to import, and argparse is main's to import
if TYPE_CHECKING:
    import argparse
    from typing import Any

    from rigging.project import Project
    from rigging.reference import Ref


def add_project(parser: argparse.ArgumentParser, *, install: bool = True) -> None:
    parser.add_argument(
        "-C",
        "--project",
        metavar="DIR",
        help="project folder (default: the nearest folder holding rigging.json, from here upward)",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    if install:
        parser.add_argument("--force", action="store_true", help="overwrite or remove files you changed")
        parser.add_argument("--max-depth", type=int, metavar="N", help="dependency chain limit (default 20)")
        parser.add_argument("--plain-http", action="store_true", help="use HTTP for non-loopback registries")
        parser.add_argument("--ca-file", metavar="PEM", help="CA bundle for the registry's TLS certificate")


def project_root(args: argparse.Namespace, *, start: bool = False) -> Path:
    """-C DIR, else the nearest folder from here upward holding rigging.json or rigging.lock (as git
    and npm look); with `start` (rigging add), the current folder when there is none."""
    from rigging.errors import RiggingError, UsageError
    from rigging.project import find_root

    if getattr(args, "project", None) is not None:
        root = Path(args.project)
        if not root.is_dir():
            raise UsageError(f"{root}: no such project folder (-C)")
        return root
    here = Path.cwd()
    found = find_root(here)
    if found is None:
        if start:
            return Path(".")
        raise RiggingError(
            f"no rigging.json in {here} or any folder above it; start a project here with "
            "`rigging add REGISTRY/NAMESPACE/NAME` (or `rigging add NAMESPACE/NAME --registry HOST`), or use -C DIR"
        )
    return Path(".") if found == here else found


def find_project(args: argparse.Namespace) -> Project | None:
    """The project the command runs in, or None outside any (for commands that also work alone)."""
    from rigging.project import find_root, load_project

    if getattr(args, "project", None) is not None:
        return load_project(project_root(args))
    root = find_root(Path.cwd())
    if root is None or not (root / "rigging.json").is_file():
        return None
    return load_project(Path(".") if root == Path.cwd() else root)


def package_ref(args: argparse.Namespace, text: str, *, locked: bool = False) -> Ref:
    """Where the package `text` names lives, with one version picked: its tag or digest, the newest
    its @RANGE allows, or for a bare name the project's registry (and with `locked`, the digest
    rigging.lock holds for it). No version at all stays None: the caller's newest release."""
    from rigging.reference import resolve_range

    ref, wanted = package_location(args, text, locked=locked)
    if wanted:
        plain_http, ca_file = getattr(args, "plain_http", False), getattr(args, "ca_file", None)
        return resolve_range(ref, wanted, plain_http=plain_http, ca_file=ca_file)
    return ref


def package_location(args: argparse.Namespace, text: str, *, locked: bool = False) -> tuple[Ref, str | None]:
    """As `package_ref`, with an @RANGE left to the caller: (where, the range or None)."""
    from rigging.reference import parse_spec, spec_location

    spec = parse_spec(text, any_repository=True)
    project = find_project(args) if spec.ref is None else None
    ref = spec_location(spec, project)
    if spec.range:
        return ref, spec.range
    if locked and project is not None and ref.reference is None and spec.name is not None:
        from dataclasses import replace

        from rigging.lockfile import load_lock

        lock = load_lock(project.root)
        if lock is not None and spec.name in lock.packages:
            return replace(ref, digest=lock.packages[spec.name].manifest), None
    return ref, None


def dependency_names(project: Project, texts: list[str], known: set[str], verb: str) -> list[str]:
    """The package names `texts` give (names or full references), each one of `known` (what the
    project depends on or has installed); otherwise an error naming it, with the closest name."""
    from rigging.errors import RiggingError
    from rigging.names import closest
    from rigging.reference import parse_spec

    names = []
    for text in texts:
        spec = None if text in known else parse_spec(text)
        name = text if spec is None else spec.name
        if name is None or name not in known:
            guess = closest(name or text, sorted(known))
            if guess:
                fix = f"did you mean {guess}?"
            elif known:
                shown = sorted(known)
                fix = f"it has {', '.join(shown[:5])}" + (f" and {len(shown) - 5} more" if len(shown) > 5 else "")
            else:
                fix = "it has none yet (rigging add NAMESPACE/NAME adds one)"
            raise RiggingError(f"cannot {verb} {text}: {project.path} has no such dependency; {fix}")
        if spec is not None and spec.registry is not None:
            here = registry_of(project, name)
            if here != same_registry(spec.registry, Path.cwd()):
                raise RiggingError(
                    f"cannot {verb} {text}: {project.path} takes {name} from {here or 'no registry'}, "
                    f"not {spec.registry}; name it as {name}"
                )
        names.append(name)
    return names


def same_registry(base: str, relative_to: Path) -> str:
    """A registry setting in one spelling, so two can be compared: no oci://, no trailing '/', and
    an oci:FOLDER made absolute from the folder it is relative to."""
    import os

    base = base.removeprefix("oci://").rstrip("/")
    if base.startswith("oci:"):
        return "oci:" + os.path.realpath(relative_to / base[4:])
    return base


def registry_of(project: Project, name: str) -> str | None:
    """Where the project's rigging.json says `name` lives (its namespace's entry, else the default)."""
    base = project.registries.get(name.split("/", 1)[0]) or project.registry
    return same_registry(base, project.root) if base else None


def options(args: argparse.Namespace, **extra: Any):  # noqa: ANN201 - InstallOptions
    from rigging.installer import InstallOptions

    from rigging_cli.progress import progress_for

    extra.setdefault("progress", progress_for(args, waiting="resolving"))  # main closes its display
    return InstallOptions(
        force=args.force, max_depth=args.max_depth, plain_http=args.plain_http, ca_file=args.ca_file, **extra
    )


def report(args: argparse.Namespace, result: Any, verb: str = "installed") -> int:
    if args.json:
        import json

        print(
            json.dumps(
                {
                    "packages": result.packages,
                    "written": result.written,
                    "removed": result.removed,
                    "unchanged": result.unchanged,
                    "kept": result.kept,
                    "overwritten": result.overwritten,
                    "adopted": result.adopted,
                    "warnings": result.warnings,
                    "resolved": result.resolved,
                    "requests": result.requests,
                    "recovered": result.recovered,
                    "rebuilt": result.rebuilt,
                    "targets": result.targets_note,
                }
            )
        )
        return 0
    if not getattr(args, "quiet", False):  # -q: results and warnings, not notes
        _notes(result)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for path in result.kept:
        print(f"kept your edits in {path} (use --force to restore the package's version)", file=sys.stderr)
    if getattr(args, "verbose", False):
        for path in result.written:
            print(f"  wrote {path}", file=sys.stderr)
        for path in result.removed:
            print(f"  removed {path}", file=sys.stderr)
    files = [p for p in result.written if p not in ("rigging.lock", "rigging.json")]
    print(
        f"{verb} {len(result.packages)} package(s): {len(files)} file(s) written, "
        f"{len(result.removed)} removed, {result.unchanged} unchanged"
        + ("" if "rigging.lock" in result.written else "; rigging.lock unchanged")
    )
    return 0


def _notes(result: Any) -> None:
    if result.recovered:
        print(f"note: {result.recovered}", file=sys.stderr)
    if result.rebuilt:
        print(f"note: {result.rebuilt}", file=sys.stderr)
    for forced in result.overwritten:
        done = "removed" if forced["op"] == "remove" else "overwrote"
        print(f"note: {forced['message']}; --force {done} it", file=sys.stderr)
    if result.targets_note:
        print(result.targets_note, file=sys.stderr)
