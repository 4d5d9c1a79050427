"""`rigging-indexer`: the indexer's command line."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from rigging_indexer.serving import serve_main


def main(argv: Sequence[str] | None = None) -> int:
    return serve_main("rigging-indexer", "Rigging registry indexer", "rigging_indexer.app:create_app", 8700, argv)


if __name__ == "__main__":
    sys.exit(main())
