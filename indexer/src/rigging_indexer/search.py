"""Full-text search over the latest version of each package.

PostgreSQL: a weighted tsvector (name A, keywords B, description C, README D) under a GIN index,
queried with websearch_to_tsquery whose every lexeme is turned into a prefix match. SQLite: FTS5
with bm25 weights in the same order. Both apply the same boosts for signed and downloaded
packages inside the query, so the database sorts and stops at LIMIT.

Search shows only what the viewer may see (store.visible, compiled into the query): a package
in a private namespace is never a hit for a viewer who may not read it. `count` counts what
`search` pages through, from the same FROM and WHERE (`_matching`), so the two never disagree.

A `signed` search finds every package with a signed version, showing its newest signed version:
one whose latest release is not (yet) signed is still there for a user who requires signatures.

Facets: what the latest version holds (`kinds`, written with the document) and whether the
package comes from a verified publisher, one whose namespace is claimed on this index (read from
`namespaces` as the query runs, so a claim shows at once).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, get_args

from sqlalchemy import DateTime, text
from sqlalchemy.orm import Session

from rigging_indexer.access import ANONYMOUS, Viewer
from rigging_indexer.store import registry_of_ref, visible_sql

SIGNED_BOOST = 1.5
MAX_QUERY_CHARS = 1000  # a search is a few words; the CLI refuses longer before sending
MAX_FILTER_CHARS = 128  # a namespace, keyword or target
Kind = Literal["skills", "rules", "workflows", "docs"]  # what a package may hold: the kinds facet
Sort = Literal["relevance", "downloads", "updated"]
KINDS: tuple[str, ...] = get_args(Kind)
SORTS: tuple[str, ...] = get_args(Sort)


@dataclass
class Hit:
    name: str
    version: str
    description: str
    keywords: list[str]
    targets: list[str]
    signed: bool
    downloads: int
    score: float
    ref: str  # where it lives: REGISTRY/NAMESPACE/NAME or oci:PATH, as `rigging pull` takes it
    registry: str = ""  # the registry (host[:port]) or oci: folder it comes from
    namespace: str = ""
    kinds: list[str] = field(default_factory=list)  # of KINDS, what the latest version holds
    verified: bool = False  # from a verified publisher: its namespace is claimed on this index
    updated: str | None = None  # ISO 8601, UTC: when the index first saw the latest version

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


_COLUMNS = (
    "d.name, {version}, d.description, d.keywords, d.targets, d.signed, d.downloads, d.ref, d.namespace, "
    "d.kinds, d.updated"
)
_SIGNED_VERSION = "COALESCE(d.signed_version, d.version) AS version"
_SCORE = (
    "{relevance} * (CASE WHEN d.signed THEN 1.5 ELSE 1.0 END) * (1.0 + ln(1.0 + CAST(d.downloads AS FLOAT)) / 10.0)"
)
# A claimed namespace, looked up as the query runs (namespaces.name is unique, so indexed): a
# claim or its release changes no document, and bumps the result cache's generation (0005).
_VERIFIED = "EXISTS (SELECT 1 FROM namespaces n WHERE n.name = d.namespace)"
# websearch syntax (quotes, -, or) kept; every lexeme becomes a prefix match ('word' -> 'word':*)
_PG_QUERY = (
    "(SELECT to_tsquery('simple', regexp_replace(websearch_to_tsquery('simple', :q)::text, "
    "'''([^'']+)''', '''\\1'':*', 'g')) AS tsq) q"
)
# Each ends in the package id: two sources may hold the same name, and pages must not overlap.
_ORDER = {
    "relevance": "score DESC, d.name, d.package_id",
    "downloads": "d.downloads DESC, d.name, d.package_id",
    "updated": "d.updated DESC NULLS LAST, d.name, d.package_id",
}
_TYPES = {"updated": DateTime(timezone=True)}  # read as the column's type: SQLite would give text


@dataclass
class _Matching:
    """The packages a search matches as SQL, FROM and WHERE, for both search and count."""

    source: str
    where: str
    relevance: str  # the text match's score (1.0 without words)
    params: dict[str, Any]


_TEXT_INDEX_PREFERRED = "rigging.text_index_preferred"  # Session.info: the transaction it was set in


def _prefer_text_index(session: Session) -> None:
    """For the rest of this transaction, match words through the GIN index. The planner does not
    cost reading README-sized tsvectors out of TOAST, so for a common word it scans every
    document instead: on 20,000 packages with 4 KB READMEs, 66 ms against 17 ms through the index
    (bench/portal.py's index, after ANALYZE). JIT goes too: the penalty that steers the planner
    off the scan would otherwise make the plan look worth compiling (270 ms more)."""
    transaction = session.get_transaction()
    if transaction is not None and session.info.get(_TEXT_INDEX_PREFERRED) is transaction:
        return  # a page's search and its count share a transaction: once is enough
    # one round trip: set_config(..., true) is SET LOCAL
    session.execute(text("SELECT set_config('enable_seqscan', 'off', true), set_config('jit', 'off', true)"))
    session.info[_TEXT_INDEX_PREFERRED] = session.get_transaction()


def _matching(
    session: Session,
    query: str,
    *,
    namespace: str | None,
    keyword: str | None,
    signed: bool | None,
    target: str | None,
    kinds: tuple[str, ...],
    verified: bool | None,
    viewer: Viewer,
) -> _Matching:
    """The text match, the filters and what the viewer may see (store.visible, compiled), from
    constant fragments only: every value is a bound parameter."""
    params: dict[str, Any] = {}
    pg = session.get_bind().dialect.name == "postgresql"
    terms = re.findall(r"\w+", query.lower())
    if not terms:
        source, where, relevance = "search_documents d", "1 = 1", "1.0"
    elif pg:
        params["q"] = query
        source, where = f"search_documents d, {_PG_QUERY}", "d.document @@ q.tsq"
        relevance = "ts_rank(d.document, q.tsq)"
        _prefer_text_index(session)
    else:
        params["q"] = " AND ".join(f'"{term}"*' for term in terms)
        source = "document_text JOIN search_documents d ON d.package_id = document_text.rowid"
        where, relevance = "document_text MATCH :q", "(-bm25(document_text, 10.0, 5.0, 2.0, 1.0))"
    if namespace:
        where += " AND d.namespace = :namespace"
        params["namespace"] = namespace
    if keyword:
        where += f" AND {_holds(pg, 'keywords', 'keyword')}"
        params["keyword"] = keyword
    if target:  # a package that names no targets supports all of them
        where += f" AND (json_array_length(d.targets) = 0 OR {_holds(pg, 'targets', 'target')})"
        params["target"] = target
    for kind in kinds:  # each one of KINDS, so the parameter names are constants as well
        where += f" AND {_holds(pg, 'kinds', 'kind_' + kind)}"
        params["kind_" + kind] = kind
    if signed:
        where += " AND d.signed_version IS NOT NULL"
    elif signed is not None:
        where += " AND d.signed_version IS NULL"
    if verified:
        where += f" AND {_VERIFIED}"
    elif verified is not None:
        where += f" AND NOT {_VERIFIED}"
    shown, shown_params = visible_sql(viewer, "d.namespace")
    params.update(shown_params)
    return _Matching(source, where + shown, relevance, params)


def _holds(pg: bool, column: str, param: str) -> str:
    """The document's JSON list `column` holds the value bound as `param`."""
    if pg:
        return f"d.{column}::jsonb ? :{param}"
    return f"EXISTS (SELECT 1 FROM json_each(d.{column}) WHERE value = :{param})"


def _kinds(kind: str | Iterable[str] | None) -> tuple[str, ...] | None:
    """The kinds asked for, each once, in KINDS order; None when one is no kind at all, which no
    package holds (so nothing is asked of the database)."""
    wanted = {kind} if isinstance(kind, str) else set(kind or ())
    if not wanted <= set(KINDS):
        return None
    return tuple(k for k in KINDS if k in wanted)


_ASKED = frozenset(
    {"namespace", "keyword", "signed", "target", "kind", "verified", "sort", "limit", "offset", "viewer"}
)


def search(
    session: Session,
    query: str,
    *,
    namespace: str | None = None,
    keyword: str | None = None,
    signed: bool | None = None,
    target: str | None = None,
    kind: str | Iterable[str] | None = None,
    verified: bool | None = None,
    sort: str = "relevance",
    limit: int = 20,
    offset: int = 0,
    viewer: Viewer = ANONYMOUS,
) -> list[Hit]:
    """A page of the packages `query` finds that this viewer may see. `kind`: those holding each
    of these KINDS; `verified`: only those from a claimed namespace (True) or an unclaimed one
    (False); `sort`: one of SORTS (relevance: the score, best first; downloads: most first;
    updated: most recently indexed latest version first), else ValueError."""
    asked = {
        "namespace": namespace,
        "keyword": keyword,
        "signed": signed,
        "target": target,
        "kind": kind,
        "verified": verified,
        "sort": sort,
        "limit": limit,
        "offset": offset,
        "viewer": viewer,
    }
    return _search(session, query, asked, with_total=False)[0]


def search_counted(session: Session, query: str, **filters: Any) -> tuple[list[Hit], int | None]:
    """`search`'s page, and how many packages match in all when that came with it (a query with
    words, and a page that is not past the end); None when `count` should be asked."""
    unknown = set(filters) - _ASKED
    if unknown:
        raise TypeError(f"search_counted() got unexpected arguments: {', '.join(sorted(unknown))}")
    return _search(session, query, filters, with_total=True)


def _search(session: Session, query: str, asked: dict[str, Any], *, with_total: bool) -> tuple[list[Hit], int | None]:
    sort, signed = asked.get("sort", "relevance"), asked.get("signed")
    if sort not in _ORDER:
        raise ValueError(f"sort must be one of {', '.join(SORTS)}, not {sort!r}")
    kinds = _kinds(asked.get("kind"))
    if kinds is None:
        return [], 0
    matching = _matching(
        session,
        query,
        namespace=asked.get("namespace"),
        keyword=asked.get("keyword"),
        signed=signed,
        target=asked.get("target"),
        kinds=kinds,
        verified=asked.get("verified"),
        viewer=asked.get("viewer", ANONYMOUS),
    )
    columns = _COLUMNS.format(version=_SIGNED_VERSION if signed else "d.version")
    score = _SCORE.format(relevance=matching.relevance)
    # Assembled from constant fragments only; every value is a bound parameter.
    # Ranking by relevance reads every match, so counting them there is nearly free: a search
    # page's queries took 6.2 ms at the median instead of 9.0, side by side on bench/portal.py's
    # index, the slowest tenth unchanged. Sorted by downloads or date, or without words, the plan
    # may stop at the page, and a window there made the slowest tenth three times slower than
    # count's capped count. SQLite's bm25() takes no window beside it.
    pg = session.get_bind().dialect.name == "postgresql"
    counting = with_total and sort == "relevance" and matching.relevance != "1.0" and pg
    total_column = ", count(*) OVER () AS total" if counting else ""
    sql = (
        f"SELECT {columns}, {_VERIFIED} AS verified, {score} AS score{total_column} FROM {matching.source} "
        f"WHERE {matching.where} ORDER BY {_ORDER[sort]} LIMIT :limit OFFSET :offset"
    )
    params = {**matching.params, "limit": asked.get("limit", 20), "offset": asked.get("offset", 0)}
    rows = session.execute(text(sql).columns(**_TYPES), params).all()
    hits = [
        Hit(
            row.name,
            row.version,
            row.description,
            _json(row.keywords),
            _json(row.targets),
            bool(row.signed) or bool(signed),
            int(row.downloads),
            float(row.score),
            row.ref or "",
            registry_of_ref(row.ref or "", row.name),
            row.namespace,
            _json(row.kinds),
            bool(row.verified),
            _iso(row.updated),
        )
        for row in rows
    ]
    return hits, (int(rows[0].total) if counting and rows else None)


def count(
    session: Session,
    query: str,
    *,
    namespace: str | None = None,
    keyword: str | None = None,
    signed: bool | None = None,
    target: str | None = None,
    kind: str | Iterable[str] | None = None,
    verified: bool | None = None,
    viewer: Viewer = ANONYMOUS,
    at_most: int | None = None,
) -> int:
    """How many packages `search` with the same arguments finds, over all its pages; counting
    stops at `at_most` when given (a page that says "1,000+" need not count every match)."""
    kinds = _kinds(kind)
    if kinds is None:
        return 0
    matching = _matching(
        session,
        query,
        namespace=namespace,
        keyword=keyword,
        signed=signed,
        target=target,
        kinds=kinds,
        verified=verified,
        viewer=viewer,
    )
    if at_most is None:
        sql = f"SELECT count(*) FROM {matching.source} WHERE {matching.where}"
        return int(session.execute(text(sql), matching.params).scalar_one())
    sql = f"SELECT count(*) FROM (SELECT 1 FROM {matching.source} WHERE {matching.where} LIMIT :at_most) found"
    return int(session.execute(text(sql), {**matching.params, "at_most": at_most}).scalar_one())


def _json(value: Any) -> list:
    return json.loads(value) if isinstance(value, str) else list(value or [])


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)  # SQLite: naive, UTC
    return moment.isoformat(timespec="seconds")
