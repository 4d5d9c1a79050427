"""The publisher console over HTTP, with real parts only: the portal served in its own process,
signed in through a real OpenID Connect provider, reading and writing a real PostgreSQL index and
publishing into a real registry."""

from __future__ import annotations

import gzip
import io
import json
import re
import secrets
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.support.index_db import add_namespace, fresh_index
from tests.support.portal_server import PortalServer, portal_server

pytestmark = [pytest.mark.registry, pytest.mark.postgres]

MAX_UPLOAD = 1024 * 1024  # the served portal's cap: small, so the oversize test sends little
RULE = "---\ntrigger: glob\ndescription: Python conventions\nglobs: **/*.py\n---\n\n# Python\n\n- Type everything.\n"
WORKFLOW = "---\ndescription: Cut a release\n---\n\n# Release\n\n1. Bump the version.\n"
CHANGELOG = "# Changelog\n\n## 1.0.0\n\n- First release: Python conventions.\n\n## 0.9.0\n\n- Beta.\n"


@dataclass
class Env:
    server: PortalServer
    sessions: sessionmaker[Session]
    registry: str  # host:port
    namespace: str  # alice's
    other: str  # bob's
    tmp: Path  # the portal process's TMPDIR
    alice: httpx.Client
    bob: httpx.Client


@pytest.fixture(scope="module")
def env(registry, tmp_path_factory) -> Iterator[Env]:
    from rigging_indexer.models import User

    workdir = tmp_path_factory.mktemp("console")
    tmp = workdir / "portal-tmp"
    tmp.mkdir()
    suffix = secrets.token_hex(3)
    with (
        fresh_index("postgresql", workdir) as (url, sessions),
        portal_server(
            workdir,
            url,
            [registry.url],
            max_upload_bytes=MAX_UPLOAD,
            env={"TMPDIR": str(tmp), "DOCKER_CONFIG": str(workdir / "docker")},
        ) as server,
    ):
        alice, bob = server.sign_in("alice"), server.sign_in("bob")
        with sessions() as s:
            ids = {u.username: u.id for u in s.query(User)}
        namespace, other = f"alice-{suffix}", f"bob-{suffix}"
        add_namespace(sessions, namespace, owner=ids["alice"], private=False)
        add_namespace(sessions, other, owner=ids["bob"], private=False)
        try:
            yield Env(server, sessions, registry.host, namespace, other, tmp, alice, bob)
        finally:
            alice.close()
            bob.close()


def package(name: str, version: str = "1.0.0", **extra: str) -> dict[str, str]:
    manifest = {"name": name, "version": version, "description": "Conventions for Python code", "license": "MIT"}
    files = {
        "rigging.json": json.dumps(manifest, indent=2) + "\n",
        "README.md": f"# {name}\n\nPython conventions.\n",
        "rules/python.md": RULE,
        "workflows/release.md": WORKFLOW,
    }
    files.update(extra)
    return files


def upload(
    client: httpx.Client,
    env: Env,
    files: dict[str, str | bytes],
    action: str = "check",
    *,
    csrf: str | None = "session",
    paths: bool = True,
) -> httpx.Response:
    """The upload form as a browser sends a chosen folder (each file named by its path), with the
    `paths` field console.js fills in."""
    data = {"action": action}
    if csrf == "session":
        data["csrf_token"] = env.server.csrf(client)
    elif csrf is not None:
        data["csrf_token"] = csrf
    if paths:
        data["paths"] = "\n".join(files)
    parts = [("files", (path, body.encode() if isinstance(body, str) else body)) for path, body in files.items()]
    return client.post("/console/upload", data=data, files=parts)


def upload_archive(client: httpx.Client, env: Env, blob: bytes, action: str = "check") -> httpx.Response:
    data = {"action": action, "csrf_token": env.server.csrf(client)}
    return client.post("/console/upload", data=data, files={"archive": ("pkg.tar.gz", blob, "application/gzip")})


