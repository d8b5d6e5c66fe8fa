"""The pages' OWASP ASVS requirements that no other test shows (docs/security.md,
"OWASP ASVS level 2: the pages"): where a visitor is sent back to, markup typed into a
form, what the browser may keep, the sign-out on every signed-in page, the password
field and what passwords may be, no default accounts, no cross-origin reads, nothing
served but the static files, and what the pages' own scripts do. Through the app, over
HTTPS, as a browser reaches it."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.app import create_app
from registry.accounts import create_user, list_users
from registry.crypto.keys import KeyStore
from registry.demo.startup import seed_demo_users
from registry.settings import Settings
from registry.storage.db import engine_scope, session_scope
from tests._support import found_federation

ADMIN = ("asvs.admin", "correct horse battery staple")
# What these check does not depend on the database: PostgreSQL alone (sessions and
# accounts are checked on both).
_ONE_DATABASE = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
_SCRIPTS = Path(__file__).resolve().parent.parent / "web" / "static" / "js"


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    settings = settings.model_copy(update={"sign_in_delay_seconds": 0})
    with engine_scope(settings.database_url) as engine, session_scope(engine) as session:
        create_user(session, ADMIN[0], role="admin", password=ADMIN[1])
    return create_app(settings)


def _client(app: FastAPI) -> TestClient:
    return TestClient(app, base_url="https://testserver")


def _token(answer: Any) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', answer.text)
    assert found is not None, answer.text[:300]
    return found[1]


def _sign_in(client: TestClient, username: str, password: str, next_path: str = "/desk") -> Any:
    form = client.get("/sign-in")
    return client.post(
        "/sign-in",
        data={
            "username": username,
            "password": password,
            "csrf_token": _token(form),
            "next": next_path,
        },
        follow_redirects=False,
    )


_ELSEWHERE = [
    "https://elsewhere.example/desk",
    "//elsewhere.example/desk",
    "/\\elsewhere.example",
    "javascript:alert(1)",
    "http:/elsewhere.example",
]


@_ONE_DATABASE
def test_a_visitor_is_sent_back_only_to_a_page_of_this_site(app: FastAPI) -> None:
    with _client(app) as client:
        for target in _ELSEWHERE:
            form = client.get("/sign-in", params={"next": target})
            assert 'name="next" value="/desk"' in form.text, target
            switched = client.get("/lang/en", params={"next": target}, follow_redirects=False)
            assert switched.headers["location"] == "/", target
        for target in _ELSEWHERE[:2]:  # posted as the form's own field
            signed = _sign_in(client, *ADMIN, next_path=target)
            assert signed.status_code == 303
            assert signed.headers["location"] == "/desk", target
        back = _sign_in(client, *ADMIN, next_path="/admin/users?page=2")
        assert back.headers["location"] == "/admin/users?page=2"


@_ONE_DATABASE
def test_markup_typed_into_a_form_comes_back_as_text(app: FastAPI) -> None:
    typed = '"><script>alert(1)</script><img src=x>'
    with _client(app) as client:
        refused = _sign_in(client, typed, "not the password")
    assert refused.status_code == 401
    assert "<script>alert(1)" not in refused.text
    assert "<img src=x>" not in refused.text
    assert "&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x&gt;" in refused.text


_SIGNED_IN_PAGES = ("/desk", "/admin", "/admin/users", "/admin/tokens", "/admin/audit")


def test_signed_in_pages_are_kept_by_no_cache_and_offer_the_sign_out(app: FastAPI) -> None:
    with _client(app) as client:
        assert _sign_in(client, *ADMIN).status_code == 303
        for path in _SIGNED_IN_PAGES:
            page = client.get(path)
            assert page.status_code == 200, path
            assert page.headers["cache-control"] == "no-store", path
            assert page.headers["content-type"] == "text/html; charset=utf-8", path
            sign_out = re.search(r'<form[^>]*action="/sign-out"[^>]*>(.*?)</form>', page.text, re.S)
            assert sign_out is not None, path
            assert 'method="post"' in sign_out[0]
            assert f'value="{_token(page)}"' in sign_out[1]
        out = client.post("/sign-out", data={"csrf_token": _token(page)}, follow_redirects=False)
        assert out.status_code == 303
        assert out.headers["clear-site-data"] == '"cache", "storage"'
        assert (
            client.get("/desk", follow_redirects=False).headers["location"].startswith("/sign-in")
        )
    with _client(app) as visitor:
        for path in ("/", "/sign-in", "/lookup"):
            assert visitor.get(path).headers["cache-control"] == "no-store", path


@_ONE_DATABASE
def test_the_password_field_is_masked_and_open_to_password_managers(app: FastAPI) -> None:
    with _client(app) as client:
        form = client.get("/sign-in").text
    field = re.search(r'<input id="password"[^>]*>', form)
    assert field is not None
    assert 'type="password"' in field[0]
    assert 'autocomplete="current-password"' in field[0]
    assert 'maxlength="256"' in field[0]
    assert "onpaste" not in form
    assert 'autocomplete="off"' not in form
    # A name and a password, nothing else: no hint, no secret question.
    sign_in = re.search(r'<form[^>]*action="/sign-in".*?</form>', form, re.S)
    assert sign_in is not None
    names = re.findall(r'<input[^>]*name="([^"]+)"', sign_in[0])
    assert sorted(names) == ["csrf_token", "next", "password", "username"]


def test_a_long_password_of_any_characters_is_taken_exactly_as_typed(
    app: FastAPI, engine: Engine
) -> None:
    password = "长江三角洲 safety ENGINEERS' registry, 2026 — no rules on what it holds! " * 2
    assert len(password) >= 64
    with session_scope(engine) as session:
        create_user(session, "long.password", role="enforcement", password=password)
    with _client(app) as client:
        for wrong in (password.upper(), password[:64], password.strip() + "x"):
            assert _sign_in(client, "long.password", wrong).status_code == 401
        assert _sign_in(client, "long.password", password).status_code == 303


def test_no_account_exists_until_one_is_made_and_the_demos_are_made_at_random(
    engine: Engine, key_store: KeyStore
) -> None:
    with session_scope(engine) as session:
        found_federation(session, key_store, now=datetime.now(UTC), genesis=False)
        assert list_users(session) == []
        first = seed_demo_users(session)
        assert seed_demo_users(session) == {}  # made once, never reset to a default
    passwords = [account["password"] for account in first.values()]
    assert len(passwords) == 4
    assert len(set(passwords)) == 4
    for account in first.values():
        assert len(account["password"]) >= 16
        assert account["username"] not in account["password"]
    with session_scope(engine) as session:
        hashes = [user.password_hash for user in list_users(session)]
    assert all(hashed.startswith("$argon2id$") for hashed in hashes)
    assert not any(password in hashed for password in passwords for hashed in hashes)


@_ONE_DATABASE
def test_no_other_origin_may_read_an_answer(app: FastAPI) -> None:
    origin = {"Origin": "https://elsewhere.example"}
    with _client(app) as client:
        for path in ("/", "/v1/authorities", "/openapi.json"):
            answer = client.get(path, headers=origin)
            assert "access-control-allow-origin" not in answer.headers, path
            assert "access-control-allow-credentials" not in answer.headers, path
        preflight = client.options(
            "/v1/authorities",
            headers={**origin, "Access-Control-Request-Method": "GET"},
        )
        assert "access-control-allow-origin" not in preflight.headers


@_ONE_DATABASE
def test_nothing_is_served_but_the_static_files_and_no_trace(app: FastAPI) -> None:
    with _client(app) as client:
        assert client.get("/static/js/verify.js").status_code == 200
        for path in (
            "/static/",
            "/static/js/",
            "/static/../registry/settings.py",
            "/static/%2e%2e/registry/settings.py",
            "/.git/config",
            "/.env",
            "/pyproject.toml",
        ):
            answer = client.get(path)
            assert answer.status_code == 404, path
            assert "BaseSettings" not in answer.text, path
        assert client.request("TRACE", "/").status_code == 405


_UNSAFE_IN_SCRIPTS = {
    "markup written from a string": (
        r"\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write"
    ),
    "code run from a string": r"\beval\s*\(|new\s+Function\s*\(|set(Timeout|Interval)\s*\(\s*['\"]",
    "browser storage": r"localStorage|sessionStorage|indexedDB|document\.cookie",
    "cross-window messages": r"postMessage|addEventListener\(\s*['\"]message['\"]",
}


def test_the_pages_scripts_write_text_run_no_strings_and_keep_nothing() -> None:
    scripts = sorted(_SCRIPTS.glob("*.js"))
    assert len(scripts) >= 4
    found = [
        f"{script.name}: {what}"
        for script in scripts
        for what, pattern in _UNSAFE_IN_SCRIPTS.items()
        if re.search(pattern, script.read_text(encoding="utf-8"))
    ]
    assert found == []
    # What they show, they show as text.
    assert any("textContent" in script.read_text(encoding="utf-8") for script in scripts)
