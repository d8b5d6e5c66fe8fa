"""Every form of the pages, fuzzed from the forms themselves.

The pages' forms are not in the OpenAPI document: their schema is the HTML. Signed in
as each demo role (and as a visitor), a browser follows the links from the role's
desk and reads every form it finds (its action, its inputs, selects and text areas);
hypothesis then fills each form's fields with values near and far from what the form
offers and posts it with the browser's own form token, as a person's browser would.
Every answer is a page (HTML) or a redirect to one of ours, never a 500; a refused
post (4xx) changes nothing of the registry's records, accounts or tokens. A form
added later is fuzzed without being listed here, as long as a link leads to it.

Seeded (``derandomize``); ``FUZZ_EXAMPLES`` sets the examples per form (``make fuzz``).
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select, table
from sqlmodel import Session

from api import create_app
from registry.accounts import create_user
from registry.settings import Settings
from registry.storage.db import engine_scope, upgrade
from tests._support import LOOPBACK, seed_demo_node

_EXAMPLES = max(2, int(os.environ.get("FUZZ_EXAMPLES", "10")) // 3)
_MOST_PAGES = int(os.environ.get("FUZZ_PAGES", "12"))
_ROLES = {
    "issuer:CN-SH": "/console",
    "verifier": "/desk",
    "enforcement": "/inspect",
    "admin": "/admin/users",
    "anonymous": "/",
}
# Not pages (downloads, switching language, assets), and posts that end the session.
_NOT_PAGES = re.compile(
    r"^/(static/|lang/|docs/|v1/|openapi)|\.(pdf|xlsx|csv|json|svg|png)$"
    r"|/(template|download|receipt\.(csv|xlsx)|results\.xlsx|check\.(pdf|json))(/|$)"
)
_NOT_POSTED = re.compile(r"^/sign-out$")
# The fuzzing accounts' names begin so; the pages of their accounts are not crawled
# (an administrator's form there would disable the browser fuzzing another desk).
_FUZZ = "fuzz-"
_ID = re.compile(
    r"/(?:[0-9a-f]{8}-[0-9a-f-]{27}|urn(?::|%3A)[^/]+|[0-9]+|[A-Za-z0-9_.-]{20,})(?=/|$)"
)
# What a refused post must leave as it was.
_KEPT = ("credential", "status_change", "user_account", "api_token", "subscription", "record")


@dataclass
class Form:
    """A form as a page shows it."""

    page: str
    action: str
    multipart: bool
    fields: list[tuple[str, str, list[str]]] = field(default_factory=list)
    """Each field's name, kind (an input's type, ``select`` or ``textarea``) and the
    values the page offers (its value, or a select's options)."""

    @property
    def kind(self) -> str:
        names = ",".join(sorted({name for name, _, _ in self.fields}))
        return f"{_ID.sub('/{id}', self.action)} [{names}]"


class _Forms(HTMLParser):
    def __init__(self, page: str) -> None:
        super().__init__()
        self.page = page
        self.forms: list[Form] = []
        self.links: list[str] = []
        self._form: Form | None = None
        self._select: tuple[str, list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "a" and a.get("href"):
            self.links.append(urljoin(self.page, a["href"]))
        elif tag == "form" and a.get("method", "get").lower() == "post":
            action = urljoin(self.page, a.get("action") or self.page)
            multipart = a.get("enctype", "") == "multipart/form-data"
            self._form = Form(self.page, action, multipart)
            self.forms.append(self._form)
        elif self._form is None or not a.get("name"):
            return
        elif tag == "input":
            kind = a.get("type", "text").lower()
            if kind not in ("submit", "button", "reset", "image"):
                self._form.fields.append((a["name"], kind, [a.get("value", "")]))
        elif tag == "textarea":
            self._form.fields.append((a["name"], "textarea", [""]))
        elif tag == "select":
            self._select = (a["name"], [])
            self._form.fields.append((a["name"], "select", self._select[1]))
        if tag == "option" and self._select is not None:
            self._select[1].append(a.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None


@dataclass
class _Site:
    client: TestClient
    engine: Engine
    """The node's database, read to see that a refused post changed nothing."""
    browsers: dict[str, TestClient]
    forms: list[tuple[str, Form]]


def _form_token(client: TestClient) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', client.get("/sign-in").text)
    assert found is not None
    return found[1]


def _crawl(browser: TestClient, start: str, avoid: str) -> list[Form]:
    """The forms of the pages reached from ``start``, one page of each kind."""
    seen: set[str] = set()
    queue = [start]
    found: list[Form] = []
    while queue and len(seen) < _MOST_PAGES:
        path = queue.pop(0)
        kind = _ID.sub("/{id}", urlsplit(path).path)
        if kind in seen:
            continue
        seen.add(kind)
        answer = browser.get(path)
        if answer.status_code != 200 or "text/html" not in answer.headers["content-type"]:
            continue
        parser = _Forms(str(answer.url).removeprefix("http://testserver"))
        parser.feed(answer.text)
        found.extend(parser.forms)
        for link in parser.links:
            target = urlsplit(link)
            if target.netloc not in ("", "testserver") or avoid in link:
                continue
            if _NOT_PAGES.search(target.path) or target.path in ("/sign-out",):
                continue
            queue.append(target.path + (f"?{target.query}" if target.query else ""))
    return found


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Site]:
    root = tmp_path_factory.mktemp("pages-fuzz")
    url = f"sqlite:///{root / 'registry.sqlite3'}"
    with engine_scope(url) as engine:
        upgrade(engine)
    # As the `settings` fixture has them: the demo seeded for those is copied.
    node = Settings(
        data_dir=root / "data",
        database_url=url,
        webhook_allowed_networks=LOOPBACK.allowed,
        demo=True,
    )
    seed_demo_node(node)
    passwords = {}
    with engine_scope(url) as engine, Session(engine) as session:
        for role in _ROLES:
            if role == "anonymous":
                continue
            company = "91310104MA1FR0014R" if role == "verifier" else None
            name = _FUZZ + role.replace(":", "-").lower()
            _, passwords[name] = create_user(session, name, role=role, company_code=company)
        session.commit()
    app = create_app(node)
    browsers: dict[str, TestClient] = {}
    forms: dict[str, tuple[str, Form]] = {}
    with TestClient(app) as client:
        for role, start in _ROLES.items():
            # Each role's browser shares the app the lifespan of `client` runs.
            browser = TestClient(app, cookies={"lang": "en"})
            browsers[role] = browser
            name = _FUZZ + role.replace(":", "-").lower()
            if role != "anonymous":
                answer = browser.post(
                    "/sign-in",
                    data={
                        "username": name,
                        "password": passwords[name],
                        "csrf_token": _form_token(browser),
                        "next": start,
                    },
                    follow_redirects=False,
                )
                assert answer.status_code == 303, answer.text[:300]
            for form in _crawl(browser, start, avoid=_FUZZ):
                if not _NOT_POSTED.match(urlsplit(form.action).path):
                    forms.setdefault(f"{role} {form.kind}", (role, form))
        with engine_scope(url) as engine:
            found = sorted(forms.values(), key=lambda f: f[1].kind)
            yield _Site(client, engine, browsers, found)


def _kept(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            name: connection.execute(select(func.count()).select_from(table(name))).scalar_one()
            for name in _KEPT
        }


_ODD = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        ["", " ", "0", "-1", "9" * 30, "2026-02-30", "<script>", "上海", "CN-XX", "\x00"]
    ),
)


