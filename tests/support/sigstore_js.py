"""sigstore-js (tests/js, installed by `./dev test` with npm ci) as an independent verifier of
the Sigstore bundles we write: keyed signatures and the index's attestations."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from tests.conftest import FIXTURES, REPO_ROOT
from tests.support.services import unavailable

JS = REPO_ROOT / "tests" / "js"
TRUSTED_ROOT = FIXTURES / "sigstore" / "trusted_root.production.json"


def require_sigstore_js() -> None:
    if shutil.which("node") is None or not (JS / "node_modules" / "sigstore").is_dir():
        unavailable("sigstore-js is not installed (./dev test runs npm ci --prefix tests/js)")


def sigstore_js_verify(bundle: Path, key: Path) -> dict:
    """{"verified": True}, or {"verified": False, "error": …}: sigstore-js's verdict on the bundle
    file, trusting only the public key file `key`."""
    out = subprocess.run(
        ["node", str(JS / "verify_bundle.js"), str(bundle), str(key), str(TRUSTED_ROOT)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return json.loads(out.stdout)
