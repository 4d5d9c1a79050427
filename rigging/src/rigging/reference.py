"""Where a package lives, as a user writes it: one grammar and one error vocabulary for every command.

    NS/NAME[:TAG|@DIGEST|@RANGE]                              a name: the project's registry settings say where
    [oci://]REGISTRY[/PREFIX]/NS/NAME[:TAG|@DIGEST|@RANGE]    a full reference, as docker, helm and oras take it
    oci:PATH[:TAG|@DIGEST|@RANGE]                             an OCI image-layout folder

REGISTRY is told from a namespace as docker tells it: the first of three or more parts, holding a
'.' or a ':' or being `localhost`. After '@' comes a sha256 digest or an npm/Cargo version range.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from rigging.digests import is_sha256_digest
from rigging.errors import UsageError

if TYPE_CHECKING:
    from rigging.project import Project

_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
_REPO_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_HOST = re.compile(r"^(?:\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+)(?::\d{1,5})?$")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
GRAMMAR = "NAMESPACE/NAME, REGISTRY/NAMESPACE/NAME[:TAG|@sha256:…|@RANGE] or oci:FOLDER[:TAG]"


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


@dataclass(frozen=True)
class PackageSpec:
    """A package as a user named it: its name when the text says it, where it lives when the text
    says that, and which version (a tag, a digest or a range; none means the newest release)."""

    text: str
    name: str | None  # namespace/name; None for a layout folder whose path does not end in one
    ref: Ref | None  # None for a bare name: the project's registry settings say where
    tag: str | None = None
    digest: str | None = None
    range: str | None = None

    @property
    def registry(self) -> str | None:
        """The project `registry` value this reference implies for its namespace ("HOST[/PREFIX]" or
        "oci:FOLDER"), or None when the text names no location or no package name."""
        if self.ref is None or self.name is None:
            return None
        if isinstance(self.ref, LayoutRef):
            return f"oci:{posixpath.dirname(posixpath.dirname(self.ref.path.rstrip('/'))) or '.'}"
        prefix = self.ref.repository[: -len(self.name)].rstrip("/")
        return f"{self.ref.host}/{prefix}" if prefix else self.ref.host

    def at(self, ref: Ref) -> Ref:
        """`ref` (where the package lives) pinned to this spec's tag or digest."""
        return replace(ref, tag=self.tag, digest=self.digest)


def bad(text: str, why: str, fix: str) -> UsageError:
    """The one shape of a reference error: the text, what is wrong with it, what to write instead."""
    return UsageError(f"{text!r} {why}; {fix}")


def _is_host(part: str) -> bool:
    return bool(_HOST.match(part)) and ("." in part or ":" in part or part == "localhost" or part.startswith("["))


def _split_version(text: str, body: str, layout: bool = False) -> tuple[str, str | None, str | None, str | None]:
    """(body without its version part, tag, digest, range)."""
    tag = digest = wanted = None
    if "@" in body and "/" not in body.rsplit("@", 1)[1]:
        body, after = body.rsplit("@", 1)
        if ":" in after:  # ranges hold no ':', digests always do
            if not is_sha256_digest(after):
                why = f"has {after!r} after '@', which is not a sha256 digest"
                raise bad(text, why, "write @sha256: and 64 hex digits")
            digest = after
        else:
            from rigging.ranges import RangeError, parse_range

            try:
                parse_range(after)
            except RangeError as exc:
                raise bad(
                    text,
                    f"ends in @{after}, which is neither a digest nor a version range ({exc})",
                    "write @sha256:… or a range such as @^1.2 or @~1.2.3",
                ) from None
            wanted = after
    head, colon, maybe = body.rpartition(":")
    # A tag follows the last part; a colon in the first part of a registry reference is its port.
    if colon and head and "/" not in maybe and (layout or "/" in head):
        if not _TAG.match(maybe):
            raise bad(text, f"has the tag {maybe!r}", "a tag is letters, digits, '.', '_' and '-' (at most 128)")
        if digest or wanted:
            raise bad(text, "gives both a tag and an '@' part", "write one: :TAG, @sha256:… or @RANGE")
        body, tag = head, maybe
    return body, tag, digest, wanted


def _check_repository(text: str, parts: list[str]) -> None:
    for part in parts:
        if not _REPO_COMPONENT.match(part):
            lower = f", e.g. {part.lower()}" if _REPO_COMPONENT.match(part.lower()) else ""
            raise bad(
                text,
                f"has the repository part {part!r}, which is not lowercase a-z, 0-9 and single '.', '_', '__' or '-'",
                f"write it that way{lower}",
            )


def _name_of(text: str, parts: list[str]) -> str:
    from rigging.names import name_problem

    name = "/".join(parts[-2:])
    if (problem := name_problem(name)) is not None:
        raise bad(text, f"ends in the package name {name!r}, which {problem}", "a package is NAMESPACE/NAME")
    return name


def _layout(text: str) -> PackageSpec:
    path, tag, digest, wanted = _split_version(text, text[4:], layout=True)
    if not path:
        raise bad(text, "names no folder", "write oci:FOLDER[:TAG], e.g. oci:./out:1.0.0")
    parts = [p for p in path.replace("\\", "/").split("/") if p not in ("", ".")]
    name = "/".join(parts[-2:]) if len(parts) >= 2 and all(_REPO_COMPONENT.match(p) for p in parts[-2:]) else None
    return PackageSpec(text, name, LayoutRef(path, tag, digest), tag, digest, wanted)


