from __future__ import annotations

import argparse

from rigging_cli.project_args import add_project, options, project_root, report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", metavar="NAME[@RANGE]", help="e.g. acme/python-style or acme/python-style@^1.2")
    parser.add_argument("--registry", help="set the project's default registry (HOST[/PREFIX]) if it has none")
    add_project(parser)


def run(args: argparse.Namespace) -> int:
    from typing import Any

    from rigging.errors import UsageError
    from rigging.installer import install
    from rigging.names import name_problem
    from rigging.project import parse_project
    from rigging.ranges import RangeError, parse_range

    root = project_root(args)
    name, _, wanted = args.spec.partition("@")
    if (problem := name_problem(name)) is not None:
        raise UsageError(f"package name {name!r} {problem}")
    if wanted:
        try:
            parse_range(wanted)
        except RangeError as exc:
            raise UsageError(f"{args.spec}: {exc}") from None
    chosen: list[str] = []

    def edit(data: dict[str, Any]) -> None:  # runs under the project lock, on rigging.json as it is then
        if args.registry and not data.get("registry"):
            data["registry"] = args.registry
        chosen.append(wanted or _caret_of_newest(parse_project(root, data), name, args))
        data.setdefault("dependencies", {})[name] = chosen[0]

    result = install(root, options(args, edit=edit, update={name}))
    if not args.json:
        print(f"added {name}@{chosen[0]}")
    return report(args, result)


def _caret_of_newest(project, name: str, args: argparse.Namespace) -> str:  # noqa: ANN001
    from rigging.catalog_registry import RegistryCatalog
    from rigging.errors import RiggingError

    with RegistryCatalog(project.location, plain_http=args.plain_http, ca_file=args.ca_file) as catalog:
        versions = catalog.versions(name)
    releases = [v for v in versions if not v.prerelease] or versions
    if not releases:
        raise RiggingError(f"{project.location(name)} has no versions of {name}")
    return f"^{max(releases)}"
