"""Build a release of Rigging's four distributions, as the release workflow does and the tests check.

    python scripts/release.py version          the release version (rigging-core's __version__)
    python scripts/release.py build OUT        every release file into OUT, checked (below)

`build` writes into OUT:
- the four sdists, and each wheel built from its sdist, as PyPI users and pipx build them; a
  wheel built straight from the repository must hold the same files, byte for byte, or the
  build stops (a file reached through a link out of a distribution's folder would differ);
- `rigging-VERSION.pex`, the CLI in one file that runs where only Python 3.11+ is present, built
  from those wheels and the exact versions uv.lock holds for the CLI's closure (pex resolving
  on its own dropped an extra that the closure needs);
- `rigging-cli.rb`, a Homebrew formula: the CLI's sdist and one resource per package of its
  closure, each with the URL and sha256 that uv.lock records (the sdist where there is one);
- `requirements-cli.txt` (that closure, pinned) and `SHA256SUMS`.
It prints a JSON report on its last line.

Needs uv on PATH and pex in the running environment (the dev group has it).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from build_support.lockstep import release_version  # noqa: E402

DISTRIBUTIONS = ("rigging-core", "rigging-cli", "rigging-indexer", "rigging-portal")
CLI_CLOSURE = ("rigging-cli", "rigging-core")  # ours; the rest of the closure comes from uv.lock


def _run(*command: str | Path, cwd: Path = ROOT) -> str:
    done = subprocess.run([str(c) for c in command], cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"release: {' '.join(map(str, command))} failed:\n{done.stderr.strip()}")
    return done.stdout


def _wheel_files(wheel: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(wheel) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build(out: Path) -> dict[str, object]:
    version = release_version()
    out.mkdir(parents=True, exist_ok=True)
    _run("uv", "build", "--all-packages", "--sdist", "--quiet", "-o", out)
    sdists = sorted(out.glob(f"*-{version}.tar.gz"))
    if len(sdists) != len(DISTRIBUTIONS):
        raise SystemExit(f"release: expected {len(DISTRIBUTIONS)} sdists of {version} in {out}, found {len(sdists)}")
    for sdist in sdists:
        _run("uv", "build", sdist, "--wheel", "--quiet", "-o", out)
    with tempfile.TemporaryDirectory() as direct:
        _run("uv", "build", "--all-packages", "--wheel", "--quiet", "-o", direct)
        compared = []
        for wheel in sorted(Path(direct).glob("*.whl")):
            from_sdist = out / wheel.name
            if not from_sdist.is_file():
                raise SystemExit(f"release: {wheel.name} was built directly but not from its sdist")
            theirs, ours = _wheel_files(wheel), _wheel_files(from_sdist)
            differing = sorted(n for n in theirs.keys() | ours.keys() if theirs.get(n) != ours.get(n))
            if differing:
                raise SystemExit(f"release: {wheel.name} differs when built from its sdist: {', '.join(differing)}")
            compared.append(wheel.name)
    closure = out / "requirements-cli.txt"
    _run(
        "uv", "export", "--package", "rigging-cli", "--no-dev", "--no-emit-workspace", "--no-hashes",
        "--format", "requirements-txt", "--quiet", "-o", closure,
    )  # fmt: skip
    pex = out / f"rigging-{version}.pex"
    wheels = [out / f"{name.replace('-', '_')}-{version}-py3-none-any.whl" for name in CLI_CLOSURE]
    _run(
        sys.executable, "-m", "pex", "-r", closure, *wheels, "--intransitive", "-c", "rigging",
        # a venv of its own on first run: later starts cost what an installed CLI's do
        "--venv", "--python-shebang", "/usr/bin/env python3", "-o", pex,
    )  # fmt: skip
    formula = out / "rigging-cli.rb"
    formula.write_text(homebrew_formula(out / f"rigging_cli-{version}.tar.gz", version, closure), encoding="utf-8")
    files = sorted(p for p in out.iterdir() if p.is_file() and p.name != "SHA256SUMS")
    (out / "SHA256SUMS").write_text("".join(f"{_sha256(p)}  {p.name}\n" for p in files), encoding="utf-8")
    return {"version": version, "identical_wheels": compared, "pex": pex.name, "formula": formula.name}


def _locked_sources() -> dict[str, tuple[str, str]]:
    """Each package's (url, sha256) in uv.lock that Homebrew can install on any Mac: its sdist,
    else a pure-Python wheel (some releases, certifi's post releases among them, have no sdist)."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text(encoding="utf-8"))
    found = {}
    for package in lock["package"]:
        universal = [
            w for w in package.get("wheels", []) if w["url"].endswith(("-py3-none-any.whl", "-py2.py3-none-any.whl"))
        ]
        source = package.get("sdist") if "url" in package.get("sdist", {}) else next(iter(universal), None)
        if source is not None:
            found[package["name"]] = (source["url"], source["hash"].removeprefix("sha256:"))
    return found


def _pypi_source_url(name: str, version: str) -> str:
    """Where PyPI serves an sdist once uploaded (its stable /packages/source/ path)."""
    return f"https://files.pythonhosted.org/packages/source/{name[0]}/{name}/{name.replace('-', '_')}-{version}.tar.gz"


def homebrew_formula(cli_sdist: Path, version: str, closure: Path) -> str:
    locked = _locked_sources()
    pinned = [
        re.split(r"[=;\s]", line, maxsplit=1)[0].lower()
        for line in closure.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith(("#", " "))
    ]
    missing = [name for name in pinned if name not in locked]
    if missing:
        raise SystemExit(f"release: uv.lock records no sdist or pure-Python wheel of {', '.join(missing)} for Homebrew")
    resources = [(name, *locked[name]) for name in pinned]
    core = cli_sdist.with_name(f"rigging_core-{version}.tar.gz")
    resources.append(("rigging-core", _pypi_source_url("rigging-core", version), _sha256(core)))
    blocks = "\n".join(
        f'  resource "{name}" do\n    url "{url}"\n    sha256 "{sha}"\n  end\n' for name, url, sha in sorted(resources)
    )
    return f"""# Generated by scripts/release.py for rigging-cli {version}; do not edit.
class RiggingCli < Formula
  include Language::Python::Virtualenv

  desc "Package manager for AI coding-agent skills, rules and workflows, kept in OCI registries"
  homepage "https://pypi.org/project/rigging-cli/"
  url "{_pypi_source_url("rigging-cli", version)}"
  sha256 "{_sha256(cli_sdist)}"
  license "Apache-2.0"

  depends_on "pkgconf" => :build
  depends_on "rust" => :build # cryptography, pydantic-core and rpds-py build from their sdists
  depends_on "libyaml"
  depends_on "openssl@3"
  depends_on "python@3.12"

{blocks}
  def install
    virtualenv_install_with_resources
  end

  test do
    assert_match version.to_s, shell_output("#{{bin}}/rigging --version")
    system bin/"rigging", "new", testpath/"pkg", "--name", "acme/brew"
    system bin/"rigging", "validate", testpath/"pkg"
  end
end
"""


def main() -> int:
    if sys.argv[1:2] == ["version"]:
        print(release_version())
        return 0
    if len(sys.argv) == 3 and sys.argv[1] == "build":
        if shutil.which("uv") is None:
            raise SystemExit("release: uv is not on PATH; install it (python3 -m pip install uv)")
        print(json.dumps(build(Path(sys.argv[2]).resolve())))
        return 0
    print("\n".join(__doc__.strip().splitlines()[2:4]), file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
