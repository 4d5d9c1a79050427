"""The browser test infrastructure itself (tests/support/browser.py), against a real HTTP server on
loopback and the real Debian chromium: the page's CSP holds, what a page does is recorded, axe-core
runs under a strict CSP and finds a real accessibility problem, screenshots land where they should."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.browser import (
    REPO_ROOT,
    artifacts_dir,
    axe_violations,
    browser,
    chromium_path,
    describe_violations,
    new_page,
    screenshot,
)
from tests.support.services import free_port, wait_http

# What the portal will send: no inline scripts or styles, no eval.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)

APP_JS = b"""
window.ok = 1;
try { eval("window.evalRan = 1"); } catch (error) { window.evalRefused = error.name; }
document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("status").textContent = "ready";
});
"""

STRICT = b"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Strict</title><script src="/app.js"></script></head>
<body><main>
<h1>Strict</h1>
<p id="status">waiting</p>
<button id="handler" type="button" onclick="window.handlerRan = 1; alert('from a handler')">Press</button>
<script>window.inlineRan = 1; alert("from an inline script");</script>
</main></body></html>
"""

# No CSP at all: the recorders' positive control.
OPEN = b"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Open</title></head>
<body><main><h1>Open</h1>
<img src="/missing.png" alt="">
<script>
  alert("hello");
  console.error("something went wrong");
  setTimeout(() => { throw new Error("boom"); }, 0);
</script>
</main></body></html>
"""


def a11y_page(img: bytes) -> bytes:
    return (
        b"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Skills</title></head>
<body><main><h1>Skills</h1><p>A package of skills.</p>"""
        + img
        + b"</main></body></html>\n"
    )


SQUARE = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">'
    b'<rect width="64" height="64" fill="#1d4ed8"/></svg>'
)

ROUTES: dict[str, tuple[str, bytes]] = {
    "/strict.html": ("text/html; charset=utf-8", STRICT),
    "/open.html": ("text/html; charset=utf-8", OPEN),
    "/a11y-bad.html": ("text/html; charset=utf-8", a11y_page(b'<img src="/square.svg">')),
    "/a11y-good.html": ("text/html; charset=utf-8", a11y_page(b'<img src="/square.svg" alt="A blue square">')),
    "/app.js": ("text/javascript; charset=utf-8", APP_JS),
    "/square.svg": ("image/svg+xml", SQUARE),
    "/favicon.ico": ("image/svg+xml", SQUARE),  # chromium asks for it; a 404 would be a console error
}


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path not in ROUTES:
            self.send_error(404)
            return
        content_type, body = ROUTES[self.path]
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if self.path != "/open.html":
            self.send_header("Content-Security-Policy", CSP)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        wait_http(f"{base}/strict.html", ok_statuses=(200,))
        yield base
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        assert not thread.is_alive()


@pytest.fixture(scope="module")
def chromium():
    with browser() as launched:
        yield launched


def test_chromium_is_the_system_one(chromium) -> None:
    path = chromium_path()
    assert path is not None and Path(path).is_file()
    major = int(chromium.version.split(".")[0])
    assert major >= 120, chromium.version


def test_a_nested_browser_is_the_running_one(chromium) -> None:
    # Playwright's sync API cannot start twice in a thread: a module's browser inside a session's
    with browser() as inner:
        assert inner is chromium
    assert chromium.is_connected()


def test_strict_csp_is_enforced_and_every_refusal_recorded(chromium, site: str) -> None:
    watched = new_page(chromium, base_url=site)
    try:
        page = watched.page
        response = page.goto("/strict.html")
        assert response is not None and response.headers["content-security-policy"] == CSP

        # The external script ran; the inline one, and the eval inside the allowed script, did not.
        assert page.evaluate("window.ok") == 1
        assert page.text_content("#status") == "ready"
        assert page.evaluate("typeof window.inlineRan") == "undefined"
        assert page.evaluate("typeof window.evalRan") == "undefined"
        assert page.evaluate("window.evalRefused") == "EvalError"

        # An inline event handler is refused too.
        page.click("#handler")
        assert page.evaluate("typeof window.handlerRan") == "undefined"

        watched.settle()
        assert watched.dialogs == []  # neither alert() got to run
        assert watched.page_errors == []  # the refused eval was caught by app.js
        refused = {(violation["directive"], violation["blocked"]) for violation in watched.csp_violations}
        assert refused == {("script-src-elem", "inline"), ("script-src", "eval"), ("script-src-attr", "inline")}
        inline = next(v for v in watched.csp_violations if v["directive"] == "script-src-elem")
        assert inline["source"] == f"{site}/strict.html" and inline["line"] > 0
        # Chromium logs the refused inline script and handler; the refused eval only throws (and
        # app.js caught it), so the securitypolicyviolation event is the one record of it.
        assert len(watched.console_errors) == 2, watched.console_errors
        assert all("violates the following Content Security Policy" in text for text in watched.console_errors)
        assert len(watched.problems()) == 5
    finally:
        watched.close()


