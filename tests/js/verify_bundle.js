// Verify a Sigstore bundle signed with a bare public key, using sigstore-js's own verifier.
// usage: node verify_bundle.js BUNDLE.json PUBLIC.pem TRUSTED_ROOT.json
// Prints one JSON line: {"verified": true} or {"verified": false, "error": "..."}.
const crypto = require("crypto");
const fs = require("fs");
const { bundleFromJSON } = require("@sigstore/bundle");
const { TrustedRoot } = require("@sigstore/protobuf-specs");
const { Verifier, toSignedEntity, toTrustMaterial } = require("@sigstore/verify");

const [bundlePath, keyPath, rootPath] = process.argv.slice(2);
try {
  const bundle = bundleFromJSON(JSON.parse(fs.readFileSync(bundlePath, "utf8")));
  const root = TrustedRoot.fromJSON(JSON.parse(fs.readFileSync(rootPath, "utf8")));
  const der = crypto.createPublicKey(fs.readFileSync(keyPath, "utf8")).export({ type: "spki", format: "der" });
  const hint = bundle.verificationMaterial.content.publicKey.hint;
  const material = toTrustMaterial(root, { [hint]: { rawBytes: der } });
  const verifier = new Verifier(material, { tlogThreshold: 0, ctlogThreshold: 0, tsaThreshold: 0, timestampThreshold: 0 });
  verifier.verify(toSignedEntity(bundle));
  console.log(JSON.stringify({ verified: true }));
} catch (err) {
  console.log(JSON.stringify({ verified: false, error: `${err.name}: ${err.code || ""} ${err.message}` }));
}
