"""The portal's pages over HTTP, served by `rigging-portal serve` from an index the indexer
crawled from a real registry: what each page and tab shows, what it must not, and its headers."""

from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import httpx
import pytest

from tests.support.portal_catalogue import Catalogue, served_catalogue

pytestmark = [pytest.mark.registry, pytest.mark.postgres]


@pytest.fixture(scope="module")
def stack(registry, tmp_path_factory) -> Iterator[tuple[Catalogue, str]]:
    with served_catalogue(registry.host, tmp_path_factory.mktemp("cat")) as served:
        yield served


def get(url: str, path: str, status: int = 200) -> httpx.Response:
    response = httpx.get(url + path, timeout=30)
    assert response.status_code == status, (path, response.status_code, response.text[:500])
    return response


def test_home_lists_the_packages_and_counts(stack):
    cat, url = stack
    page = get(url, "/").text
    assert f'href="/packages/{cat.main}"' in page
    assert re.search(r"<strong>\d+</strong> packages", page)


def test_search_finds_a_package_with_its_facets(stack):
    cat, url = stack
    page = get(url, f"/search?q=guide&namespace={cat.namespace}").text
    assert f'href="/packages/{cat.main}"' in page
    assert "1 package<" in page
    skills_only = get(url, f"/search?namespace={cat.namespace}&kind=skills").text
    assert f'href="/packages/{cat.main}"' in skills_only and f'href="/packages/{cat.base}"' not in skills_only
    assert "2 packages" in get(url, f"/search?namespace={cat.namespace}&sort=updated").text
    assert "0 packages" in get(url, f"/search?namespace={cat.namespace}&verified=1").text


def test_package_overview_shows_readme_install_command_and_highlighted_code(stack):
    cat, url = stack
    page = get(url, f"/packages/{cat.main}").text
    assert f"rigging add {cat.source.removeprefix('http://').split('/')[0]}/{cat.main}" in page
    assert "1.1.0" in page and "(latest)" in page
    assert '<pre class="highlight"><code><span class="k">def</span>' in page  # Pygments classes, no inline style
    assert "style=" not in page
    older = get(url, f"/packages/{cat.main}?version=1.0.0").text
    assert f"/{cat.main}:1.0.0</code>" in older


@pytest.mark.parametrize(
    ("tab", "expected"),
    [
        ("skills", "Fill in and merge PDF forms"),
        ("rules", "**/*.py"),
        ("workflows", "/release"),
        ("docs", "documentation</h1>"),
        ("docs/usage.md", "Usage</h1>"),
        ("versions", "1.0.0"),
        ("dependencies", "<svg"),
        ("security", "Verdict:"),
        ("agent?target=claude", ".claude/skills/pdf-tools/SKILL.md"),
        ("agent?target=cursor", ".cursor/rules/"),
    ],
)
def test_every_tab_shows_what_the_version_holds(stack, tab, expected):
    cat, url = stack
    page = get(url, f"/packages/{cat.main}/{tab}").text
    assert expected in page, page[:2000]


def test_dependency_graph_links_the_dependency_and_the_dependency_names_its_user(stack):
    cat, url = stack
    page = get(url, f"/packages/{cat.main}/dependencies").text
    svg = page[page.index("<svg") : page.index("</svg>") + 6]
    ET.fromstring(svg)  # noqa: S314 - our own page: checking that the SVG is well-formed XML
    assert f"/packages/{cat.base}" in svg
    used_by = get(url, f"/packages/{cat.base}/dependencies").text
    assert f'href="/packages/{cat.main}"' in used_by


def test_the_agent_preview_is_the_installed_text(stack):
    cat, url = stack
    page = get(url, f"/packages/{cat.main}/agent?target=claude").text
    assert "qpdf --empty" in page  # the skill's script, as install copies it
    get(url, f"/packages/{cat.main}/agent?target=nonsense", status=404)


def test_missing_things_answer_404_pages(stack):
    cat, url = stack
    missing = get(url, f"/packages/{cat.namespace}/nothing-here", status=404)
    assert "text/html" in missing.headers["content-type"]
    get(url, f"/packages/{cat.main}?version=9.9.9", status=404)
    get(url, f"/packages/{cat.main}/docs/not-there.md", status=404)
    get(url, "/review", status=404)  # nobody signed in reviews nothing: the page does not exist


