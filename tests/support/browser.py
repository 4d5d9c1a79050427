"""A real browser for tests: Debian's chromium driven by Playwright for Python.

Never a downloaded browser: `playwright install` is not run anywhere; `browser()` launches the
system's chromium (the Debian package `./dev test` installs) through `executable_path`. Playwright
1.65 is built against Chromium 159 and drives Debian bookworm's 156 without trouble: it speaks CDP,
which stays compatible across a few releases.

    with browser() as chromium:
        watched = new_page(chromium, base_url=portal_url)
        watched.page.goto("/")
        assert not watched.problems(), watched.problems()
        assert not (found := axe_violations(watched.page)), describe_violations(found)
        screenshot(watched.page, "home")

Findings, with chromium 156 and a page served with `script-src 'self'` (no 'unsafe-inline', no
'unsafe-eval'):

- Init scripts (`add_init_script`, CDP's Page.addScriptToEvaluateOnNewDocument) and everything
  `page.evaluate` runs (CDP's Runtime.callFunctionOn) are not subject to the page's CSP, and the
  `eval` Playwright's evaluate uses internally is allowed while DevTools evaluates. The page's own
  scripts stay bound by the policy: an inline `<script>`, an inline event handler and an `eval` in
  an allowed external script are all still refused.
- So CSP violations are observable: an init script listens for `securitypolicyviolation` on the
  document and reports each one through a function exposed with `page.expose_function` (a CDP
  binding, also outside CSP). Chromium also logs a refused inline script or event handler as a
  console error ("Executing inline script violates the following Content Security Policy
  directive ..."), but a refused eval only throws an EvalError, which the page may catch: then the
  event is the one record of it. The event carries no sample without 'report-sample' in the policy.
- `page.add_script_tag` (with `content` or `path`) inserts an inline `<script>` element: CSP refuses
  it and Playwright raises. A context with `bypass_csp=True` would also work for axe, but it turns
  the policy off for the page's own scripts too, so a page checked that way is not the page users
  get. `axe_violations` therefore injects axe-core's source with `page.evaluate`, into the page as
  served. Whatever eval axe does while loading happens inside that evaluate, where it is allowed;
  axe.run() trips no CSP violation (tests/test_browser_support.py checks both).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tests.support.services import unavailable

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Dialog, Page

REPO_ROOT = Path(__file__).resolve().parents[2]
AXE_JS = REPO_ROOT / "tests" / "js" / "node_modules" / "axe-core" / "axe.min.js"
WCAG_A_AA = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa")
DEFAULT_TIMEOUT_MS = 15_000

_running = threading.local()  # the browser open in this thread, if any

# Runs before any of the page's scripts in every document of the page (not subject to its CSP).
_CSP_LISTENER = """
document.addEventListener('securitypolicyviolation', (event) => {
  window.__riggingCspViolation({
    directive: event.effectiveDirective,
    blocked: event.blockedURI,
    source: event.sourceFile,
    line: event.lineNumber,
    sample: event.sample,
  });
}, true);
"""


def chromium_path() -> str | None:
    """The system chromium (Debian names it chromium, some distributions chromium-browser)."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


@contextlib.contextmanager
def browser() -> Iterator[Browser]:
    """A headless Playwright `Browser` (sync API) running the system chromium, closed on exit.

    Unavailable (skip locally, fail in CI) without chromium or the playwright package. Chromium's
    sandbox is on, except as root, where Chromium cannot run with it (Playwright then passes
    --no-sandbox). Playwright's sync API runs one instance per thread, so a `browser()` entered while
    another is open in the same thread (a module's fixture inside a session's) yields that one,
    and leaves closing it to its owner. Pages are cheap: open them with `new_page`.
    """
    running = getattr(_running, "browser", None)
    if running is not None:
        yield running
        return
    executable = chromium_path()
    if executable is None:
        unavailable("chromium is not installed (./dev test installs the Debian package chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed (it is in the dev dependency group: ./dev setup)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            chromium_sandbox=os.geteuid() != 0,
        )
        _running.browser = launched
        try:
            yield launched
        finally:
            _running.browser = None
            launched.close()


