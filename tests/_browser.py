"""The pages in a real browser: Debian's Chromium driven by Playwright, against a real
``registry serve --demo`` node, with axe-core's accessibility check and a record of
every address the browser asked for.

``make test`` installs Chromium (``scripts/ensure-chromium``); without it these tests
fail saying so, they are never skipped. One browser serves a whole module (the
``browser`` fixture of ``tests/conftest.py``). Screenshots go to ``REGISTRY_SCREENSHOTS``
(default: the test's temporary directory); the main ones are copied to ``docs/``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    expect,
    sync_playwright,
)

from devtools.browser import launch_chromium
from tests._servers import Server, Servers

__all__ = [
    "DESK_SETTINGS",
    "Visit",
    "axe_violations",
    "checked",
    "demo_node",
    "launch",
    "module_node",
    "screenshot",
    "sign_in",
    "sign_in_as",
]

_SERIOUS = ("serious", "critical")


def launch(playwright: Playwright) -> Browser:
    """Chromium, headless, as the registry's tests run it; the test fails (never
    skips) when it is missing."""
    try:
        return launch_chromium(playwright)
    except FileNotFoundError as exc:
        pytest.fail(str(exc))


@contextmanager
def demo_node(root: Path, settings: dict[str, str] | None = None) -> Iterator[tuple[Server, Path]]:
    """A real ``registry serve --demo`` node on SQLite in ``root`` (``make run``'s
    shape), with more ``REGISTRY_*`` ``settings``; the server and its data directory."""
    servers = Servers(root)
    data_dir = root / "data"
    url = f"sqlite:///{data_dir / 'registry.sqlite3'}"
    try:
        yield servers.start(url, data_dir, settings=settings), data_dir
    finally:
        servers.stop_all()


@dataclass
class Visit:
    """A browser context at one node that records every address it asked for."""

    base: str
    context: BrowserContext
    asked: list[str] = field(default_factory=list)

    def page(self) -> Page:
        page = self.context.new_page()
        page.on("request", lambda request: self.asked.append(request.url))
        return page

    def elsewhere(self) -> list[str]:
        """What the browser asked of anything but the node."""
        node = urlsplit(self.base).netloc
        return [
            url
            for url in self.asked
            if urlsplit(url).scheme not in ("data", "blob", "about")
            and urlsplit(url).netloc != node
        ]


def playwright_session() -> Iterator[Playwright]:
    with sync_playwright() as playwright:
        yield playwright


def new_visit(browser: Browser, base: str, *, phone: bool = False, **options: Any) -> Visit:
    """A fresh browser context (its own cookies) at ``base``; a phone's screen if asked."""
    if phone:
        options.update(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    context = browser.new_context(base_url=base, **options)
    context.set_default_timeout(15_000)
    return Visit(base, context)


def sign_in(page: Page, username: str, password: str, *, next_path: str = "/desk") -> None:
    """Sign in through the form, as a person does."""
    page.goto(f"/sign-in?next={next_path}")
    page.get_by_label(re.compile("用户名|User name")).fill(username)
    page.get_by_label(re.compile("^(密码|Password)$")).fill(password)
    page.get_by_role("button", name=re.compile("^(登录|Sign in)$")).click()


def axe_violations(page: Page) -> list[str]:
    """axe-core's serious and critical violations on the page, one line each."""
    results = Axe().run(page)
    found = results.response.get("violations", [])
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in found
        if v.get("impact") in _SERIOUS
    ]


def screenshot(page: Page, name: str, tmp_path: Path) -> Path:
    """Save the whole page as ``name``.png where screenshots go."""
    folder = Path(os.environ.get("REGISTRY_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def demo_users(data_dir: Path) -> dict[str, dict[str, str]]:
    """The demo's accounts and passwords, as ``make run`` saved them."""
    saved: dict[str, dict[str, str]] = json.loads(
        (data_dir / "secrets" / "demo-users.json").read_text(encoding="utf-8")
    )
    return saved


DESK_SETTINGS = {"REGISTRY_SIGN_IN_DELAY_SECONDS": "0"}
"""A demo node's settings for the desks' tests: no wait after a refused sign-in."""


def module_node(name: str, settings: dict[str, str] | None = None) -> Callable[..., Any]:
    """A module-scoped ``node`` fixture: one demo node on SQLite for the module
    (``make run``'s shape), in a folder named ``name``; ``(server, data directory)``."""

    @pytest.fixture(scope="module")
    def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path]]:
        with demo_node(tmp_path_factory.mktemp(name), settings or DESK_SETTINGS) as found:
            yield found

    return node


def checked(page: Page, visit: Visit) -> None:
    """axe-core finds nothing serious on the page, and the browser asked nothing of any
    address but the node's."""
    assert axe_violations(page) == []
    assert visit.elsewhere() == []


def sign_in_as(page: Page, data_dir: Path, role: str, next_path: str) -> None:
    """Sign in as the demo's account of ``role`` and land on ``next_path``."""
    account = demo_users(data_dir)[role]
    sign_in(page, account["username"], account["password"], next_path=next_path)
    expect(page).to_have_url(re.compile(re.escape(next_path) + "$"))
