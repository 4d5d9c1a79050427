"""`rigging docs REF`: a package's doc bundle, rendered on a terminal, plain when piped, or extracted."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from rigging_cli.transport_args import add_transport, transfer_progress

if TYPE_CHECKING:
    from rigging.docs_bundle import DocsBundle


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "ref",
        metavar="REF",
        help="NS/NAME[@RANGE|:TAG] through the project's registry (the installed version when locked), "
        "REGISTRY/NS/NAME[:TAG|@sha256:…|@RANGE] or oci:LAYOUT[:TAG]",
    )
    parser.add_argument("-o", "--output", metavar="DIR", help="extract the docs into DIR instead of printing them")
    parser.add_argument("--force", action="store_true", help="with -o: replace DIR even if it holds files")
    parser.add_argument(
        "-C",
        "--project",
        metavar="DIR",
        help="project whose settings and lock NS/NAME uses (default: the nearest holding rigging.json, upward)",
    )
    add_transport(parser)


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from rigging.docs_bundle import fetch_docs

    from rigging_cli.project_args import package_ref

    ref = package_ref(args, args.ref, locked=True)  # a bare name: as the project locked it
    with transfer_progress(args) as progress:
        bundle = fetch_docs(ref, plain_http=args.plain_http, ca_file=args.ca_file, progress=progress)
    about: dict[str, Any] = {
        "name": bundle.name,
        "version": bundle.version,
        "source": bundle.source,
        "digest": bundle.digest,
    }
    if args.output:
        out = Path(args.output)
        written = bundle.extract(out, force=args.force)
        if args.json:
            print(json.dumps({**about, "output": str(out), "files": written}))
            return 0
        print(f"extracted {len(written)} docs file(s) of {bundle.name} {bundle.version} into {out}/")
        if args.verbose:
            for path in written:
                print(f"  {out / path}", file=sys.stderr)
        return 0
    files = [(path, data.decode("utf-8", "replace")) for path, data in bundle.files()]
    if args.json:  # as packed: JSON escapes control characters itself
        print(json.dumps({**about, "files": [{"path": path, "text": text} for path, text in files]}))
        return 0
    files = [(path, _printable(text)) for path, text in files]
    if sys.stdout.isatty():
        _render(bundle, files)
    else:
        print("\n\n".join(f"==> docs/{path} <==\n{text.rstrip()}" for path, text in files))
    return 0


def _printable(text: str) -> str:
    """Docs are untrusted: no terminal control sequences (escape, carriage return, …) reach the screen."""
    return "".join(c if c in "\n\t" or not _is_control(c) else "\N{REPLACEMENT CHARACTER}" for c in text)


def _is_control(c: str) -> bool:
    code = ord(c)
    return code < 0x20 or code == 0x7F or 0x80 <= code < 0xA0


def _render(bundle: DocsBundle, files: list[tuple[str, str]]) -> None:
    """Markdown drawn for a terminal by rich (which honours NO_COLOR); JSON files as they are."""
    from rich.console import Console
    from rich.markdown import Markdown
    from rich.text import Text

    console = Console()
    for path, text in files:
        console.rule(Text(f"{bundle.name} {bundle.version} · docs/{path}"), style="dim")
        if path.endswith(".md"):
            console.print(Markdown(text))
        else:
            console.print(text, markup=False, highlight=False)
