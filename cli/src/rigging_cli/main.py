"""Entry point: parse arguments, then import only the module of the command being run.

argparse rather than typer/click: click alone costs ~80 ms to import here, which would spend
the whole start-up budget of `rigging --help` before any work is done. argparse itself is
imported only when a command runs: `rigging --help` and `rigging --version` never need it.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing itself costs milliseconds that `rigging --help` does not have
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence
    from typing import Any, NoReturn

# command -> (module under rigging_cli.commands, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "new": ("new", "scaffold a package folder that validates, or add a skill to one"),
    "import": ("import_repo", "turn a repository's rules, commands and skills into a package folder"),
    "validate": ("validate", "check a package folder against the package rules"),
    "scan": ("scan", "check a package folder for hidden text, injection, exfiltration and secrets"),
    "pack": ("pack", "write a package as a reproducible OCI image layout"),
    "publish": ("publish", "push a package to an OCI registry (or oci: layout)"),
    "release-notes": ("release_notes", "draft a CHANGELOG section from the git commits that touched a package"),
    "pull": ("pull", "download and unpack a package by tag or digest"),
    "info": ("info", "show a version: metadata, signatures, attestations and capabilities"),
    "docs": ("docs", "show a package's documentation, or extract it with -o"),
    "login": ("login", "store credentials for a registry (docker-compatible)"),
    "logout": ("logout", "forget a registry's credentials"),
    "add": ("add", "add a dependency to rigging.json and install it"),
    "remove": ("remove", "remove a dependency and exactly the files it installed"),
    "install": ("install", "resolve, lock and install the project's packages"),
    "update": ("update", "re-resolve to the newest allowed versions"),
    "list": ("listing", "list installed packages"),
    "tree": ("tree", "show the installed dependency tree"),
    "graph": ("graph", "dependency graph as text, JSON, Graphviz DOT or Mermaid"),
    "outdated": ("outdated", "show packages with newer versions"),
    "search": ("search", "search packages through an indexer"),
    "whoami": ("whoami", "show who an indexer takes you for, and your namespaces"),
    "generate-key-pair": ("keypair", "write cosign.key and cosign.pub (cosign-compatible)"),
    "sign": ("sign", "sign a published package (cosign bundle or legacy .sig)"),
    "verify": ("verify", "check a package's signatures and say who signed"),
    "completion": ("completion", "print a shell completion script: bash, zsh or fish"),
}

# (exit code, kind in a --json error, meaning); `rigging --help` prints this table
EXIT_CODES: tuple[tuple[int, str, str], ...] = (
    (0, "", "success"),
    (1, "error", "failed: the message says what, where and how to fix it (also: invalid, unverified)"),
    (2, "usage", "wrong command line: an unknown option, a missing or malformed argument"),
    (70, "internal", "internal error: a bug in rigging (RIGGING_DEBUG=1 shows the traceback)"),
    (130, "interrupted", "interrupted (Ctrl-C)"),
    (141, "", "the output pipe closed early (`rigging … | head`), as for SIGPIPE; nothing is printed"),
)

# name, short, help: options every command takes, before or after the command's name
GLOBAL_OPTIONS: tuple[tuple[str, str, str], ...] = (
    ("--quiet", "-q", "no progress and no notes; results and errors only"),
    ("--verbose", "-v", "more detail: each registry request, each file written"),
)


class ArgumentsRejected(Exception):
    """argparse found the command line wrong; main reports it as text or JSON (exit 2)."""

    def __init__(self, usage: str, message: str) -> None:
        super().__init__(message)
        self.usage, self.message = usage, message


def _parser_class() -> type[argparse.ArgumentParser]:
    import argparse

    class Parser(argparse.ArgumentParser):
        def error(self, message: str) -> NoReturn:  # argparse would print and exit; main decides how
            raise ArgumentsRejected(self.format_usage(), f"{self.prog}: {message}")

    return Parser


def _add_global_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    import argparse

    # A subcommand's copy must not reset what was given before the command's name.
    default: Any = argparse.SUPPRESS if suppress else False
    for name, short, text in GLOBAL_OPTIONS:
        parser.add_argument(short, name, action="store_true", default=default, help=text)


def _module(name: str):  # noqa: ANN202 - a command module
    full = f"rigging_cli.commands.{name}"
    __import__(full)  # importlib.import_module, without importing importlib (and warnings)
    return sys.modules[full]


def build_parser(commands: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser for `commands` (default: all of them, which imports every command module)."""
    parser = _parser_class()(
        prog="rigging",
        description="Package manager for AI coding-agent rules and workflows, stored as OCI artifacts.",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    _add_global_options(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS if commands is None else commands:
        module, text = COMMANDS[name]
        command = sub.add_parser(name, help=text, description=text)
        _module(module).add_arguments(command)
        _add_global_options(command, suppress=True)
    return parser


def _parse(command: str, argv: list[str]) -> argparse.Namespace:
    import argparse

    parser = build_parser([command])
    args, extra = parser.parse_known_args(argv)
    if extra:  # said by the command's parser, so the usage shown is the command's
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        sub.choices[command].error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def _wants_json(argv: Sequence[str]) -> bool:
    head = argv[: argv.index("--")] if "--" in argv else argv
    return "--json" in head


def _command_of(argv: Sequence[str]) -> str | None:
    """The command's name: the first word that is not an option (global options take no value)."""
    return next((a for a in argv if not a.startswith("-")), None)


def _unknown_command(command: str) -> ArgumentsRejected:
    import difflib

    close = difflib.get_close_matches(command, COMMANDS, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return ArgumentsRejected(
        "usage: rigging [-q|-v] COMMAND [ARGS]\n",
        f"rigging: invalid choice: {command!r} is not a rigging command{hint} (rigging --help lists them)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    as_json = _wants_json(argv)
    command = _command_of(argv)
    if command is None:
        return _without_command(argv, as_json)
    if command not in COMMANDS:
        return _rejected(_unknown_command(command), as_json)
    try:
        args = _parse(command, argv)
    except ArgumentsRejected as exc:
        return _rejected(exc, as_json)
    if args.quiet and args.verbose:
        return _rejected(ArgumentsRejected("", "rigging: --quiet and --verbose contradict each other"), as_json)
    if args.version:
        return _print_version()
    if args.verbose:
        _log_requests()
    try:
        return _run(args, as_json)
    finally:
        if "rigging_cli.progress" in sys.modules:  # a transfer showed progress: close its display
            sys.modules["rigging_cli.progress"].finish_all()


def _run(args: argparse.Namespace, as_json: bool) -> int:
    from rigging.errors import RiggingError

    try:
        return int(_module(COMMANDS[args.command][0]).run(args) or 0)
    except RiggingError as exc:
        # some errors carry structured details (e.g. the files an install would not overwrite)
        return _failed(str(exc), exc.exit_code, _kind(exc), as_json, getattr(exc, "details", None))
    except KeyboardInterrupt:
        return _failed("interrupted", 130, "interrupted", as_json)
    except BrokenPipeError:  # the reader went away (`rigging docs … | head`): nothing to say, as with SIGPIPE
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush does not fail again
        return 141
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        return _failed(f"{exc.strerror or exc}{where}", 1, "error", as_json)
    except Exception as exc:
        if os.environ.get("RIGGING_DEBUG"):
            raise
        message = f"internal error: {type(exc).__name__}: {exc} "
        message += "(a bug: please report it; RIGGING_DEBUG=1 shows the traceback)"
        return _failed(message, 70, "internal", as_json)


def _kind(exc: Exception) -> str:
    from rigging.errors import IntegrityError, UsageError

    if isinstance(exc, UsageError):
        return "usage"
    if isinstance(exc, IntegrityError):
        return "integrity"
    registry_errors = sys.modules.get("rigging.registry.errors")  # loaded if a registry was spoken to
    if registry_errors is not None and isinstance(exc, registry_errors.RegistryError):
        return "registry"
    return "error"


def _failed(message: str, code: int, kind: str, as_json: bool, details: dict | None = None) -> int:
    if as_json:
        import json

        error = {"message": message, "code": code, "kind": kind, **(details or {})}
        print(json.dumps({"error": error}), file=sys.stderr)
    elif kind in ("internal", "interrupted"):
        print(f"rigging: {message}", file=sys.stderr)
    else:
        print(f"rigging: error: {message}", file=sys.stderr)
    return code


def _rejected(exc: ArgumentsRejected, as_json: bool) -> int:
    if as_json:
        return _failed(exc.message.removeprefix("rigging: "), 2, "usage", True)
    sys.stderr.write(exc.usage)
    prog, _, message = exc.message.partition(": ")
    print(f"{prog}: error: {message}", file=sys.stderr)
    return 2


def _without_command(argv: list[str], as_json: bool) -> int:
    """`rigging`, `rigging --help`, `rigging --version`: answered without argparse or any command module."""
    known = {"-h", "--help", "--version", "--json"} | {n for option in GLOBAL_OPTIONS for n in option[:2]}
    unknown = [a for a in argv if a not in known]
    if unknown:
        usage = "usage: rigging [-q|-v] COMMAND [ARGS]\n"
        return _rejected(ArgumentsRejected(usage, f"rigging: unrecognized option: {unknown[0]}"), as_json)
    if "-h" in argv or "--help" in argv:
        _print_help()
        return 0
    if "--version" in argv:
        return _print_version()
    if as_json:
        return _failed("no command given; `rigging --help` lists the commands", 2, "usage", True)
    _print_help()
    return 2


def _print_version() -> int:
    from rigging import __version__

    print(f"rigging {__version__}")
    return 0


def _log_requests() -> None:
    """-v: rigging.registry.http logs each request it sends (method, URL, status); show those on stderr."""
    import logging

    class Stderr(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            # sys.stderr as it is at each write: a progress display may have wrapped it meanwhile
            try:
                sys.stderr.write(self.format(record) + "\n")
            except Exception:
                self.handleError(record)

    handler = Stderr()
    handler.setFormatter(logging.Formatter("rigging: %(message)s"))
    logger = logging.getLogger("rigging")
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)


def _print_help() -> None:
    # Written by hand so `rigging --help` imports neither argparse nor any command module.
    lines = [
        "usage: rigging [-q|-v] [--version] COMMAND [ARGS]",
        "",
        "Package manager for AI coding-agent rules and workflows, stored as OCI artifacts.",
        "",
        "commands:",
        *(f"  {name:<18} {text}" for name, (_, text) in COMMANDS.items()),
        "",
        "options (before or after COMMAND):",
        *(f"  {short}, {name:<14} {text}" for name, short, text in GLOBAL_OPTIONS),
        f"  {'--version':<18} print the version and exit",
        f"  {'--json':<18} (read commands) print the result as JSON; errors too, as one object on stderr:",
        '  {"error": {"message": …, "code": EXIT CODE, "kind": KIND}}',
        "",
        "exit codes:",
        *(f"  {code:<4} {(kind or '-'):<12} {meaning}" for code, kind, meaning in EXIT_CODES),
        "  (the second column is the kind of a --json error; kind 'integrity' or 'registry' exits 1)",
        "",
        "Run 'rigging COMMAND --help' for a command's options;",
        "'rigging completion bash|zsh|fish' prints a shell completion script.",
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
