from __future__ import annotations

import argparse
import json
from typing import Any

from rigging_cli.index_args import add_index_argument

# What the indexer accepts (longer is refused there with 422). A URL past a few KiB is refused by
# servers and proxies before any application sees it, so the CLI never sends one.
MAX_QUERY_CHARS = 1000
MAX_FILTER_CHARS = 128


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("query", metavar="QUERY", nargs="?", default="", help="words; each matches as a prefix")
    add_index_argument(parser)
    parser.add_argument("--namespace", help="only this namespace")
    parser.add_argument("--keyword", help="only packages with this keyword")
    parser.add_argument("--target", help="only packages for this agent (windsurf, cursor, …)")
    parser.add_argument("--signed", action="store_true", help="only packages with a signed version (the newest shown)")
    parser.add_argument("--limit", type=int, default=20, help="at most this many results (1-100)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")


def run(args: argparse.Namespace) -> int:
    from rigging.errors import UsageError

    from rigging_cli.index_args import index_url

    index = index_url(args.index)
    if len(args.query) > MAX_QUERY_CHARS:
        raise UsageError(
            f"the search query is {len(args.query):,} characters long; the index takes at most {MAX_QUERY_CHARS:,}: "
            "search for a few telling words"
        )
    params: dict[str, Any] = {"q": args.query, "limit": args.limit}
    for option in ("namespace", "keyword", "target"):
        value = getattr(args, option)
        if value and len(value) > MAX_FILTER_CHARS:
            raise UsageError(f"--{option} is {len(value):,} characters long; at most {MAX_FILTER_CHARS} make sense")
        if value:
            params[option] = value
    if args.signed:
        params["signed"] = "true"
    results = _search(index, params)
    if args.json:
        print(json.dumps(results))
        return 0
    if not results:
        print("no packages found")
        return 0
    name_width = max(len(r["name"]) for r in results)
    version_width = max(len(r["version"]) for r in results)
    ref_width = max(len(r.get("ref") or "") for r in results)
    for r in results:
        mark = " ✓signed" if r.get("signed") else " " * 8
        print(
            f"{r['name']:<{name_width}}  {r['version']:<{version_width}}  {r.get('ref') or '':<{ref_width}}  "
            f"{r.get('downloads', 0):>6}↓{mark}  {r.get('description', '')}".rstrip()
        )
    return 0


def _search(index: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    from rigging.errors import RiggingError

    from rigging_cli.index_args import index_get

    body = index_get(index, "/api/v1/packages", params)
    results = body.get("results") if isinstance(body, dict) else None
    if not isinstance(results, list):
        raise RiggingError(f"indexer {index} answered with no search results: is it a Rigging indexer?")
    return results
