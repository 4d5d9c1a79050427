"""What a version holds, read from its registry for the tab pages: the index keeps the file list
and the README, not the files (DESIGN §1), so the Skills, Rules, Workflows, Docs and agent-preview
tabs fetch the content and docs layers, digest-verified, and unpack them with the same checks as
`rigging pull` (rigging.archive, rigging.agents.content). The most recent ones stay in memory,
keyed by manifest digest, which names the same bytes for ever."""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from rigging.agents.content import PackageContent
from rigging.errors import RiggingError


@dataclass
class Contents:
    name: str
    version: str
    files: dict[str, bytes] = field(default_factory=dict)  # content layer: path -> bytes
    docs: list[tuple[str, bytes]] = field(default_factory=list)  # docs layer, in reading order
    package: PackageContent | None = None  # rules, workflows and skills as install reads them
    problem: str | None = None  # why the content could not be read (shown on the page)

    def text(self, path: str) -> str | None:
        data = self.files.get(path)
        return None if data is None else data.decode("utf-8", "replace")


class ContentStore:
    def __init__(self, ca_file: str | None, *, entries: int = 64) -> None:
        self.ca_file = ca_file
        self.entries = entries
        self._cache: OrderedDict[str, Contents] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}

    def get(self, source_url: str, repository: str, manifest_digest: str, name: str, version: str) -> Contents:
        with self._lock:
            found = self._cache.get(manifest_digest)
            if found is not None:
                self._cache.move_to_end(manifest_digest)
                return found
            loading = self._loading.setdefault(manifest_digest, threading.Lock())
        with loading:  # one fetch per manifest however many pages ask for it at once
            with self._lock:
                found = self._cache.get(manifest_digest)
            if found is None:
                found = read_contents(source_url, repository, manifest_digest, name, version, self.ca_file)
                with self._lock:
                    self._cache[manifest_digest] = found
                    while len(self._cache) > self.entries:
                        self._cache.popitem(last=False)
        with self._lock:
            self._loading.pop(manifest_digest, None)
        return found


def read_contents(
    source_url: str, repository: str, manifest_digest: str, name: str, version: str, ca_file: str | None
) -> Contents:
    """The version's layers from its registry; a registry that cannot be reached, or a layer that
    fails its checks, is a `problem` on the page rather than an error page."""
    from rigging.archive import iter_layer
    from rigging.docs_bundle import DOCS_PREFIX, reading_order
    from rigging.transfer import parse_package_manifest
    from rigging_indexer.scanning import open_client

    found = Contents(name, version)
    client = open_client(source_url, ca_file)
    try:
        data, _, actual = client.get_manifest(repository, manifest_digest)
        label = f"{repository}@{actual}"
        parsed = parse_package_manifest(data, label)
        content = client.fetch_blob(repository, parsed.content_layer.digest, parsed.content_layer.size)
        title = parsed.content_title(name)
        found.files = {
            rel: body
            for rel, body in iter_layer(content, title, label=f"{label} content layer")
            if not rel.endswith("/")
        }
        try:
            found.package = _package(content, name, version)
        except RiggingError as exc:  # the files still show; install would refuse the package, and says why
            found.problem = str(exc)
        if parsed.docs_layer is not None:
            docs = client.fetch_blob(repository, parsed.docs_layer.digest, parsed.docs_layer.size)
            found.docs = sorted(
                (
                    (rel, body)
                    for rel, body in iter_layer(docs, DOCS_PREFIX, docs=True, label=f"{label} docs layer")
                    if not rel.endswith("/")
                ),
                key=lambda item: reading_order(item[0]),
            )
    except (RiggingError, OSError) as exc:
        found.problem = str(exc)
    finally:
        client.close()
    return found


def _package(content: bytes, name: str, version: str) -> PackageContent | None:
    from rigging.agents.content import read_content

    # read_content takes the layer as a file, as install has it in the blob cache
    return read_content(io.BytesIO(content), name, version)  # type: ignore[arg-type]


@dataclass
class AgentFile:
    path: str
    text: str
    executable: bool = False
    section: bool = False  # a managed section of a shared file (CLAUDE.md, AGENTS.md…), not the whole file


def agent_files(package: PackageContent, target: str) -> tuple[list[AgentFile], list[str]]:
    """The files `rigging install` writes for `target` from this package alone, and its warnings:
    the very renderers install runs, into a project that has nothing else."""
    from rigging.agents.render import render

    rendered = render([package], [target], {}, Path("/nonexistent-rigging-project"), {})
    files = [
        AgentFile(path, out.data.decode("utf-8", "replace"), out.executable) for path, out in rendered.files.items()
    ]
    files += [AgentFile(path, text, section=True) for path, text in rendered.sections.items()]
    return sorted(files, key=lambda f: f.path), list(rendered.warnings)