def targz(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return gzip.compress(raw.getvalue())


def member(name: str, data: bytes | None = None, *, kind: bytes = tarfile.REGTYPE, link: str = "") -> tuple:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    info.mode = 0o644
    return info, data


def leftovers(env: Env) -> list[Path]:
    """What the portal left in its temporary folder: nothing, once a request has been answered."""
    return sorted(env.tmp.rglob("*"))


# -- who may use it ---------------------------------------------------------------------------------


def test_anonymous_visitors_are_invited_to_sign_in_and_cannot_upload(env):
    page = httpx.get(f"{env.server.url}/console")
    assert page.status_code == 200
    assert 'href="/auth/login/local?next=/console"' in page.text and "Sign in" in page.text
    assert 'enctype="multipart/form-data"' not in page.text
    refused = httpx.post(
        f"{env.server.url}/console/upload",
        data={"action": "check"},
        files=[("files", ("rigging.json", b"{}"))],
    )
    assert refused.status_code == 403 and "sign in" in refused.text.lower()
    assert "default-src 'self'" in refused.headers["content-security-policy"]


def test_signed_in_console_lists_namespaces_and_an_accessible_upload_form(env):
    page = env.alice.get("/console")
    assert page.status_code == 200
    text = page.text
    assert f"<code>{env.namespace}</code>" in text and env.other not in text
    assert 'enctype="multipart/form-data"' in text and 'action="/console/upload"' in text
    assert re.search(r'<input id="upload-folder" type="file" name="files" multiple webkitdirectory', text)
    for input_id in ("upload-folder", "upload-archive"):
        assert f'<label for="{input_id}">' in text
    assert 'name="action" value="check"' in text and 'name="action" value="publish"' in text
    assert f'name="csrf_token" value="{env.server.csrf(env.alice)}"' in text
    assert "/static/console.js?v=" in text and "<script>" not in text and "style=" not in text


def test_a_multipart_upload_without_the_sessions_csrf_token_is_refused(env):
    files = package(f"{env.namespace}/csrf")
    assert upload(env.alice, env, files, csrf=None).status_code == 403
    assert upload(env.alice, env, files, csrf="x" * 43).status_code == 403
    # another session's token is no better
    assert upload(env.alice, env, files, csrf=env.server.csrf(env.bob)).status_code == 403
    assert upload(env.alice, env, files).status_code == 200


# -- checking -----------------------------------------------------------------------------------------


def test_an_invalid_package_shows_each_problem_with_its_code_at_its_line(env):
    bad_rule = "---\ntrigger: sometimes\ndescription: Broken\n---\n\n# Broken\n"
    files = package(f"{env.namespace}/broken", **{"rules/bad.md": bad_rule})
    response = upload(env.alice, env, files)
    assert response.status_code == 200, response.text[:500]
    page = response.text
    assert "RIG302" in page and "rules/bad.md:2" in page
    # files are numbered in sorted order; ids never come from the package's own text
    number = sorted(files).index("rules/bad.md") + 1
    assert f'href="#file-{number}-L2"' in page
    assert f'<li id="file-{number}-L2" class="flagged"><mark>trigger: sometimes</mark></li>' in page
    assert "not published: `rigging validate` finds 1 error(s)" in page

    broken_json = package(f"{env.namespace}/json", **{"rigging.json": '{\n  "name": "x/y",\n  "version": 1.0.0\n}\n'})
    page = upload(env.alice, env, broken_json).text
    assert "RIG102" in page and re.search(r"rigging\.json:3", page)
    assert leftovers(env) == []


def test_a_valid_package_previews_every_file_and_drafts_release_notes(env):
    files = package(
        f"{env.namespace}/preview",
        **{"CHANGELOG.md": CHANGELOG, ".git/config": "[core]\n\tfsmonitor = touch /tmp/pwned\n"},
    )
    # the folder as a browser names it: everything under the chosen folder's name
    response = upload(env.alice, env, {f"preview/{k}": v for k, v in files.items()}, paths=False)
    assert response.status_code == 200, response.text[:500]
    page = response.text
    assert "No problems: the package is valid." in page and "The scan finds nothing." in page
    assert "from the folder <code>preview</code>" in page
    assert "<h1>Python</h1>" in page or ">Python</h1>" in page  # the rule's Markdown, rendered
    assert "trigger: glob" in page  # its frontmatter, shown as text
    assert '<textarea id="release-notes"' in page and "- First release: Python conventions." in page
    assert "- Beta." not in page.split('id="release-notes"')[1].split("</textarea>")[0]
    assert "does not read git history from uploads" in page and "<code>rigging release-notes</code>" in page
    assert "fsmonitor" not in page  # hidden entries are not written nor shown
    assert re.search(r'<label for="file-\d+-text">', page) and 'data-preview-target="file-' in page
    assert f'<meta name="csrf-token" content="{env.server.csrf(env.alice)}">' in page
    assert "Ready to publish" in page
    assert not Path("/tmp/pwned").exists()


# -- refusing what is unsafe ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "said"),
    [
        ("../escaped-{tag}.md", "climbs out"),
        ("rules/../../escaped-{tag}.md", "climbs out"),
        ("/tmp/escaped-{tag}.md", "absolute path"),
        ("C:/escaped-{tag}.md", "absolute path"),
        ("rules//escaped-{tag}.md", "not a safe path"),
    ],
)
def test_unsafe_paths_are_refused_and_nothing_is_written(env, path, said):
    tag = secrets.token_hex(4)
    files = {**package(f"{env.namespace}/unsafe"), path.format(tag=tag): "# escaped\n"}
    response = upload(env.alice, env, files)
    assert response.status_code == 400, response.text[:300]
    assert said in response.text and "Not taken (400)" in response.text
    assert leftovers(env) == []
    for folder in (env.tmp, env.tmp.parent, Path("/tmp")):
        assert not list(folder.glob(f"escaped-{tag}.md"))


