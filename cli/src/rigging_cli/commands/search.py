from __future__ import annotations

import argparse
import json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("query", metavar="QUERY", nargs="?", default="", help="words; each matches as a prefix")
    parser.add_argument("--index", metavar="URL", help="indexer URL (default: RIGGING_INDEX_URL)")
    parser.add_argument("--namespace", help="only this namespace")
    parser.add_argument("--keyword", help="only packages with this keyword")
    parser.add_argument("--target", help="only packages for this agent (windsurf, cursor, …)")
    parser.add_argument("--signed", action="store_true", help="only signed packages")
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")


def run(args: argparse.Namespace) -> int:
    import os

    import httpx
    from rigging.errors import RiggingError, UsageError

    index = args.index or os.environ.get("RIGGING_INDEX_URL")
    if not index:
        raise UsageError("no indexer: pass --index URL or set RIGGING_INDEX_URL")
    params = {"q": args.query, "limit": args.limit}
    params.update(
        {k: v for k, v in (("namespace", args.namespace), ("keyword", args.keyword), ("target", args.target)) if v}
    )
    if args.signed:
        params["signed"] = "true"
    try:
        response = httpx.get(f"{index.rstrip('/')}/api/v1/packages", params=params, timeout=10)
    except httpx.HTTPError as exc:
        raise RiggingError(f"indexer {index} unreachable ({type(exc).__name__})") from None
    if response.status_code != 200:
        raise RiggingError(f"indexer {index} answered HTTP {response.status_code}")
    results = response.json().get("results", [])
    if args.json:
        print(json.dumps(results))
        return 0
    if not results:
        print("no packages found")
        return 0
    width = max(len(r["name"]) for r in results)
    for r in results:
        mark = " ✓signed" if r.get("signed") else ""
        print(f"{r['name']:<{width}}  {r['version']:<12} {r.get('downloads', 0):>6}↓{mark}  {r.get('description', '')}")
    return 0
