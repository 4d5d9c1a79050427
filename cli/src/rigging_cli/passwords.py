"""Key passwords as cosign takes them: COSIGN_PASSWORD (may be empty), else a prompt."""

from __future__ import annotations

import os
import sys


def password(confirm: bool = False) -> bytes:
    from rigging.errors import UsageError

    if "COSIGN_PASSWORD" in os.environ:
        return os.environ["COSIGN_PASSWORD"].encode()
    if not sys.stdin.isatty():
        raise UsageError("no terminal to ask for the key password; set COSIGN_PASSWORD")
    import getpass

    first = getpass.getpass("Password for the private key: ")
    if confirm and getpass.getpass("Again: ") != first:
        raise UsageError("the two passwords differ")
    return first.encode()
