"""Size limits and per-agent character budgets. Packing, validation and unpacking share these."""

MAX_FILE_BYTES = 512 * 1024
MAX_TOTAL_BYTES = 8 * 1024 * 1024
MAX_FILES = 1000
MAX_PATH_LENGTH = 200

# docs/ is read by agents on demand; past this the bundle stops being useful context.
DOCS_SOFT_LIMIT_CHARS = 12_000

# Windsurf: each rule or workflow file is cut at 12,000 characters, and the rules that are
# active together share one 12,000-character budget.
WINDSURF_FILE_LIMIT_CHARS = 12_000
WINDSURF_TOTAL_LIMIT_CHARS = 12_000
# GitHub Copilot code review reads only the first 4,000 characters of an instructions file.
COPILOT_FILE_LIMIT_CHARS = 4_000
