"""Where a package lives: `[oci://]REGISTRY/NS/NAME[:TAG|@DIGEST]` or `oci:PATH[:TAG|@DIGEST]`."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rigging.digests import is_sha256_digest
from rigging.errors import UsageError

_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
_REPO_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_HOST = re.compile(r"^(?:\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+)(?::\d{1,5})?$")


class _Pinned:
    """What registry and layout references share: an optional tag and an optional digest."""

    tag: str | None
    digest: str | None

    @property
    def reference(self) -> str | None:
        """What to ask for: the digest when there is one, else the tag."""
        return self.digest or self.tag

    def _suffix(self) -> str:
        return (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")


@dataclass(frozen=True)
class RegistryRef(_Pinned):
    host: str  # host[:port], as the registry is addressed
    repository: str  # ns/name (may have more components)
    tag: str | None = None
    digest: str | None = None

    def with_reference(self, tag: str | None = None, digest: str | None = None) -> RegistryRef:
        return RegistryRef(self.host, self.repository, tag, digest)

    def __str__(self) -> str:
        return f"{self.host}/{self.repository}{self._suffix()}"


@dataclass(frozen=True)
class LayoutRef(_Pinned):
    path: str
    tag: str | None = None
    digest: str | None = None

    def __str__(self) -> str:
        return f"oci:{self.path}{self._suffix()}"


Ref = RegistryRef | LayoutRef


def _split_digest(text: str) -> tuple[str, str | None]:
    """(the rest, the digest after '@' or None)."""
    if "@" not in text:
        return text, None
    text, digest = text.rsplit("@", 1)
    if not is_sha256_digest(digest):
        raise UsageError(f"{digest!r} is not a sha256 digest (expected sha256: and 64 hex digits)")
    return text, digest


def _split_reference(text: str) -> tuple[str, str | None, str | None]:
    text, digest = _split_digest(text)
    tag = None
    last = text.rsplit("/", 1)[-1]
    if ":" in last:
        text, tag = text.rsplit(":", 1)
        if not _TAG.match(tag):
            raise UsageError(f"{tag!r} is not a valid tag (letters, digits, '.', '_', '-'; at most 128)")
    return text, tag, digest


def parse_ref(text: str) -> Ref:
    """Parse a package location as the user typed it; raise UsageError saying how to fix it."""
    if text.startswith("oci:") and not text.startswith("oci://"):
        rest, digest = _split_digest(text[4:])
        tag = None
        head, sep, maybe_tag = rest.rpartition(":")
        if sep and "/" not in maybe_tag and _TAG.match(maybe_tag) and head:
            rest, tag = head, maybe_tag
        if not rest:
            raise UsageError(f"{text!r}: give the layout folder, e.g. oci:./out:1.0.0")
        return LayoutRef(rest, tag, digest)
    body = text.removeprefix("oci://")
    if "://" in body:
        raise UsageError(f"{text!r}: only oci:// or a bare registry/name reference is understood")
    body, tag, digest = _split_reference(body)
    host, _, repository = body.partition("/")
    if not repository or not _HOST.match(host) or not ("." in host or ":" in host or host == "localhost"):
        raise UsageError(
            f"{text!r} does not name a registry; write REGISTRY/NAMESPACE/NAME, e.g. ghcr.io/acme/python-style"
        )
    for component in repository.split("/"):
        if not _REPO_COMPONENT.match(component):
            raise UsageError(f"{text!r}: repository part {component!r} must be lowercase a-z, 0-9, '.', '_', '-'")
    return RegistryRef(host, repository, tag, digest)


def is_loopback_host(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if not host.startswith("[") else host[1:].split("]")[0]
    return name in ("localhost", "::1") or name.startswith("127.")