def test_dialogs_console_errors_and_uncaught_exceptions_are_recorded(chromium, site: str) -> None:
    watched = new_page(chromium, base_url=site)
    try:
        watched.page.goto("/open.html")
        watched.page.wait_for_function("() => document.readyState === 'complete'")
        watched.page.wait_for_timeout(50)  # the exception is thrown from a timer
        problems = watched.problems()
        assert problems[0] == "dialog: alert: hello"
        assert sorted(problems[1:3]) == [
            f"console error: Failed to load resource: the server responded with a status of 404 (Not Found)"
            f" [{site}/missing.png]",
            f"console error: something went wrong [{site}/open.html]",
        ]
        assert problems[3:] == ["page error: boom"]
        assert watched.csp_violations == []
    finally:
        watched.close()


def test_bypass_csp_turns_the_policy_off(chromium, site: str) -> None:
    watched = new_page(chromium, base_url=site, bypass_csp=True)
    try:
        watched.page.goto("/strict.html")
        assert watched.page.evaluate("window.inlineRan") == 1
        watched.settle()
        assert watched.dialogs == ["alert: from an inline script"]
        assert watched.csp_violations == []
    finally:
        watched.close()


def test_axe_finds_a_missing_alt_text_under_a_strict_csp(chromium, site: str) -> None:
    watched = new_page(chromium, base_url=site)
    try:
        page = watched.page
        page.goto("/a11y-bad.html")
        found = axe_violations(page)
        assert [v["id"] for v in found] == ["image-alt"], describe_violations(found)
        (image_alt,) = found
        assert image_alt["impact"] == "critical"
        assert image_alt["targets"] == ["img"]
        assert "alternative text" in image_alt["help"]
        assert image_alt["help_url"].startswith("https://dequeuniversity.com/rules/axe/")
        assert describe_violations(found).startswith("image-alt (critical): Images must have alternative text at img")

        # The filter: image-alt is critical, so a minor/moderate-only check leaves it out.
        assert axe_violations(page, impacts=("minor", "moderate")) == []

        # axe ran in the page as served: the policy still holds and axe tripped none of it.
        assert page.evaluate("typeof window.axe.run") == "function"
        assert watched.problems() == []
    finally:
        watched.close()


def test_axe_reports_nothing_on_a_clean_page(chromium, site: str) -> None:
    watched = new_page(chromium, base_url=site)
    try:
        watched.page.goto("/a11y-good.html")
        found = axe_violations(watched.page, impacts=("minor", "moderate", "serious", "critical"))
        assert found == [], describe_violations(found)
        assert watched.problems() == []
    finally:
        watched.close()


def test_screenshot_writes_a_full_page_png(chromium, site: str, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("RIGGING_TEST_ARTIFACTS", raising=False)
    assert artifacts_dir() == REPO_ROOT / "artifacts" / "screenshots"
    monkeypatch.setenv("RIGGING_TEST_ARTIFACTS", str(tmp_path / "shots"))
    watched = new_page(chromium, base_url=site)
    try:
        watched.page.set_viewport_size({"width": 400, "height": 200})
        watched.page.goto("/a11y-good.html")
        watched.page.evaluate("document.querySelector('main').style.height = '900px'")
        path = screenshot(watched.page, "browser support/clean page")
    finally:
        watched.close()
    assert path == tmp_path / "shots" / "browser-support-clean-page.png"
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width == 400
    assert height >= 900  # the whole page, not the 200px viewport
