#!/usr/bin/env bash
# The demo: scaffold a package, validate it, pack it reproducibly, publish it to a throw-away
# local registry (Debian's docker-registry; an OCI layout folder where that is not installed),
# then pull it back by digest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
rigging=.venv/bin/rigging
out=demo-out
rm -rf "$out" && mkdir -p "$out"
export RIGGING_CACHE_DIR="$PWD/$out/cache" DOCKER_CONFIG="$PWD/$out/docker"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

step "$rigging" new "$out/python-style" --name acme/python-style --version 1.0.0
step "$rigging" new "$out/python-style" --skill pytest-fixer
step "$rigging" validate "$out/python-style"
step "$rigging" pack "$out/python-style" -o "$out/layout"

if command -v docker-registry >/dev/null; then
  port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  mkdir -p "$out/registry"
  cat > "$out/registry/config.yml" <<YAML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $PWD/$out/registry/data}}
http: {addr: 127.0.0.1:$port}
YAML
  docker-registry serve "$out/registry/config.yml" >"$out/registry/log" 2>&1 &
  registry_pid=$!
  trap 'kill $registry_pid 2>/dev/null || true' EXIT
  for _ in $(seq 50); do
    .venv/bin/python -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=1)" \
      "http://127.0.0.1:$port/v2/" 2>/dev/null && break
    sleep 0.1
  done
  target="127.0.0.1:$port/acme/python-style"
else
  echo "(docker-registry is not installed: publishing into an OCI layout folder instead)"
  target="oci:$out/published"
fi

printf '\n\033[1m$ %s\033[0m\n' "$rigging publish $out/python-style $target --json"
published=$("$rigging" publish "$out/python-style" "$target" --json)
echo "$published"
digest=$(echo "$published" | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["digest"])')
if [ "${target#oci:}" = "$target" ]; then
  step "$rigging" pull "$target@$digest" -o "$out/pulled"
  if command -v skopeo >/dev/null; then
    echo "skopeo sees: $(skopeo inspect --tls-verify=false --raw "docker://$target:1.0.0" | sha256sum | cut -d' ' -f1)"
  fi
else
  step "$rigging" pull "$target:1.0.0" -o "$out/pulled"
fi
diff -r "$out/python-style" "$out/pulled" >/dev/null && echo "pulled files are identical to the source"

# The indexer (SQLite) crawls what was published, serves search, and install asks it for versions.
for example in examples/*/; do
  "$rigging" publish "$example" "${target%/acme/python-style}/$(.venv/bin/python -c 'import json,sys; print(json.load(open(sys.argv[1]))["name"])' "$example/rigging.json")" >/dev/null
done
indexer=.venv/bin/rigging-indexer
source_url="http://${target%/acme/python-style}"
[ "${target#oci:}" = "$target" ] || source_url="$target"
step "$indexer" crawl --once --database "sqlite:///$PWD/$out/index.db" --source "$source_url"
index_port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$indexer" serve --port "$index_port" --database "sqlite:///$PWD/$out/index.db" >"$out/indexer.log" 2>&1 &
indexer_pid=$!
trap 'kill ${registry_pid:-} $indexer_pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  .venv/bin/python -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=1)" \
    "http://127.0.0.1:$index_port/healthz" 2>/dev/null && break
  sleep 0.1
done
export RIGGING_INDEX_URL="http://127.0.0.1:$index_port"
step "$rigging" search python
if [ "${target#oci:}" = "$target" ]; then
  mkdir -p "$out/project"
  # No "targets": install writes for the agents the project already uses (here Cursor and Claude
  # Code), plus AGENTS.md, and says so.
  mkdir -p "$out/project/.cursor" "$out/project/.claude"
  echo "{\"registry\": \"${target%/acme/python-style}\"}" > "$out/project/rigging.json"
  step "$rigging" add acme/python-style -C "$out/project"
  step "$rigging" tree -C "$out/project"
  (cd "$out/project" && find . -type f -not -name rigging.lock | sort)
else
  echo "(install needs a registry: install docker-registry to see it)"
fi
# Rules a repository already has, for any agent, become a package.
mkdir -p "$out/legacy/.cursor/rules" "$out/legacy/.claude/commands"
printf -- '---\ndescription: SQL style\nglobs: **/*.sql\nalwaysApply: false\n---\n\nUse CTEs.\n' \
  > "$out/legacy/.cursor/rules/sql.mdc"
printf -- '---\nargument-hint: [issue]\ndescription: Fix an issue\n---\n\nFix issue $ARGUMENTS.\n' \
  > "$out/legacy/.claude/commands/fix.md"
step "$rigging" import "$out/legacy" -o "$out/imported" --name acme/team-rules
printf '\ndigest: %s\n' "$digest"