def test_archives_with_traversal_links_or_devices_are_refused(env):
    ok = json.dumps({"name": f"{env.namespace}/arc", "version": "1.0.0", "description": "x"}).encode()
    manifest = member("pkg/rigging.json", ok)
    cases = {
        "climb": [manifest, member("pkg/../../escaped.md", b"x")],
        "absolute": [manifest, member("/tmp/escaped.md", b"x")],
        "symlink": [manifest, member("pkg/rules/x.md", kind=tarfile.SYMTYPE, link="/etc/passwd")],
        "hardlink": [manifest, member("pkg/rules/x.md", kind=tarfile.LNKTYPE, link="pkg/rigging.json")],
        "device": [manifest, member("pkg/dev", kind=tarfile.CHRTYPE)],
        "twice": [manifest, manifest],
    }
    for case, members in cases.items():
        response = upload_archive(env.alice, env, targz(members))
        assert response.status_code == 400, (case, response.text[:300])
        assert "refused: the archive: entry" in response.text, case
    not_gzip = upload_archive(env.alice, env, b"PK\x03\x04 a zip")
    assert not_gzip.status_code == 400 and "not a valid tar.gz" in not_gzip.text
    assert leftovers(env) == []
    assert not Path("/tmp/escaped.md").exists()


def test_an_archive_of_a_package_folder_is_checked_like_a_folder(env):
    files = package(f"{env.namespace}/archived")
    blob = targz([member("./archived/" + path, body.encode()) for path, body in files.items()])
    response = upload_archive(env.alice, env, blob)
    assert response.status_code == 200, response.text[:500]
    assert "No problems: the package is valid." in response.text
    assert f"<code>{env.namespace}/archived</code>" in response.text


