from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rigging_cli.project_args import add_project, options, project_root, report

if TYPE_CHECKING:
    from collections.abc import Callable

    from rigging.project import Project
    from rigging.reference import LayoutRef
    from rigging.versions import Version


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "spec",
        metavar="PACKAGE",
        help="NS/NAME[@RANGE], or where it lives: REGISTRY/NS/NAME[:VERSION|@RANGE] (ghcr.io/acme/x@^1.2), "
        "oci://REGISTRY/NS/NAME, oci:FOLDER/NS/NAME; a full reference also records its registry in rigging.json",
    )
    parser.add_argument(
        "--registry",
        metavar="WHERE",
        help="where the package's namespace lives, HOST[/PREFIX] or oci:FOLDER, if rigging.json does not say",
    )
    add_project(parser)


def run(args: argparse.Namespace) -> int:
    from rigging.errors import UsageError
    from rigging.installer import install
    from rigging.reference import LayoutRef, parse_spec
    from rigging.versions import tag_to_version

    spec = parse_spec(args.spec)
    name = spec.name if not isinstance(spec.ref, LayoutRef) else _layout_name(spec.ref, spec.name, args.spec)
    if name is None:
        raise UsageError(
            f"{args.spec!r} does not end in NAMESPACE/NAME; a project takes packages from a folder of NS/NAME "
            "layouts: write oci:FOLDER/NAMESPACE/NAME (`rigging publish PKG oci:FOLDER` puts them there)"
        )
    if spec.digest:
        raise UsageError(
            f"{args.spec!r}: a dependency is a version or a range, not a digest; write {name}@VERSION, or "
            f"{name} for the newest release"
        )
    wanted = spec.range
    if spec.tag:
        version = tag_to_version(spec.tag)
        if version is None:
            raise UsageError(
                f"{args.spec!r}: the tag {spec.tag!r} is not a version; write a version or a range "
                f"({name}@^1.2), or {name} for the newest release"
            )
        wanted = str(version)  # a version given exactly is kept exactly, as npm and Cargo read "1.2.0"
    root = project_root(args, start=True)
    base = _local(spec.registry, root) if spec.registry else None
    if args.registry:
        given = _local(args.registry, root)
        if base is not None and _same(base, root) != _same(given, root):
            raise UsageError(
                f"{args.spec!r} lives in {spec.registry}, but --registry says {args.registry}; give one of them"
            )
        base = base or given
    if base is None:
        _check_somewhere(root, name)
    chosen: list[str] = []

    def edit(data: dict[str, Any], versions: Callable[[Project, str], list[Version]]) -> None:
        # runs under the project lock, on rigging.json as it is then
        from rigging.project import parse_project

        if base is not None:
            _record_registry(root, data, name, base)
        chosen.append(wanted or _caret_of_newest(parse_project(root, data), name, versions))
        data.setdefault("dependencies", {})[name] = chosen[0]

    result = install(root, options(args, edit=edit, update={name}))
    if not args.json:
        print(f"added {name}@{chosen[0]}" + (f" from {base}" if base else ""))
    return report(args, result)


def _layout_name(ref: LayoutRef, name: str | None, text: str) -> str | None:
    """The NS/NAME of a package's layout in a store folder (FOLDER/NS/NAME), once the folder is seen
    to be a layout: the last two parts of any path would pass for a name."""
    from rigging.errors import UsageError

    folder = Path(ref.path)
    if (folder / "oci-layout").is_file():
        return name
    if next(folder.glob("*/*/oci-layout"), None) is not None:
        raise UsageError(f"{text!r} is a folder of packages; name one in it: oci:{ref.path}/NAMESPACE/NAME")
    raise UsageError(
        f"{text!r}: {ref.path} holds no OCI layout; give a package's layout in a folder of them, "
        "oci:FOLDER/NAMESPACE/NAME (`rigging publish PKG oci:FOLDER/NAMESPACE/NAME` makes one)"
    )