def parse_spec(text: str, *, any_repository: bool = False) -> PackageSpec:
    """Parse a package as the user typed it; raise UsageError saying what to write instead.
    With `any_repository` (pull, publish, sign), REGISTRY/REPO of one part is taken too, without a name."""
    if not text.strip():
        raise UsageError(f"no package given; write {GRAMMAR}")
    if text.startswith("oci:") and not text.startswith("oci://"):
        return _layout(text)
    body = text
    scheme = _SCHEME.match(text)
    if scheme and scheme.group(1) != "oci":
        rest = text[scheme.end() :]
        raise bad(
            text,
            f"starts with {scheme.group(1)}://, which a package reference does not",
            f"write {rest} or oci://{rest} (HTTPS is used, plain HTTP for a loopback registry or with --plain-http)",
        )
    if scheme is not None:
        body = text[scheme.end() :]
    body, tag, digest, wanted = _split_version(text, body)
    parts = body.split("/")
    if scheme is not None and (len(parts) < (2 if any_repository else 3) or not _is_host(parts[0])):
        layout = text[scheme.end() :]
        raise bad(
            text,
            "does not name a registry after oci://",
            f"write oci://REGISTRY/NAMESPACE/NAME (e.g. oci://ghcr.io/acme/x), "
            f"or oci:{layout} for an OCI layout folder",
        )
    if any(not p for p in parts):
        raise bad(text, "has an empty part between '/'", f"write {GRAMMAR}")
    if len(parts) >= 3 or (len(parts) == 2 and _is_host(parts[0])):
        # A package name has one '/', so the first of three parts can only be a registry.
        if not _HOST.match(parts[0]):
            raise bad(
                text,
                f"begins with {parts[0]!r}, which is not a registry host",
                f"a package name is NAMESPACE/NAME; to say where it lives write HOST[:PORT]/{'/'.join(parts[-2:])}, "
                f"e.g. ghcr.io/{'/'.join(parts[-2:])}",
            )
        if len(parts) == 2 and any_repository:
            _check_repository(text, parts[1:])
            return PackageSpec(text, None, RegistryRef(parts[0], parts[1], tag, digest), tag, digest, wanted)
        if len(parts) == 2:
            raise bad(
                text,
                f"names the registry {parts[0]} but no namespace",
                f"write REGISTRY/NAMESPACE/NAME, e.g. {parts[0]}/NAMESPACE/{parts[1]}",
            )
        _check_repository(text, parts[1:])
        name = _name_of(text, parts[1:])
        return PackageSpec(text, name, RegistryRef(parts[0], "/".join(parts[1:]), tag, digest), tag, digest, wanted)
    if len(parts) == 1:
        what = f"names only the registry {parts[0]}" if _is_host(parts[0]) else "is not a package name"
        raise bad(text, what, f"write {GRAMMAR}, e.g. acme/python-style")
    _check_repository(text, parts)
    return PackageSpec(text, _name_of(text, parts), None, tag, digest, wanted)


def parse_ref(text: str) -> Ref:
    """A location with an optional tag or digest (publish, pull, sign): no bare names, no ranges."""
    spec = parse_spec(text, any_repository=True)
    if spec.ref is None:
        fix = f"write REGISTRY/{spec.name} (e.g. ghcr.io/{spec.name}) or oci:FOLDER"
        raise bad(text, "does not name a registry", fix)
    if spec.range:
        raise bad(text, f"asks for the range {spec.range}", "give a tag (:1.2.0) or a digest (@sha256:…) here")
    return spec.ref


def resolve_range(ref: Ref, wanted: str, *, plain_http: bool = False, ca_file: str | None = None) -> Ref:
    """`ref` pinned to the tag of the newest version `wanted` allows, read from its tag list."""
    from rigging.transfer import open_store

    with open_store(ref, plain_http=plain_http, ca_file=ca_file) as store:
        tags = store.tags()
    return replace(ref, tag=newest_allowed(tags, wanted, str(ref)), digest=None)


def newest_allowed(tags: list[str], wanted: str, where: str) -> str:
    """The tag of the newest version the range `wanted` allows, among `tags`."""
    from rigging.errors import RiggingError
    from rigging.ranges import parse_range
    from rigging.versions import tag_to_version

    allowed = parse_range(wanted)
    versions = sorted((v, t) for t in tags if (v := tag_to_version(t)) is not None)
    matching = [(v, t) for v, t in versions if allowed.allows(v)]
    if not matching:
        have = ", ".join(str(v) for v, _ in versions[-5:]) or "none"
        raise RiggingError(f"{where}: no version matches {wanted} (newest versions: {have})")
    return matching[-1][1]


def spec_location(spec: PackageSpec, project: Project | None) -> Ref:
    """Where `spec` lives, pinned to its tag or digest: the reference itself, or for a bare name
    the project's registry for its namespace."""
    if spec.ref is not None:
        return spec.ref
    assert spec.name is not None
    if project is None:
        raise bad(
            spec.text,
            "does not name a registry and no rigging.json here or above says where "
            f"{spec.name.split('/')[0]} packages live",
            f"write REGISTRY/{spec.name} (e.g. ghcr.io/{spec.name}) or run it in a project",
        )
    ref = project.location(spec.name)
    if isinstance(ref, RegistryRef) and ref.host.startswith("oci:"):  # an oci:DIR store: its NS/NAME layout
        folder = ref.host[4:]
        path = folder if folder.startswith("/") else str(project.root / folder)
        return LayoutRef(f"{path}/{ref.repository}", spec.tag, spec.digest)
    return spec.at(ref)


def is_loopback_host(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if not host.startswith("[") else host[1:].split("]")[0]
    return name in ("localhost", "::1") or name.startswith("127.")
