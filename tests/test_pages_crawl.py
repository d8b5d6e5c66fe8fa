"""Every page a person can reach, for each role, passes axe-core's check: a browser
signed in as each demo account (and one not signed in) follows every link the pages
show, from the role's desk, and checks each kind of page it finds once. So a page
added later is checked without being listed here, as long as a link leads to it."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser

from tests._browser import (
    axe_violations,
    demo_users,
    module_node,
    new_visit,
    sign_in,
)
from tests._servers import Server

# Links not to a page: downloads, leaving, switching language, the vendored explorer.
_NOT_PAGES = re.compile(
    r"^/(static/|sign-out|lang/|docs/explorer)"
    r"|\.(pdf|xlsx|csv|json|svg|png)$"
    r"|/(template|download|receipt\.(csv|xlsx)|results\.xlsx|check\.(pdf|json))(/|$)"
)
_ID = re.compile(
    r"/(?:[0-9a-f]{8}-[0-9a-f-]{27}|urn(?::|%3A)[^/]+|[0-9]+|[A-Za-z0-9_-]{20,})(?=/|$)"
)
_MOST = 60


def _kind(path: str) -> str:
    """The page's kind: its path with every id in it made the same."""
    return _ID.sub("/{id}", path)


node = module_node("crawl")


@pytest.mark.parametrize("role", ["issuer:CN-SH", "verifier", "enforcement", "admin", None])
def test_every_page_a_role_reaches_passes_the_accessibility_check(
    browser: Browser, node: tuple[Server, Path], role: str | None
) -> None:
    server, data_dir = node
    visit = new_visit(browser, server.base)
    page = visit.page()
    start = "/"
    if role is not None:
        account = demo_users(data_dir)[role]
        sign_in(page, account["username"], account["password"])
        start = "/desk"
    queue, seen = [start], {_kind(start)}
    checked: list[str] = []
    failures: dict[str, list[str]] = {}
    while queue and len(checked) < _MOST:
        path = queue.pop(0)
        answer = page.goto(path)
        assert answer is not None
        assert answer.status < 500, path
        checked.append(path)
        found = axe_violations(page)
        if found:
            failures[path] = found
        for href in page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)"):
            parts = urlsplit(href)
            if parts.netloc != urlsplit(server.base).netloc or _NOT_PAGES.search(parts.path):
                continue
            kind = _kind(parts.path)
            if kind not in seen:
                seen.add(kind)
                queue.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    assert failures == {}
    assert visit.elsewhere() == []
    if role is not None:
        assert len(checked) >= 4, checked  # the desk and its pages, at least
    visit.context.close()
