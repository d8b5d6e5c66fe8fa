"""Every page a person can reach, for each role, passes axe-core's check and breaks no
rule of its Content-Security-Policy: a browser signed in as each demo account (and one
not signed in) follows every link the pages show, from the role's desk, and checks
each kind of page it finds once. So a page added later is checked without being
listed here, as long as a link leads to it. The pages whose scripts do the most, a
certificate's (WebCrypto and fetches) and the API explorer, are checked too."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from registry.demo.records import DEMO_ENGINEERS
from tests._browser import (
    Visit,
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


# Before any script of the page: every breach of its policy, kept where the test reads it
# (Playwright's init scripts are not subject to the page's policy).
_WATCH = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(
    `${event.effectiveDirective} blocked ${event.blockedURI || "inline"}`
      + ` at ${event.sourceFile}:${event.lineNumber}`
  );
});
"""

node = module_node("crawl")


def _watched(visit: Visit) -> tuple[Page, list[str]]:
    """A page that records every breach of its Content-Security-Policy, as reported
    both to the page and on the browser's console."""
    visit.context.add_init_script(_WATCH)
    page = visit.page()
    console: list[str] = []
    page.on(
        "console",
        lambda message: (
            console.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return page, console


def _breaches(page: Page, console: list[str]) -> list[str]:
    found: list[str] = page.evaluate("window.__cspViolations || []")
    return found + console


@pytest.mark.parametrize("role", ["issuer:CN-SH", "verifier", "enforcement", "admin", None])
def test_every_page_a_role_reaches_passes_the_accessibility_check(
    browser: Browser, node: tuple[Server, Path], role: str | None
) -> None:
    server, data_dir = node
    visit = new_visit(browser, server.base)
    page, console = _watched(visit)
    start = "/"
    if role is not None:
        account = demo_users(data_dir)[role]
        sign_in(page, account["username"], account["password"])
        start = "/desk"
    queue, seen = [start], {_kind(start)}
    checked: list[str] = []
    failures: dict[str, list[str]] = {}
    breaches: dict[str, list[str]] = {}
    while queue and len(checked) < _MOST:
        path = queue.pop(0)
        answer = page.goto(path)
        assert answer is not None
        assert answer.status < 500, path
        checked.append(path)
        found = axe_violations(page)
        if found:
            failures[path] = found
        broken = _breaches(page, console)
        if broken:
            breaches[path] = broken
        console.clear()
        for href in page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)"):
            parts = urlsplit(href)
            if parts.netloc != urlsplit(server.base).netloc or _NOT_PAGES.search(parts.path):
                continue
            kind = _kind(parts.path)
            if kind not in seen:
                seen.add(kind)
                queue.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    assert failures == {}
    assert breaches == {}
    assert visit.elsewhere() == []
    if role is not None:
        assert len(checked) >= 4, checked  # the desk and its pages, at least
    visit.context.close()


def test_a_certificate_checks_itself_within_the_pages_policy(
    browser: Browser, node: tuple[Server, Path]
) -> None:
    server, data_dir = node
    tokens = json.loads((data_dir / "secrets" / "demo-tokens.json").read_text(encoding="utf-8"))
    wang = next(e for e in DEMO_ENGINEERS if e.registered_by == "CN-SH")
    report = httpx.post(
        f"{server.base}/v1/verify/engineer",
        json={"id_number": wang.id_number, "region": "CN-SH"},
        headers={"Authorization": f"Bearer {tokens['verifier']}"},
        timeout=30,
    ).json()
    registration = report["credentialSubject"]["registration"]["id"]
    people = httpx.get(
        f"{server.base}/v1/credentials/{registration}/disclosures",
        headers={"Authorization": f"Bearer {tokens['issuer:CN-SH']}"},
        timeout=30,
    ).json()["disclosures"]
    # The holder's address: its fragment carries the disclosure the page checks with.
    address = next(p["qr_text"] for p in people if p["role"] == "holder")
    visit = new_visit(browser, server.base)
    page, console = _watched(visit)
    page.goto(address)
    check = page.locator("#check")
    expect(check).to_have_attribute("data-done", re.compile("valid|invalid"), timeout=15_000)
    assert check.get_attribute("data-done") == "valid"
    assert _breaches(page, console) == []
    assert visit.elsewhere() == []
    visit.context.close()


def test_the_api_explorer_runs_within_its_policy(
    browser: Browser, node: tuple[Server, Path]
) -> None:
    server, _ = node
    visit = new_visit(browser, server.base)
    page, console = _watched(visit)
    page.goto("/docs/explorer")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("safety-engineer registry")
    # An operation tried, as a person trying the API does: its answer shown highlighted.
    operation = page.locator(".opblock", has_text="/v1/authorities").first
    operation.locator(".opblock-summary").first.click()
    operation.get_by_role("button", name="Try it out").click()
    operation.get_by_role("button", name="Execute").click()
    answered = operation.locator(".live-responses-table tbody td.response-col_status")
    expect(answered.first).to_contain_text("200")
    expect(operation.locator(".live-responses-table .highlight-code").first).to_be_visible()
    assert _breaches(page, console) == []
    assert visit.elsewhere() == []
    visit.context.close()
