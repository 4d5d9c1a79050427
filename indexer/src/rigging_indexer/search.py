"""Full-text search over the latest version of each package.

PostgreSQL: a weighted tsvector (name A, keywords B, description C, README D) under a GIN index,
queried with websearch_to_tsquery whose every lexeme is turned into a prefix match. SQLite: FTS5
with bm25 weights in the same order. Both then apply the same boosts for signed and downloaded
packages, so ranking does not depend on the database.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

CANDIDATES = 500
SIGNED_BOOST = 1.5


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

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def _boost(relevance: float, signed: bool, downloads: int) -> float:
    return relevance * (SIGNED_BOOST if signed else 1.0) * (1.0 + math.log1p(max(downloads, 0)) / 10)


_COLUMNS = "p.name, v.version, v.description, v.keywords, v.targets, v.signed_by, p.downloads"
_VISIBLE = "p.latest_version_id = v.id AND v.quarantined = :false AND v.deleted = :false"


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
) -> list[Hit]:
    params: dict[str, Any] = {"false": False, "limit": CANDIDATES}
    filters = ""
    if namespace:
        filters += " AND p.namespace = :namespace"
        params["namespace"] = namespace
    dialect = session.get_bind().dialect.name
    terms = re.findall(r"\w+", query.lower())
    # The SQL below is assembled from constant fragments only; every value is a bound parameter.
    if not terms:
        sql = f"SELECT {_COLUMNS}, 1.0 AS relevance FROM versions v JOIN packages p ON {_VISIBLE}{filters} LIMIT :limit"
    elif dialect == "postgresql":
        params["q"] = query
        sql = (
            f"SELECT {_COLUMNS}, ts_rank(v.search, q.tsq) AS relevance "
            "FROM versions v JOIN packages p ON " + _VISIBLE + ", "
            "(SELECT to_tsquery('simple', regexp_replace(websearch_to_tsquery('simple', :q)::text, "
            "'''([^'']+)''', '''\\1'':*', 'g')) AS tsq) q "
            f"WHERE v.search @@ q.tsq{filters} ORDER BY relevance DESC LIMIT :limit"
        )
    else:
        params["q"] = " AND ".join(f'"{term}"*' for term in terms)
        sql = (
            f"SELECT {_COLUMNS}, -bm25(version_search, 10.0, 5.0, 2.0, 1.0) AS relevance "
            "FROM version_search JOIN versions v ON v.id = version_search.rowid JOIN packages p ON "
            + _VISIBLE
            + f" WHERE version_search MATCH :q{filters} ORDER BY relevance DESC LIMIT :limit"
        )
    hits = []
    for row in session.execute(text(sql), params):
        keywords, targets, signed_by = _json(row.keywords), _json(row.targets), _json(row.signed_by)
        if keyword and keyword not in keywords:
            continue
        if target and targets and target not in targets:
            continue
        is_signed = bool(signed_by)
        if signed is not None and is_signed != signed:
            continue
        hits.append(
            Hit(
                row.name,
                row.version,
                row.description,
                keywords,
                targets,
                is_signed,
                int(row.downloads),
                _boost(float(row.relevance), is_signed, int(row.downloads)),
            )
        )
    hits.sort(key=lambda h: (-h.score, h.name))
    return hits[offset : offset + limit]


def _json(value: Any) -> list:
    if isinstance(value, str):
        import json

        return json.loads(value)
    return list(value or [])