def test_pages_carry_a_strict_content_security_policy(stack):
    _, url = stack
    for path in ("/", "/search?q=x", "/stats", "/nope"):
        response = httpx.get(url + path, timeout=30)
        policy = response.headers["content-security-policy"]
        assert "unsafe-inline" not in policy and "script-src 'self'" in policy and "style-src 'self'" in policy
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "<script>" not in response.text  # only <script src>


def test_stats_page_counts_downloads_per_day_of_what_the_reader_may_see(stack):
    """Downloads arrive as the registry's pull notifications do (store.count_download, which the
    webhook calls); a private namespace's downloads are not an outsider's to see."""
    from rigging_indexer import store
    from rigging_indexer.db import make_engine, sessions
    from rigging_indexer.models import Package, Version
    from sqlalchemy import select

    from tests.support.index_db import add_namespace, add_user, index_version

    cat, url = stack
    factory = sessions(make_engine(cat.database))
    hidden_ns = f"{cat.namespace}-dl"
    add_namespace(factory, hidden_ns, owner=add_user(factory, f"dl-{cat.namespace}"), private=True)
    index_version(factory, f"{hidden_ns}/quiet")
    with factory() as s:
        digests = dict(
            s.execute(
                select(Package.name, Version.content_digest)
                .join(Version, Version.id == Package.latest_version_id)
                .where(Package.name.in_([cat.main, f"{hidden_ns}/quiet"]))
            ).all()
        )
        before = dict(store.downloads_by_day(s, _anonymous()))
        for _ in range(3):
            assert store.count_download(s, digests[cat.main])
        for _ in range(5):
            assert store.count_download(s, digests[f"{hidden_ns}/quiet"])
        s.commit()
        today, counted = store.downloads_by_day(s, _anonymous())[-1]
    assert counted == before.get(today, 0) + 3  # the private package's five are not counted
    page = get(url, "/stats").text
    assert f"{counted} downloads on {today}" in page
    assert "Crawl and scan health" in page and "Scan rules" in page


def _anonymous():
    from rigging_indexer.access import ANONYMOUS

    return ANONYMOUS


def test_private_packages_are_not_shown_to_outsiders(stack, tmp_path):
    """A private namespace's package: not a hit, and its page is the very 404 of one that does not exist."""
    from rigging_indexer.db import make_engine, sessions

    from tests.support.index_db import add_namespace, add_user

    cat, url = stack
    factory = sessions(make_engine(cat.database))
    owner = add_user(factory, f"owner-{cat.namespace}")
    secret_ns = f"{cat.namespace}-secret"
    add_namespace(factory, secret_ns, owner=owner, private=True)
    from tests.support.index_db import index_version

    index_version(factory, f"{secret_ns}/zq7private", description="a secret package")
    assert f"/packages/{secret_ns}/zq7private" not in get(url, "/search?q=secret+package").text
    hidden = get(url, f"/packages/{secret_ns}/zq7private", status=404).text
    absent = get(url, f"/packages/{secret_ns}/zq8missing", status=404).text
    assert hidden.replace("zq7private", "X") == absent.replace("zq8missing", "X")
    # the same package once its namespace is public: the 404s above were the visibility rule's
    from rigging_indexer.models import Namespace
    from sqlalchemy import update

    with factory() as s:
        s.execute(update(Namespace).where(Namespace.name == secret_ns).values(private=False))
        s.commit()
    # another process wrote: the server sees the new search generation within its check interval
    # (20 ms, result_cache), so a page cached before may be served until then, never longer
    deadline = time.monotonic() + 5
    while f"/packages/{secret_ns}/zq7private" not in get(url, "/search?q=secret+package").text:
        assert time.monotonic() < deadline, "the public package never showed in search"
        time.sleep(0.02)
    get(url, f"/packages/{secret_ns}/zq7private")


def test_anonymous_pages_come_from_the_cache_and_signed_in_ones_never(stack):
    cat, url = stack
    path = f"/packages/{cat.main}/rules"
    first = get(url, path)
    again = get(url, path)  # httpx asks for gzip, as browsers do
    assert again.headers["x-rigging-cache"] == "hit" and again.headers["content-encoding"] == "gzip"
    assert again.text == first.text
    plain = httpx.get(url + path, headers={"accept-encoding": "identity"}, timeout=30)
    assert plain.headers["x-rigging-cache"] == "hit" and "content-encoding" not in plain.headers
    assert plain.text == first.text
    with_cookie = httpx.get(url + path, headers={"cookie": "rigging_session=x"}, timeout=30)
    assert "x-rigging-cache" not in with_cookie.headers and with_cookie.text == first.text
