"""Entry point: parse arguments, then import only the module of the command being run.

argparse rather than typer/click: click alone costs ~80 ms to import here, which would spend
the whole start-up budget of `rigging --help` before any work is done.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

# command -> (module under rigging_cli.commands, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "new": ("new", "scaffold a package folder that validates, or add a skill to one"),
    "import": ("import_repo", "turn a repository's rules, commands and skills into a package folder"),
    "validate": ("validate", "check a package folder against the package rules"),
    "pack": ("pack", "write a package as a reproducible OCI image layout"),
    "publish": ("publish", "push a package to an OCI registry (or oci: layout)"),
    "pull": ("pull", "download and unpack a package by tag or digest"),
    "login": ("login", "store credentials for a registry (docker-compatible)"),
    "logout": ("logout", "forget a registry's credentials"),
    "add": ("add", "add a dependency to rigging.json and install it"),
    "remove": ("remove", "remove a dependency and exactly the files it installed"),
    "install": ("install", "resolve, lock and install the project's packages"),
    "update": ("update", "re-resolve to the newest allowed versions"),
    "list": ("listing", "list installed packages"),
    "tree": ("tree", "show the installed dependency tree"),
    "graph": ("graph", "dependency graph as text, Graphviz DOT or Mermaid"),
    "outdated": ("outdated", "show packages with newer versions"),
    "search": ("search", "search packages through an indexer"),
    "generate-key-pair": ("keypair", "write cosign.key and cosign.pub (cosign-compatible)"),
    "sign": ("sign", "sign a published package (cosign bundle or legacy .sig)"),
    "verify": ("verify", "check a package's signatures and say who signed"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rigging",
        description="Package manager for AI coding-agent rules and workflows, stored as OCI artifacts.",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, text) in COMMANDS.items():
        command = sub.add_parser(name, help=text, description=text)
        _module(module).add_arguments(command)
    return parser


def _module(name: str):  # noqa: ANN202 - a command module
    return importlib.import_module(f"rigging_cli.commands.{name}")


def _parser_for(argv: Sequence[str]) -> argparse.ArgumentParser:
    """A parser holding only the command being run, so other commands' modules stay unimported."""
    command = next((a for a in argv if not a.startswith("-")), None)
    if command not in COMMANDS:
        return build_parser()
    parser = argparse.ArgumentParser(prog="rigging")
    parser.add_argument("--version", action="store_true", help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    module, text = COMMANDS[command]
    _module(module).add_arguments(sub.add_parser(command, help=text, description=text))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        _print_help()
        return 0 if argv else 2
    args = _parser_for(argv).parse_args(argv)
    if args.version:
        from rigging import __version__

        print(f"rigging {__version__}")
        return 0
    if args.command is None:
        _print_help()
        return 2
    from rigging.errors import RiggingError

    try:
        return int(_module(COMMANDS[args.command][0]).run(args) or 0)
    except RiggingError as exc:
        print(f"rigging: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("rigging: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"rigging: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1
    except Exception as exc:
        if os.environ.get("RIGGING_DEBUG"):
            raise
        print(
            f"rigging: internal error: {type(exc).__name__}: {exc} "
            "(a bug: please report it; RIGGING_DEBUG=1 shows the traceback)",
            file=sys.stderr,
        )
        return 70


def _print_help() -> None:
    # Written by hand so `rigging --help` imports no command module.
    lines = [
        "usage: rigging [--version] COMMAND [ARGS]",
        "",
        "Package manager for AI coding-agent rules and workflows, stored as OCI artifacts.",
        "",
        "commands:",
        *(f"  {name:<10} {text}" for name, (_, text) in COMMANDS.items()),
        "",
        "Run 'rigging COMMAND --help' for a command's options.",
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