@dataclass
class Watched:
    """A page, and what it did that a user would notice or a test should fail on."""

    page: Page
    dialogs: list[str] = field(default_factory=list)  # "alert: message" (each dismissed at once)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)  # uncaught exceptions
    csp_violations: list[dict] = field(default_factory=list)  # directive, blocked, source, line, sample

    def settle(self) -> None:
        """Let the page's queued events (CSP violations are reported in a task of their own) reach
        the lists: Playwright's sync API takes events in only while a call is waiting."""
        if not self.page.is_closed():
            self.page.evaluate("() => new Promise((resolve) => setTimeout(resolve, 0))")

    def problems(self) -> list[str]:
        """Everything recorded (after `settle`), one line each: empty for a page that behaved."""
        self.settle()
        return [
            *(f"dialog: {dialog}" for dialog in self.dialogs),
            *(f"console error: {text}" for text in self.console_errors),
            *(f"page error: {text}" for text in self.page_errors),
            *(f"CSP violation: {json.dumps(violation, sort_keys=True)}" for violation in self.csp_violations),
        ]

    def close(self) -> None:
        """Close the page's own context (cookies and storage go with it)."""
        self.page.context.close()


def new_page(browser: Browser, *, bypass_csp: bool = False, base_url: str | None = None) -> Watched:
    """A page in a fresh context (its own cookies and storage) that records dialogs, console errors,
    uncaught exceptions and CSP violations as they happen, across navigations.

    `base_url` lets `page.goto("/path")` take paths. `bypass_csp` turns the page's policy off (for
    pages whose CSP is not under test); CSP violations are then never recorded.
    """
    context = browser.new_context(bypass_csp=bypass_csp, base_url=base_url)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    page = context.new_page()
    watched = Watched(page)

    def on_dialog(dialog: Dialog) -> None:
        watched.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            url = message.location.get("url")
            # "Failed to load resource: ... 404" names no resource: the location does
            watched.console_errors.append(f"{message.text} [{url}]" if url else message.text)

    def on_csp_violation(violation: dict) -> None:
        watched.csp_violations.append(violation)

    page.on("dialog", on_dialog)
    page.on("console", on_console)
    page.on("pageerror", lambda error: watched.page_errors.append(str(error)))
    # Playwright wraps the callable it is given, so a plain function (not list.append, a builtin)
    page.expose_function("__riggingCspViolation", on_csp_violation)
    page.add_init_script(_CSP_LISTENER)
    return watched


def axe_violations(page: Page, impacts: tuple[str, ...] = ("serious", "critical")) -> list[dict]:
    """axe-core's WCAG 2.0/2.1 level A and AA violations on the page as it is now, those with an
    impact in `impacts`: each {"id", "impact", "help", "help_url", "targets", "summaries"}, where
    targets are CSS selectors of the offending elements. `describe_violations` words them.

    axe-core (tests/js, installed by `./dev test` with npm ci) is injected with `page.evaluate`,
    which works under a strict CSP (see the module's docstring), into every frame of the page.
    """
    if not AXE_JS.is_file():
        unavailable("axe-core is not installed (./dev test runs npm ci --prefix tests/js)")
    source = None
    for frame in page.frames:
        if frame.evaluate("typeof window.axe") == "undefined":
            source = source if source is not None else AXE_JS.read_text(encoding="utf-8")
            frame.evaluate(source)
    results = page.evaluate(
        """async (tags) => {
            const results = await axe.run(document, {
                runOnly: {type: 'tag', values: tags},
                resultTypes: ['violations'],
            });
            return results.violations.map((violation) => ({
                id: violation.id,
                impact: violation.impact,
                help: violation.help,
                help_url: violation.helpUrl,
                targets: violation.nodes.map((node) => node.target.flat(Infinity).join(' >>> ')),
                summaries: violation.nodes.map((node) => node.failureSummary),
            }));
        }""",
        list(WCAG_A_AA),
    )
    return [violation for violation in results if violation["impact"] in impacts]


def describe_violations(violations: list[dict]) -> str:
    """One line per violation and offending element, for an assertion message."""
    return "\n".join(
        f"{violation['id']} ({violation['impact']}): {violation['help']} at {target}  [{violation['help_url']}]"
        for violation in violations
        for target in violation["targets"]
    )


def artifacts_dir() -> Path:
    """Where screenshots go: $RIGGING_TEST_ARTIFACTS, or artifacts/screenshots in the checkout."""
    configured = os.environ.get("RIGGING_TEST_ARTIFACTS")
    return Path(configured) if configured else REPO_ROOT / "artifacts" / "screenshots"


def screenshot(page: Page, name: str) -> Path:
    """A full-page PNG of the page, named after `name` (made safe for a file name); its path."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "page"
    path = artifacts_dir() / (stem if stem.endswith(".png") else f"{stem}.png")
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return path
