"""Media types and annotation keys of a Rigging package (see oci-media-types/SPEC.md)."""

ARTIFACT_TYPE = "application/vnd.rigging.package.v1"
CONFIG = "application/vnd.rigging.package.config.v1+json"
# pack embeds a config up to this size in its descriptor's `data` (image-spec 1.1), saving readers a GET
EMBEDDED_CONFIG_MAX = 16 * 1024
CONTENT_LAYER = "application/vnd.rigging.package.content.v1.tar+gzip"
DOCS_LAYER = "application/vnd.rigging.package.docs.v1.tar+gzip"

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_LAYOUT_VERSION = "1.0.0"

ANN_TITLE = "org.opencontainers.image.title"
ANN_DESCRIPTION = "org.opencontainers.image.description"
ANN_VERSION = "org.opencontainers.image.version"
ANN_SOURCE = "org.opencontainers.image.source"
ANN_REVISION = "org.opencontainers.image.revision"
ANN_LICENSES = "org.opencontainers.image.licenses"
ANN_CREATED = "org.opencontainers.image.created"
ANN_REF_NAME = "org.opencontainers.image.ref.name"
# `rigging publish --allow-blocked REASON`: the reason, and the blocking rule ids it overrode
ANN_SCAN_OVERRIDE = "dev.rigging.scan.override"
ANN_SCAN_FINDINGS = "dev.rigging.scan.findings"

# ORAS reads these to unpack a directory layer: the digest of the uncompressed tar and a flag.
ANN_ORAS_CONTENT_DIGEST = "io.deis.oras.content.digest"
ANN_ORAS_UNPACK = "io.deis.oras.content.unpack"
