#!/bin/sh
# Starts CNCF distribution with config.yml beside this file, the indexer's webhook secret written
# into its notifications endpoint (distribution reads no secret from the environment there).
#
#   RIGGING_WEBHOOK_SECRET   the indexer's --webhook-secret / RIGGING_INDEXER_WEBHOOK_SECRET (required)
#   RIGGING_REGISTRY_CONFIG  the template (default: config.yml beside this script)
#   RIGGING_REGISTRY_BINARY  the registry program (default: registry, as in the registry:2 image)
# Every REGISTRY_* variable still overrides the file, as distribution documents.
set -eu
here=$(dirname "$0")
template=${RIGGING_REGISTRY_CONFIG:-$here/config.yml}
secret=${RIGGING_WEBHOOK_SECRET:?set RIGGING_WEBHOOK_SECRET to the indexer webhook secret}
case $secret in
  *[!A-Za-z0-9._~-]*)
    echo "registry: RIGGING_WEBHOOK_SECRET may hold only letters, digits and . _ ~ - (openssl rand -hex 32)" >&2
    exit 2
    ;;
esac
umask 077
config=${TMPDIR:-/tmp}/rigging-registry-config.yml
sed "s/@RIGGING_WEBHOOK_SECRET@/$secret/" "$template" > "$config"
exec "${RIGGING_REGISTRY_BINARY:-registry}" serve "$config"
