"""Full-text search over the latest version of each package.

PostgreSQL: a weighted tsvector (name A, keywords B, description C, README D) under a GIN index,
queried with websearch_to_tsquery whose every lexeme is turned into a prefix match. SQLite: FTS5
with bm25 weights in the same order. Both apply the same boosts for signed and downloaded
packages inside the query, so the database sorts and stops at LIMIT.

Search shows only what the viewer may see (store.visible, compiled into the query): a package
in a private namespace is never a hit for a viewer who may not read it.

A `signed` search finds every package with a signed version, showing its newest signed version:
one whose latest release is not (yet) signed is still there for a user who requires signatures.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from rigging_indexer.access import ANONYMOUS, Viewer
from rigging_indexer.store import registry_of_ref, visible_sql

SIGNED_BOOST = 1.5
MAX_QUERY_CHARS = 1000  # a search is a few words; the CLI refuses longer before sending
MAX_FILTER_CHARS = 128  # a namespace, keyword or target


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

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


_COLUMNS = "d.name, {version}, d.description, d.keywords, d.targets, d.signed, d.downloads, d.ref"
_SIGNED_VERSION = "COALESCE(d.signed_version, d.version) AS version"
_SCORE = (
    "{relevance} * (CASE WHEN d.signed THEN 1.5 ELSE 1.0 END) * (1.0 + ln(1.0 + CAST(d.downloads AS FLOAT)) / 10.0)"
)
# websearch syntax (quotes, -, or) kept; every lexeme becomes a prefix match ('word' -> 'word':*)
_PG_QUERY = (
    "(SELECT to_tsquery('simple', regexp_replace(websearch_to_tsquery('simple', :q)::text, "
    "'''([^'']+)''', '''\\1'':*', 'g')) AS tsq) q"
)


def _filters(
    pg: bool,
    namespace: str | None,
    keyword: str | None,
    signed: bool | None,
    target: str | None,
    params: dict[str, Any],
) -> str:
    clauses = ""
    if namespace:
        clauses += " AND d.namespace = :namespace"
        params["namespace"] = namespace
    if keyword:
        clauses += (
            " AND d.keywords::jsonb ? :keyword"
            if pg
            else " AND EXISTS (SELECT 1 FROM json_each(d.keywords) WHERE value = :keyword)"
        )
        params["keyword"] = keyword
    if target:  # a package that names no targets supports all of them
        clauses += (
            " AND (json_array_length(d.targets) = 0 OR d.targets::jsonb ? :target)"
            if pg
            else " AND (json_array_length(d.targets) = 0 OR EXISTS "
            "(SELECT 1 FROM json_each(d.targets) WHERE value = :target))"
        )
        params["target"] = target
    if signed:
        clauses += " AND d.signed_version IS NOT NULL"
    elif signed is not None:
        clauses += " AND d.signed_version IS NULL"
    return clauses


def search(
    session: Session,
    query: str,
    *,
    namespace: str | None = None,
    keyword: str | None = None,
    signed: bool | None = None,
    target: str | None = None,
    limit: int = 20,
    offset: int = 0,
    viewer: Viewer = ANONYMOUS,
) -> list[Hit]:
    params: dict[str, Any] = {"limit": limit, "offset": offset}
    pg = session.get_bind().dialect.name == "postgresql"
    filters = _filters(pg, namespace, keyword, signed, target, params)
    shown, shown_params = visible_sql(viewer, "d.namespace")
    filters += shown
    params.update(shown_params)
    order = "ORDER BY score DESC, d.name LIMIT :limit OFFSET :offset"
    terms = re.findall(r"\w+", query.lower())
    documents = "search_documents d"
    columns = _COLUMNS.format(version=_SIGNED_VERSION if signed else "d.version")
    # Assembled from constant fragments only; every value is a bound parameter.
    if not terms:
        score = _SCORE.format(relevance="1.0")
        sql = f"SELECT {columns}, {score} AS score FROM {documents} WHERE 1 = 1{filters} {order}"
    elif pg:
        params["q"] = query
        sql = (
            f"SELECT {columns}, {_SCORE.format(relevance='ts_rank(d.document, q.tsq)')} AS score "
            f"FROM {documents}, {_PG_QUERY} WHERE d.document @@ q.tsq{filters} {order}"
        )
    else:
        params["q"] = " AND ".join(f'"{term}"*' for term in terms)
        relevance = "(-bm25(document_text, 10.0, 5.0, 2.0, 1.0))"
        sql = (
            f"SELECT {columns}, {_SCORE.format(relevance=relevance)} AS score FROM document_text "
            "JOIN search_documents d ON d.package_id = document_text.rowid "
            f"WHERE document_text MATCH :q{filters} {order}"
        )
    return [
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
        )
        for row in session.execute(text(sql), params)
    ]


def _json(value: Any) -> list:
    return json.loads(value) if isinstance(value, str) else list(value or [])