def _local(base: str, root: Path) -> str:
    """A registry as rigging.json holds it: an oci:FOLDER typed here made relative to the project root."""
    import os

    base = base.removeprefix("oci://").rstrip("/")
    if not base.startswith("oci:") or os.path.isabs(base[4:]):
        return base
    return "oci:" + Path(os.path.relpath(Path.cwd() / base[4:], root.resolve())).as_posix()


def _same(base: str, root: Path) -> str:
    from rigging_cli.project_args import same_registry

    return same_registry(base, root)


def _check_somewhere(root: Path, name: str) -> None:
    """Before anything starts: a bare name needs rigging.json to say where its namespace lives."""
    from rigging.errors import UsageError
    from rigging.project import PROJECT_FILE
    from rigging.settings import read_json_object

    path = root / PROJECT_FILE
    data = read_json_object(path, "project file")
    namespace = name.split("/", 1)[0]
    registries = data.get("registries")
    if data.get("registry") or (isinstance(registries, dict) and registries.get(namespace)):
        return
    fix = (
        f"`rigging add {name} --registry HOST[/PREFIX]` (or --registry oci:FOLDER for a folder of packages), "
        f"or a full reference such as `rigging add ghcr.io/{name}`"
    )
    if not path.exists():
        raise UsageError(
            f"no registry for {name}: there is no rigging.json in {Path.cwd()} or above to say where {namespace} "
            f"packages live; give one: {fix}"
        )
    raise UsageError(f"{path} says nowhere for {namespace} packages to come from; give it: {fix}")


def _record_registry(root: Path, data: dict[str, Any], name: str, base: str) -> None:
    """The registry a full reference (or --registry) implies, kept in rigging.json: as the project's
    "registry" when it has none, else as its namespace's entry in "registries". One namespace comes
    from one place, so moving packages the project already takes from elsewhere is refused."""
    from rigging.errors import UsageError
    from rigging.project import PROJECT_FILE

    path = root / PROJECT_FILE
    namespace = name.split("/", 1)[0]
    registries = data.get("registries")
    mapped = registries.get(namespace) if isinstance(registries, dict) else None
    current = mapped or data.get("registry")
    if isinstance(current, str) and _same(current, root) == _same(base, root):
        return
    if mapped:
        raise UsageError(
            f'{path}: "registries" takes {namespace} packages from {mapped}, not {base}; one namespace comes '
            f"from one place: add {name} from there, or change that entry"
        )
    if not data.get("registry"):
        data["registry"] = base
        return
    others = sorted(n for n in _known_packages(root, data) if n.split("/", 1)[0] == namespace and n != name)
    if others:
        verb = "comes" if len(others) == 1 else "come"
        raise UsageError(
            f"{path}: {', '.join(others)} already {verb} from {data['registry']}, not {base}; one namespace comes "
            f"from one place: add {name} from there, or move {namespace} with "
            f'"registries": {{"{namespace}": "{base}"}}'
        )
    if not isinstance(registries, dict):
        registries = data["registries"] = {}
    registries[namespace] = base


def _known_packages(root: Path, data: dict[str, Any]) -> set[str]:
    """The project's dependencies and the packages its lock installed (their dependencies too)."""
    from rigging.errors import RiggingError
    from rigging.lockfile import load_lock

    deps = data.get("dependencies")
    names = set(deps) if isinstance(deps, dict) else set()
    try:
        lock = load_lock(root)
    except RiggingError:  # a damaged lock is install's to report
        lock = None
    return names | (set(lock.packages) if lock is not None else set())


def _caret_of_newest(project: Project, name: str, versions: Callable[[Project, str], list[Version]]) -> str:
    from rigging.errors import RiggingError

    found = versions(project, name)
    releases = [v for v in found if not v.prerelease] or found
    if not releases:
        raise RiggingError(f"{project.location(name)} has no versions of {name}")
    return f"^{max(releases)}"
