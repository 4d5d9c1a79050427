#!/usr/bin/env bash
# The demo: scaffold a package, validate it, pack it reproducibly into an OCI layout and, where
# Debian's registry and skopeo are installed, push it into a throw-away local registry.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
rigging=.venv/bin/rigging
out=demo-out
rm -rf "$out" && mkdir -p "$out"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

step "$rigging" new "$out/python-style" --name acme/python-style --version 1.0.0
step "$rigging" validate "$out/python-style"
printf '\n\033[1m$ %s\033[0m\n' "$rigging pack $out/python-style -o $out/layout --json"
packed=$("$rigging" pack "$out/python-style" -o "$out/layout" --json)
echo "$packed"
digest=$(echo "$packed" | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["digest"])')

if command -v docker-registry >/dev/null && command -v skopeo >/dev/null; then
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
  for _ in $(seq 50); do .venv/bin/python -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=1)" "http://127.0.0.1:$port/v2/" 2>/dev/null && break; sleep 0.1; done
  step skopeo copy --quiet --dest-tls-verify=false "oci:$out/layout:1.0.0" "docker://127.0.0.1:$port/acme/python-style:1.0.0"
  pushed=$(skopeo inspect --tls-verify=false --raw "docker://127.0.0.1:$port/acme/python-style:1.0.0" | sha256sum | cut -d' ' -f1)
  echo "registry 127.0.0.1:$port holds acme/python-style:1.0.0 @ sha256:$pushed"
  [ "sha256:$pushed" = "$digest" ] || { echo "demo: registry digest differs from the packed one" >&2; exit 1; }
else
  echo "(install docker-registry and skopeo to see the push into a local registry)"
fi
printf '\ndigest: %s\n' "$digest"
