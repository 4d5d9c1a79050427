from __future__ import annotations

import argparse
import json
import sys

from rigging_cli.transport_args import add_transport, transfer_progress


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "source",
        metavar="DIR|oci:LAYOUT[:TAG]",
        nargs="?",
        default=".",
        help="package folder or OCI layout (default: .)",
    )
    parser.add_argument(
        "target",
        metavar="REGISTRY/NS/NAME",
        help="repository to push to, or oci:LAYOUT (oci:STORE/NS/NAME, or oci:STORE once it holds packages)",
    )
    parser.add_argument("--tag", action="append", default=[], help="extra tag (repeatable); the version is always one")
    parser.add_argument("--force", action="store_true", help="overwrite a version tag that holds other content")
    parser.add_argument("--sign", action="store_true", help="sign what was published (with --key or --keyless)")
    parser.add_argument("--key", metavar="cosign.key", help="with --sign: the cosign private key")
    parser.add_argument("--keyless", action="store_true", help="with --sign: a Sigstore certificate for your identity")
    parser.add_argument("--format", choices=("bundle", "legacy"), default="bundle", help="with --sign: storage format")
    parser.add_argument("--identity-token", metavar="JWT", help="with --keyless: the OIDC token to use")
    parser.add_argument(
        "--allow-blocked",
        metavar="REASON",
        help="publish despite the scan's block findings; the reason and the rule ids go into the manifest",
    )
    parser.add_argument(
        "--release-notes",
        action="store_true",
        help="first add a section drafted from git history to the folder's CHANGELOG.md (kept if it has one)",
    )
    add_transport(parser)


def run(args: argparse.Namespace) -> int:
    from rigging.errors import UsageError
    from rigging.transfer import publish

    if args.sign and bool(args.key) == bool(args.keyless):
        raise UsageError("--sign needs exactly one of --key cosign.key or --keyless")
    if (args.key or args.keyless) and not args.sign:
        raise UsageError("--key and --keyless go with --sign")
    key = None
    if args.key:  # read the key first: a wrong password must not leave an unsigned publish behind
        from pathlib import Path

        from rigging.signing.keys import load_private_key

        from rigging_cli.passwords import password

        key = load_private_key(Path(args.key), password())

    from rigging.scan.gate import PublishBlockedError, override_reason, publish_check

    check = publish_check(override_reason(args.allow_blocked))
    notes = _release_notes(args) if args.release_notes else None
    try:
        with transfer_progress(args) as progress:
            result = publish(
                args.source,
                args.target,
                extra_tags=args.tag,
                force=args.force,
                plain_http=args.plain_http,
                ca_file=args.ca_file,
                progress=progress,
                check=check,
            )
    except PublishBlockedError as exc:
        if not args.json:  # --json carries them in the error's details
            for finding in exc.findings:
                print(f"rigging: error: {finding.format()}", file=sys.stderr)
        raise
    if args.sign:
        result["signature"] = _sign(args, result, key)
    if notes is not None:
        result["release_notes"] = notes
    if args.json:
        print(json.dumps(result))
        return 0
    counts: dict[str, int] = {}
    for outcome in result["blobs"].values():
        counts[outcome] = counts.get(outcome, 0) + 1
    blobs = ", ".join(f"{n} {what}" for what, n in sorted(counts.items()))
    print(f"published {result['name']} {result['version']} -> {result['target']}:{', '.join(result['tags'])}")
    print(f"blobs: {blobs}")
    print(f"digest: {result['digest']}")
    if args.sign:
        print(f"signed ({result['signature']['format']}) -> {result['signature']['stored']}")
    return 0


def _release_notes(args: argparse.Namespace) -> dict:
    """Draft the version's section into the folder's CHANGELOG.md before it is packed, so the
    published package carries it; a section the author already wrote is left as it is."""
    from pathlib import Path

    from rigging.errors import UsageError
    from rigging.release_notes import add_to_changelog, draft

    root = Path(args.source)
    if str(args.source).startswith("oci:") or not root.is_dir():
        raise UsageError(f"--release-notes: {args.source} is not a package folder (a packed layout has no git history)")
    notes = draft(root)
    written = add_to_changelog(root, notes)
    changelog = root / "CHANGELOG.md"
    if not args.quiet:
        said = f"added {notes.heading!r} to {changelog}"
        if not written:
            said = f"{changelog} already has a section for {notes.version}; left as it is"
        print(f"rigging: note: {said}", file=sys.stderr)
    return {"changelog": str(changelog), "written": written, "since": notes.since, "commits": len(notes.commits)}


def _sign(args: argparse.Namespace, result: dict, key: object) -> dict:
    from rigging.layout_registry import client_for
    from rigging.signing.signer import registry_ref, sign_keyed, sign_keyless

    # where it was published (a registry repository, or the layout in an oci: store)
    ref = registry_ref(f"{result['target']}@{result['digest']}")
    with client_for(ref.host, plain_http=args.plain_http, ca_file=args.ca_file) as client:
        if args.keyless:
            return sign_keyless(client, ref, identity_token=args.identity_token)
        return sign_keyed(client, ref, key, args.format)  # type: ignore[arg-type]
