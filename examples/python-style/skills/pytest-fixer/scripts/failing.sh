#!/bin/sh
# The failing tests only, one per line, with the first line of each error.
exec python -m pytest -q -rf --no-header -p no:cacheprovider "$@" 2>&1 | grep -E '^(FAILED|ERROR) '