def _value(kind: str, offered: list[str]) -> st.SearchStrategy[str | None]:
    """A field's value: what the page offers, or something near or far from it (None:
    the field left out)."""
    near = st.sampled_from(offered) if offered else st.just("")
    return st.one_of(near, _ODD, st.none()) if kind != "hidden" else st.one_of(near, near, _ODD)


def test_the_crawl_found_each_roles_forms(site: _Site) -> None:
    """The fuzz below is not empty by accident: each desk has forms."""
    roles = {role for role, _ in site.forms}
    assert {"issuer:CN-SH", "verifier", "enforcement", "admin", "anonymous"} <= roles, roles
    assert len(site.forms) >= 15, [form.kind for _, form in site.forms]


def _fuzz(site: _Site, role: str, form: Form) -> Counter[int]:
    """Post the form with fuzzed fields as ``role``'s browser; raises on a wrong answer.
    Returns how many answers of each status it had."""
    answered: Counter[int] = Counter()
    browser = site.browsers[role]
    token = _form_token(browser)
    fields = [(n, k, o) for n, k, o in form.fields if n != "csrf_token" and k != "file"]
    files = [n for n, k, _ in form.fields if k == "file"]

    @given(
        values=st.tuples(*(_value(k, o) for _, k, o in fields)),
        upload=st.binary(max_size=200),
    )
    @settings(
        max_examples=_EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(values: tuple[str | None, ...], upload: bytes) -> None:
        data: dict[str, Any] = {"csrf_token": token}
        for (name, _, _), value in zip(fields, values, strict=True):
            if value is not None:
                data[name] = value
        before = _kept(site.engine)
        answer = browser.post(
            form.action,
            data=data,
            files=dict.fromkeys(files, ("fuzz.csv", upload, "text/csv")) or None,
            follow_redirects=False,
        )
        answered[answer.status_code] += 1
        assert answer.status_code < 500, answer.text[:500]
        if answer.status_code in (301, 302, 303, 307):
            assert answer.headers["location"].startswith("/"), answer.headers["location"]
            return
        media = answer.headers.get("content-type", "")
        if answer.status_code >= 400:
            assert "text/html" in media, (answer.status_code, media)
            assert _kept(site.engine) == before, "a refused form changed the registry"
        else:  # a page, or a file the form made (an answer table, a PDF) to download
            download = "attachment" in answer.headers.get("content-disposition", "")
            assert "text/html" in media or download, (answer.status_code, media)

    fuzz()
    return answered


def test_every_form_answers_any_input_with_a_page(site: _Site) -> None:
    failures: list[str] = []
    for role, form in site.forms:
        try:
            answered = _fuzz(site, role, form)
            print(f"{role} {form.kind}: {answered.total()} posts, answers {dict(answered)}")
        except Exception as exc:  # each form's failure is kept
            failures.append(f"{role} {form.kind} (from {form.page}): {type(exc).__name__}: {exc}")
    assert failures == [], "\n\n".join(failures)
