from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ref", metavar="REF", help="REGISTRY/NS/NAME:TAG or @sha256:…, or oci:LAYOUT:TAG")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--key", metavar="cosign.key", help="sign with this cosign private key")
    mode.add_argument("--keyless", action="store_true", help="sign with a Sigstore certificate for your OIDC identity")
    parser.add_argument(
        "--format",
        choices=("bundle", "legacy"),
        default="bundle",
        help="bundle (cosign v3, default) or legacy (the .sig tag); keyless is always bundle",
    )
    parser.add_argument(
        "--identity-token",
        metavar="JWT",
        help="OIDC token for keyless signing (else ambient CI credentials, else a browser login)",
    )
    parser.add_argument("--staging", action="store_true", help="use Sigstore's staging instance")
    parser.add_argument("--trust-config", metavar="FILE", help="client trust config of a private Sigstore")
    parser.add_argument("--plain-http", action="store_true", help="use HTTP for a non-loopback registry")
    parser.add_argument("--ca-file", metavar="PEM", help="CA bundle for the registry's TLS certificate")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    from rigging.layout_registry import client_for
    from rigging.signing.signer import registry_ref, sign_keyed, sign_keyless

    ref = registry_ref(args.ref)
    with client_for(ref.host, plain_http=args.plain_http, ca_file=args.ca_file) as client:
        if args.keyless:
            result = sign_keyless(
                client,
                ref,
                identity_token=args.identity_token,
                staging=args.staging,
                trust_config=Path(args.trust_config) if args.trust_config else None,
            )
        else:
            from rigging.signing.keys import load_private_key

            from rigging_cli.passwords import password

            key = load_private_key(Path(args.key), password())
            result = sign_keyed(client, ref, key, args.format)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"signed {result['signed']} ({result['format']}) -> stored as {result['stored']}")
    return 0