def test_an_upload_over_the_cap_is_refused_with_413(env):
    files = {**package(f"{env.namespace}/big"), "docs/big.md": "x" * (MAX_UPLOAD + 1)}
    declared = upload(env.alice, env, files)
    assert declared.status_code == 413 and "the upload is over 1 MB" in declared.text
    assert "Upload too large" in declared.text

    # no Content-Length: refused as the count passes the cap
    token = env.server.csrf(env.alice)
    boundary = "rigging-test-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="docs/big.md"\r\n\r\n'
    ).encode()

    def chunks() -> Iterator[bytes]:
        yield head
        for _ in range(2 * MAX_UPLOAD // 65536):
            yield b"x" * 65536
        yield f"\r\n--{boundary}--\r\n".encode()

    chunked = env.alice.post(
        "/console/upload",
        content=chunks(),
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert chunked.status_code == 413, chunked.text[:300]
    assert leftovers(env) == []


# -- publishing -----------------------------------------------------------------------------------------


def test_a_valid_package_is_published_into_the_registry_indexed_and_shown(env):
    from rigging_indexer.access import ANONYMOUS
    from rigging_indexer.search import search

    name = f"{env.namespace}/style"
    response = upload(env.alice, env, package(name, "1.2.0", **{"CHANGELOG.md": CHANGELOG}), "publish")
    assert response.status_code == 303, response.text[:800]
    assert response.headers["location"] == f"/packages/{name}?version=1.2.0"

    tags = httpx.get(f"http://{env.registry}/v2/{name}/tags/list")
    assert tags.status_code == 200 and "1.2.0" in tags.json()["tags"]
    with env.sessions() as s:
        hits = search(s, "python conventions", namespace=env.namespace, viewer=ANONYMOUS)
    assert [h.name for h in hits if h.name == name] == [name]
    shown = httpx.get(env.server.url + response.headers["location"])
    assert shown.status_code == 200 and "1.2.0" in shown.text

    # a version is immutable: other content under the same version is refused, not overwritten
    again = upload(env.alice, env, package(name, "1.2.0", **{"docs/more.md": "# More\n"}), "publish")
    assert again.status_code == 409 and "already holds another manifest" in again.text
    assert leftovers(env) == []


def test_publishing_into_someone_elses_namespace_is_refused(env):
    name = f"{env.namespace}/not-bobs"
    response = upload(env.bob, env, package(name), "publish")
    assert response.status_code == 403
    assert f"you may not publish into the namespace &#39;{env.namespace}&#39;" in response.text
    assert httpx.get(f"http://{env.registry}/v2/{name}/tags/list").status_code == 404
    # checking is open to any signed-in user; it says they may not publish
    checked = upload(env.bob, env, package(name)).text
    assert "not allowed: you may not publish" in checked


def test_an_invalid_package_is_not_published(env):
    name = f"{env.namespace}/invalid"
    files = package(name, **{"rules/bad.md": "---\ntrigger: sometimes\n---\n# x\n"})
    response = upload(env.alice, env, files, "publish")
    assert response.status_code == 422 and "RIG302" in response.text
    assert httpx.get(f"http://{env.registry}/v2/{name}/tags/list").status_code == 404


# -- live preview ----------------------------------------------------------------------------------------


def test_the_preview_endpoint_renders_sanitised_markdown(env):
    token = env.server.csrf(env.alice)
    text = "---\ntrigger: manual\n---\n# Title\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1))\n"
    response = env.alice.post("/console/preview", json={"text": text}, headers={"X-CSRF-Token": token})
    assert response.status_code == 200, response.text
    html = response.json()["html"]
    assert "Title</h1>" in html and "<script" not in html and "&lt;script&gt;" in html
    assert 'href="javascript' not in html
    assert '<pre class="frontmatter">trigger: manual</pre>' in html
    assert env.alice.post("/console/preview", json={"text": text}).status_code == 403
    anonymous = httpx.post(f"{env.server.url}/console/preview", json={"text": text})
    assert anonymous.status_code == 403
    too_long = env.alice.post("/console/preview", json={"text": "x" * (600 * 1024)}, headers={"X-CSRF-Token": token})
    assert too_long.status_code == 413


# -- tokens ------------------------------------------------------------------------------------------------


def test_the_tokens_page_makes_lists_and_revokes_tokens(env):
    assert httpx.get(f"{env.server.url}/console/tokens").status_code == 403
    token = env.server.csrf(env.alice)
    refused = env.alice.post("/console/tokens", data={"name": "ci", "scopes": ["publish"]})
    assert refused.status_code == 403  # the CSRF middleware: no token in the form
    outside = env.alice.post(
        "/console/tokens", data={"csrf_token": token, "name": "ci", "scopes": ["read"], "namespaces": env.other}
    )
    assert outside.status_code == 400 and f"not among your namespaces: {env.other}" in outside.text

    made = env.alice.post(
        "/console/tokens",
        data={
            "csrf_token": token,
            "name": "laptop",
            "scopes": ["read", "publish"],
            "namespaces": env.namespace,
            "days": "7",
        },
    )
    assert made.status_code == 201, made.text[:500]
    plaintext = re.search(r"(rig_[0-9A-Za-z]{43})", made.text)
    assert plaintext is not None
    secret = plaintext.group(1)
    whoami = httpx.get(f"{env.server.url}/api/v1/whoami", headers={"Authorization": f"Bearer {secret}"})
    assert whoami.status_code == 200 and whoami.json()["username"] == "alice"

    listed = env.alice.get("/console/tokens").text
    assert "laptop" in listed and secret[:8] + "…" in listed and secret not in listed  # shown once
    token_id = int(re.search(r'action="/console/tokens/(\d+)/revoke"', listed).group(1))  # type: ignore[union-attr]
    # a Bearer token cannot use the console, even with the publish scope
    bearer = httpx.get(f"{env.server.url}/console/tokens", headers={"Authorization": f"Bearer {secret}"})
    assert bearer.status_code == 403

    revoked = env.alice.post(f"/console/tokens/{token_id}/revoke", data={"csrf_token": token})
    assert revoked.status_code == 303 and revoked.headers["location"] == f"/console/tokens?revoked={token_id}"
    after = env.alice.get(revoked.headers["location"]).text
    assert "revoked" in after and f'action="/console/tokens/{token_id}/revoke"' not in after
    gone = httpx.get(f"{env.server.url}/api/v1/whoami", headers={"Authorization": f"Bearer {secret}"})
    assert gone.status_code == 401
    # bob cannot revoke alice's tokens
    bob_token = env.server.csrf(env.bob)
    assert env.bob.post(f"/console/tokens/{token_id}/revoke", data={"csrf_token": bob_token}).status_code == 404


# -- in a browser ------------------------------------------------------------------------------------------


def test_console_in_a_browser_uploads_previews_live_and_passes_axe(env, tmp_path):
    from tests.support.browser import axe_violations, browser, describe_violations, new_page

    files = package(f"{env.namespace}/browsed", **{"CHANGELOG.md": CHANGELOG})
    archive = tmp_path / "browsed.tar.gz"
    archive.write_bytes(targz([member("browsed/" + path, body.encode()) for path, body in files.items()]))
    with browser() as chromium:
        watched = new_page(chromium, base_url=env.server.url)
        page = watched.page
        # the signed-in session of the httpx client, handed to the browser
        cookie = env.alice.cookies["rigging_session"]
        page.context.add_cookies([{"name": "rigging_session", "value": cookie, "url": env.server.url}])
        try:
            page.goto("/console")
            assert page.locator("[data-dropzone]").is_visible()  # console.js ran under the CSP
            assert not axe_violations(page), describe_violations(axe_violations(page))
            page.set_input_files("#upload-archive", str(archive))
            page.click("button[value=check]")
            page.wait_for_selector("#release-notes")
            assert "No problems: the package is valid." in page.content()
            violations = axe_violations(page)
            assert not violations, describe_violations(violations)
            number = sorted(files).index("rules/python.md") + 1
            page.fill(f"#file-{number}-text", "# Live title\n\n<script>window.__pwned = 1</script>\n")
            page.wait_for_selector(f"#file-{number}-preview h1:has-text('Live title')")
            assert page.evaluate("window.__pwned") is None
            assert not watched.csp_violations and not watched.page_errors, watched.problems()
        finally:
            watched.close()
