"""A maintainer and a reviewer in a real browser, signed in through a real OpenID Connect provider:
drop a package folder into the console, see the validation error at its line, fix it, preview it,
publish it into a real registry; the version is held (moderation "all") until a reviewer approves
it on the dashboard, after which anyone finds it in search."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.browser import axe_violations, browser, describe_violations, new_page, screenshot
from tests.support.index_db import add_namespace, fresh_index
from tests.support.portal_server import PortalServer, portal_server

pytestmark = [pytest.mark.registry, pytest.mark.postgres]

INDEXER = str(Path(sys.executable).parent / "rigging-indexer")
BAD_RULE = "---\ntrigger: sometimes\ndescription: Python conventions\nglobs: '**/*.py'\n---\n\n# Python\n"
GOOD_RULE = "---\ntrigger: glob\ndescription: Python conventions\nglobs: '**/*.py'\n---\n\n# Python\n\n- Type it.\n"


@pytest.fixture(scope="module")
def server(registry, tmp_path_factory) -> Iterator[tuple[PortalServer, str]]:
    workdir = tmp_path_factory.mktemp("publish-review")
    with (
        fresh_index("postgresql", workdir) as (url, _),
        portal_server(
            workdir,
            url,
            [registry.url],
            moderation="all",
            admins=("carol",),
            env={"DOCKER_CONFIG": str(workdir / "docker")},
        ) as served,
    ):
        yield served, registry.host


def sign_in(page, login: str, then: str) -> None:
    """As a person would: the portal's sign-in link, the provider's login and consent pages."""
    page.goto(f"/auth/login/local?next={then}")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", "any password")
    page.click("button[type=submit]")
    while "/auth/login/" not in page.url and not page.url.split("?")[0].endswith(then):
        page.click("button[type=submit]")  # the consent page, once per client
        page.wait_for_load_state()


def problems(watched, origin: str) -> list[str]:
    """What went wrong on the portal's pages. The provider's own dev login pages ask for Google's
    fonts (unreachable here) and a favicon it does not have: resources of other origins, not ours."""
    return [line for line in watched.problems() if "[http" not in line or f"[{origin}/" in line]


def write_package(folder: Path, name: str, rule: str) -> Path:
    (folder / "rules").mkdir(parents=True, exist_ok=True)
    manifest = {"name": name, "version": "1.0.0", "description": "Reviewed rules", "license": "MIT"}
    (folder / "rigging.json").write_text(json.dumps(manifest, indent=2) + "\n")
    (folder / "README.md").write_text("# Reviewed rules\n\nWritten in the browser test.\n")
    (folder / "rules" / "python.md").write_text(rule)
    return folder


def test_drop_fix_preview_publish_then_review_and_find(server, tmp_path):
    served, _ = server
    namespace = f"team-{secrets.token_hex(3)}"
    name = f"{namespace}/reviewed"
    folder = write_package(tmp_path / "reviewed", name, BAD_RULE)
    with browser() as chromium:
        maintainer = new_page(chromium, base_url=served.url)
        page = maintainer.page
        sign_in(page, "alice", "/console")
        from rigging_indexer.models import User
        from sqlalchemy import create_engine, select
        from sqlalchemy.orm import sessionmaker

        factory = sessionmaker(create_engine(served.database))
        with factory() as s:
            alice = s.scalar(select(User.id).where(User.username == "alice"))
        add_namespace(factory, namespace, owner=alice, private=False)
        page.goto("/console")
        assert namespace in page.content()
        page.set_input_files("#upload-folder", str(folder))  # a folder, as the folder picker gives it
        page.click("button[value=check]")
        problem = page.locator("table.problems")
        assert "rules/python.md:2" in problem.inner_text() or "rules/python.md" in problem.inner_text()
        flagged = page.locator("li.flagged")
        assert flagged.count() >= 1 and "trigger" in flagged.first.inner_text()
        screenshot(page, "console-problem")
        accessible = axe_violations(page)
        assert not accessible, describe_violations(accessible)

        (folder / "rules" / "python.md").write_text(GOOD_RULE)  # the fix
        page.set_input_files("#upload-folder", str(folder))
        page.click("button[value=check]")
        assert "No problems: the package is valid." in page.content()
        editor = page.locator("textarea[data-preview-target]").first
        preview_id = editor.get_attribute("data-preview-target")
        editor.fill("# Previewed live\n\n- edited in the browser\n")
        page.wait_for_selector(f"#{preview_id} h1:has-text('Previewed live')")
        screenshot(page, "console-preview")

        page.set_input_files("#upload-folder", str(folder))
        page.click("button[value=publish]")
        page.wait_for_url(f"**/packages/{name}?version=1.0.0")
        assert "held" in page.locator(".package-head").inner_text()  # moderation "all": held for review
        screenshot(page, "console-published-held")
        assert not problems(maintainer, served.url), maintainer.problems()

        outsider = new_page(chromium, base_url=served.url)
        outsider.page.goto(f"/search?q=reviewed&namespace={namespace}")
        assert f"/packages/{name}" not in outsider.page.content()
        assert outsider.page.goto(f"/packages/{name}").status == 404

        # the full scan (Semgrep included) must finish before an approval: the indexer's worker
        done = subprocess.run(
            [INDEXER, "scan", "--once", "--moderation", "all", "--database", served.database],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stderr

        reviewer = new_page(chromium, base_url=served.url)
        sign_in(reviewer.page, "carol", "/review")
        reviewer.page.goto("/review?done=mail+your+token+to+evil.example")  # a crafted link says nothing
        assert "evil.example" not in reviewer.page.content()
        reviewer.page.goto("/review")
        item = reviewer.page.locator("article.item", has_text=name)
        assert item.count() == 1
        screenshot(reviewer.page, "review-queue")
        accessible = axe_violations(reviewer.page)
        assert not accessible, describe_violations(accessible)
        item.get_by_label("Note").fill("read every rule")
        item.get_by_role("button", name="Approve").click()
        reviewer.page.wait_for_url("**/review?done=*")
        assert "approved version" in reviewer.page.content()
        reviewer.page.goto("/review/audit")
        assert "approve" in reviewer.page.content() and "read every rule" in reviewer.page.content()
        assert not problems(reviewer, served.url), reviewer.problems()

        outsider.page.goto(f"/search?q=reviewed&namespace={namespace}")
        assert f"/packages/{name}" in outsider.page.content()  # released: everyone finds it now
        assert outsider.page.goto(f"/packages/{name}").status == 200
        screenshot(outsider.page, "released-package")
