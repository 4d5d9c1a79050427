"""The portal in a real browser (Debian's chromium through Playwright): a reader's path from
search to every tab of a package page and the copy button; hostile packages rendered with no
script running; axe-core's accessibility checks. Screenshots go to artifacts/screenshots."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.browser import axe_violations, browser, describe_violations, new_page, screenshot
from tests.support.portal_catalogue import Catalogue, catalogue, portal

pytestmark = [pytest.mark.registry, pytest.mark.postgres]

TABS = ("Readme", "Skills", "Rules", "Workflows", "Docs", "Versions", "Dependencies", "Security")


@pytest.fixture(scope="module")
def stack(registry, tmp_path_factory) -> Iterator[tuple[Catalogue, str]]:
    from tests.support.postgres import required_database

    with (
        required_database() as database,
        catalogue(tmp_path_factory.mktemp("cat"), registry.host, database, hostile=True) as cat,
        portal(database, workdir=cat.folder, config={"sources": [cat.source]}) as url,
    ):
        yield cat, url


@pytest.fixture(scope="module")
def chromium():
    with browser() as found:
        yield found


def accessible(watched, name: str) -> None:
    found = axe_violations(watched.page)
    assert not found, f"{name}:\n{describe_violations(found)}"


def test_search_to_package_page_every_tab_and_the_copy_button(stack, chromium):
    cat, url = stack
    watched = new_page(chromium, base_url=url)
    page = watched.page
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url)
    try:
        page.goto("/")
        screenshot(page, "home")
        accessible(watched, "home")
        page.get_by_label("Search packages").first.fill(f"guide {cat.namespace}")
        page.get_by_label("Search packages").first.press("Enter")
        page.wait_for_url("**/search?**")
        screenshot(page, "search")
        accessible(watched, "search")
        page.get_by_role("link", name=cat.main).first.click()
        page.wait_for_url(f"**/packages/{cat.main}")
        assert page.locator(".package-head h1").inner_text().startswith(cat.main)
        screenshot(page, "package")
        accessible(watched, "package page")
        for tab in TABS:
            page.get_by_role("navigation", name="Package sections").get_by_role("link", name=tab).click()
            current = page.locator("nav.tabs a[aria-current=page]")
            assert current.inner_text().startswith(tab)
            assert page.locator("#tab-h").count() == 1
            screenshot(page, f"package-{tab.lower()}")
        page.get_by_role("link", name="What your agent gets").click()
        page.get_by_label("Agent", exact=True).select_option("cursor")  # the script submits the form on change
        page.wait_for_url("**/agent?target=cursor**")
        assert ".cursor/rules/" in page.content()
        screenshot(page, "package-agent-cursor")
        accessible(watched, "agent preview")
        page.get_by_label("Version", exact=True).select_option("1.0.0")
        page.wait_for_url("**version=1.0.0**")
        copy = page.get_by_role("button", name="Copy")
        copy.click()
        page.get_by_role("button", name="Copied").wait_for()
        copied = page.evaluate("navigator.clipboard.readText()")
        assert copied == page.locator("#install-command").inner_text()
        assert copied.startswith("rigging add ") and copied.endswith(f"/{cat.main}:1.0.0")
        assert not watched.problems(), watched.problems()
    finally:
        watched.close()


def test_the_package_page_reads_without_javascript(stack, chromium):
    cat, url = stack
    context = chromium.new_context(java_script_enabled=False, base_url=url)
    try:
        page = context.new_page()
        page.goto(f"/packages/{cat.main}")
        page.get_by_role("link", name="Rules").click()
        assert "**/*.py" in page.content()
        page.get_by_label("Version", exact=True).select_option("1.0.0")
        page.get_by_role("button", name="Show").click()  # no script: the form's own button
        assert "version=1.0.0" in page.url
    finally:
        context.close()


@pytest.mark.parametrize("csp", ["enforced", "bypassed"])
def test_hostile_packages_run_no_script_anywhere(stack, chromium, csp):
    """Every page and tab of a package whose every field is hostile. With the CSP bypassed the
    sanitiser alone must hold: the policy is the second wall, not the first."""
    cat, url = stack
    assert cat.hostile is not None
    watched = new_page(chromium, base_url=url, bypass_csp=csp == "bypassed")
    page = watched.page
    paths = [
        "/",
        f"/search?q={cat.namespace}",
        f"/packages/{cat.hostile}",
        *(f"/packages/{cat.hostile}/{tab}" for tab in ("skills", "rules", "workflows", "docs", "versions")),
        *(f"/packages/{cat.hostile}/{tab}" for tab in ("dependencies", "security", "agent?target=claude")),
        f"/packages/{cat.hostile}/agent?target=cursor",
    ]
    try:
        for path in paths:
            assert page.goto(path).status == 200, path
            for link in page.locator("a").all():  # anything clickable must lead to http(s), a path or an anchor
                href = link.get_attribute("href") or ""
                assert not href.lower().lstrip().startswith(("javascript:", "data:", "vbscript:")), (path, href)
            for anchor in page.locator("a[href^='http']").all():
                rel = anchor.get_attribute("rel") or ""
                if not (anchor.get_attribute("href") or "").startswith(url):
                    assert {"nofollow", "noopener", "ugc"} <= set(rel.split()), (path, anchor.get_attribute("href"))
            assert page.locator("iframe, object, embed, form[action^='http']").count() == 0, path
            assert page.locator("img[src^='http'], link[href^='http']").count() == 0, path
            assert page.evaluate("typeof window.__pwned") == "undefined", (path, page.evaluate("window.__pwned"))
            assert page.evaluate("document.getElementById('main').tagName") == "MAIN", path  # no clobbering
            assert page.locator("body").is_visible(), path
        page.goto(f"/packages/{cat.hostile}")
        assert "⟨U+200B⟩" in page.locator("article.markdown").inner_text()  # hidden characters shown
        page.goto(f"/packages/{cat.hostile}/docs")
        for link in page.get_by_role("navigation", name="Documentation pages").get_by_role("link").all():
            link.click()
            assert page.evaluate("typeof window.__pwned") == "undefined"
        screenshot(page, f"hostile-docs-{csp}")
        assert not watched.problems(), watched.problems()
    finally:
        watched.close()
