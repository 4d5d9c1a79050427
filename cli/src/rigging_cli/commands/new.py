from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directory", metavar="DIR", help="folder to create, or (with --skill) an existing package")
    parser.add_argument("--name", help="package name, namespace/name (needed to create a package)")
    parser.add_argument("--version", dest="pkg_version", default="0.1.0", help="initial version")
    parser.add_argument("--description", help="one-line description")
    parser.add_argument(
        "--skill",
        metavar="NAME",
        help="add the Agent Skill skills/NAME/SKILL.md to the package in DIR, or make DIR a package holding it",
    )


def run(args: argparse.Namespace) -> int:
    from rigging.errors import UsageError
    from rigging.scaffold import add_skill, create_package
    from rigging.versions import is_semver

    target = Path(args.directory)
    if args.skill is not None and (target / "rigging.json").exists():
        if args.name is not None:
            raise UsageError(
                f"{target}: already holds a package; drop --name to add the skill to it, or choose a new folder"
            )
        folder = add_skill(target, args.skill)
        print(f"added skill {args.skill} to {target} ({folder / 'SKILL.md'}); edit its description")
        return 0
    if args.name is None:
        also = "; to add the skill to a package, give that package's folder" if args.skill else ""
        raise UsageError(f"{target}: holds no package, so --name NAMESPACE/NAME is needed to make one{also}")
    if not is_semver(args.pkg_version):
        raise UsageError(f"--version {args.pkg_version!r} is not strict SemVer 2.0 (e.g. 0.1.0)")
    create_package(target, args.name, args.pkg_version, args.description, args.skill)
    holding = f" holding skill {args.skill}" if args.skill else ""
    print(f"created {args.name} {args.pkg_version} in {target}{holding}")
    return 0
