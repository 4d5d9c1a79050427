"""`rigging-portal`: the portal's command line."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from rigging_indexer.serving import serve_main


def main(argv: Sequence[str] | None = None) -> int:
    return serve_main("rigging-portal", "Rigging web portal", "rigging_portal.app:create_app", 8800, argv)


if __name__ == "__main__":
    sys.exit(main())
