"""Every page behind an account, for every role, against a real node: the roles a page
names open it (and may post its forms), every other role is refused (403) and a
visitor not signed in is sent to sign in. The pages are found from the routes
themselves, so a page added later is in the matrix without being listed here."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from api.app import create_app
from registry.settings import Settings
from tests._browser import demo_users, module_node
from tests._servers import Server

ROLES = ("issuer:CN-SH", "verifier", "enforcement", "admin")
_REFUSED_ROLE = "Your account may not open this page"
_REFUSED_FORM = "The form had expired or did not come from this site"


@dataclass(frozen=True)
class Guarded:
    """A page (one method of one path) and the roles it lets in."""

    method: str
    path: str
    roles: tuple[str, ...]

    def lets_in(self, role: str) -> bool:
        kind = "issuer" if role.startswith("issuer:") else role
        return kind in self.roles or role in self.roles

    @property
    def address(self) -> str:
        """The path with every parameter filled with a value nothing has."""
        return re.sub(r"\{[^}]+\}", "no-such-thing", self.path)


def _roles_of(dependant: Dependant) -> tuple[str, ...] | None:
    for sub in dependant.dependencies:
        roles = getattr(sub.call, "roles", None)
        if roles is not None:
            return tuple(roles)
        found = _roles_of(sub)
        if found is not None:
            return found
    return None


def guarded_pages() -> list[Guarded]:
    """Every route of a node's app that names its roles (built, not served)."""
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(
            data_dir=Path(folder), database_url=f"sqlite:///{folder}/unused.sqlite3"
        )
        app = create_app(settings)
        pages = []
        for prefix, route in _routes(app.routes, ""):
            roles = _roles_of(route.dependant)
            if roles is None:
                continue
            for method in sorted((route.methods or set()) - {"HEAD"}):
                pages.append(Guarded(method, prefix + route.path, roles))
    return pages


def _routes(routes: Sequence[BaseRoute], prefix: str) -> Iterator[tuple[str, APIRoute]]:
    """Every route, inside the routers included in others too (FastAPI keeps an
    included router whole, behind an object with its ``original_router``)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield prefix, route
        inner = getattr(route, "original_router", None)
        if inner is not None:
            context = getattr(route, "include_context", None)
            yield from _routes(inner.routes, prefix + str(getattr(context, "prefix", "")))


PAGES = guarded_pages()


def test_the_matrix_covers_every_desk() -> None:
    """The matrix is not empty by accident: each role's area has pages in it."""
    paths = {page.path for page in PAGES}
    assert any(p.startswith("/desk/") for p in paths)
    for prefix, role in (
        ("/console/", "issuer"),
        ("/inspect/", "enforcement"),
        ("/admin/", "admin"),
    ):
        area = [page for page in PAGES if page.path.startswith(prefix)]
        assert area, f"no page under {prefix}"
        assert all(page.roles == (role,) for page in area), f"{prefix} pages are {role}'s alone"
    assert any(page.method == "POST" for page in PAGES)


node = module_node("roles")


@dataclass
class Browser:
    """An HTTP client holding one person's cookies, and their form token."""

    client: httpx.Client
    token: str

    def ask(self, page: Guarded, *, token: bool = True) -> httpx.Response:
        if page.method == "GET":
            return self.client.get(page.address)
        data: dict[str, Any] = {"csrf_token": self.token} if token else {}
        return self.client.request(page.method, page.address, data=data)


def _token(client: httpx.Client) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', client.get("/sign-in").text)
    assert found is not None
    return found[1]


@pytest.fixture(scope="module")
def people(node: tuple[Server, Path]) -> Iterator[dict[str, Browser]]:
    server, data_dir = node
    users = demo_users(data_dir)
    made: dict[str, Browser] = {}
    for role in (*ROLES, "anonymous"):
        client = httpx.Client(base_url=server.base, cookies={"lang": "en"}, timeout=30)
        token = _token(client)
        if role != "anonymous":
            account = users[role]
            answer = client.post(
                "/sign-in",
                data={**account, "csrf_token": token, "next": "/desk"},
            )
            assert answer.status_code == 303, answer.text
        made[role] = Browser(client, token)
    yield made
    for browser in made.values():
        browser.client.close()


@pytest.mark.parametrize("page", PAGES, ids=lambda p: f"{p.method} {p.path}")
def test_only_the_pages_roles_open_it(page: Guarded, people: dict[str, Browser]) -> None:
    for role in ROLES:
        answer = people[role].ask(page)
        if page.lets_in(role):
            assert answer.status_code != 403, (role, answer.text[:300])
            assert answer.status_code < 500, (role, answer.text[:300])
            assert "/sign-in" not in answer.headers.get("location", ""), role
        else:
            assert answer.status_code == 403, (role, answer.status_code)
            assert _REFUSED_ROLE in answer.text, role
    anonymous = people["anonymous"].ask(page)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/sign-in?next=")


@pytest.mark.parametrize(
    "page", [p for p in PAGES if p.method != "GET"], ids=lambda p: f"{p.method} {p.path}"
)
def test_a_form_posted_without_its_token_is_refused_even_by_its_role(
    page: Guarded, people: dict[str, Browser]
) -> None:
    """Every form of every desk checks its token (CSRF), whoever posts it."""
    for role in ROLES:
        if page.lets_in(role):
            answer = people[role].ask(page, token=False)
            assert answer.status_code == 403, (role, answer.status_code)
            assert _REFUSED_FORM in answer.text, role
