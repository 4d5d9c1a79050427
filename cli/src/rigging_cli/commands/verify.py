from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "ref",
        metavar="REF",
        help="REGISTRY/NS/NAME:TAG, @sha256:… or @RANGE, oci:FOLDER:TAG, or NS/NAME (in a project: the locked version)",
    )
    parser.add_argument("--key", action="append", default=[], metavar="cosign.pub", help="trusted public key")
    parser.add_argument("--certificate-identity", help="signer identity (email, URI) for keyless signatures")
    parser.add_argument("--certificate-identity-regexp", help="signer identity as a regular expression")
    parser.add_argument("--certificate-oidc-issuer", help="OIDC issuer of the signer's identity")
    parser.add_argument("--offline", action="store_true", help="use the trusted root shipped with sigstore-python")
    parser.add_argument("--staging", action="store_true", help="trust Sigstore's staging instance")
    parser.add_argument("--trusted-root", metavar="FILE", help="trusted root of a private Sigstore")
    parser.add_argument("--plain-http", action="store_true", help="use HTTP for a non-loopback registry")
    parser.add_argument("--ca-file", metavar="PEM", help="CA bundle for the registry's TLS certificate")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def requirements_from(args: argparse.Namespace):  # noqa: ANN201 - Requirements
    from rigging.errors import UsageError
    from rigging.signing.verifier import Identity, Requirements

    identities = []
    if args.certificate_identity or args.certificate_identity_regexp:
        if not args.certificate_oidc_issuer:
            raise UsageError("--certificate-identity needs --certificate-oidc-issuer")
        identities.append(
            Identity(args.certificate_oidc_issuer, args.certificate_identity, args.certificate_identity_regexp)
        )
    return Requirements(
        keys=[Path(k) for k in args.key],
        identities=identities,
        staging=args.staging,
        offline=args.offline,
        trusted_root=Path(args.trusted_root) if args.trusted_root else None,
    )


def run(args: argparse.Namespace) -> int:
    from rigging.errors import RiggingError
    from rigging.layout_registry import client_for
    from rigging.signing.signer import registry_ref
    from rigging.signing.verifier import verify_reference

    from rigging_cli.project_args import package_ref

    ref = registry_ref(str(package_ref(args, args.ref, locked=True)))
    requirements = requirements_from(args)
    with client_for(ref.host, plain_http=args.plain_http, ca_file=args.ca_file) as client:
        digest, verified, problems = verify_reference(client, ref, requirements)
    if args.json:
        print(
            json.dumps(
                {
                    "reference": str(ref),
                    "digest": digest,
                    "verified": bool(verified),
                    "signatures": [v.__dict__ for v in verified],
                    "problems": problems,
                }
            )
        )
        return 0 if verified else 1
    if not verified:
        why = "; ".join(problems) if problems else "no signatures found (checked referrers and the .sig tag)"
        raise RiggingError(f"{ref} ({digest}): no valid signature: {why}")
    for v in verified:
        print(f"verified {digest}: signed by {v.signer} ({v.format})")
    return 0
