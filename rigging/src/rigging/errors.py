"""Errors that reach the user as one line (what, where, how to fix) and an exit code."""

from __future__ import annotations


class RiggingError(Exception):
    """A failure the user can act on; the CLI prints `str(self)` and exits with `exit_code`."""

    exit_code = 1


class UsageError(RiggingError):
    """The command was called wrongly (bad argument, missing folder)."""

    exit_code = 2


class IntegrityError(RiggingError):
    """Content did not match the digest or size that named it."""
