"""Every cookie the pages set (the form token's, the session's, the language's, the
sealed secret an administrator is shown once) is ``HttpOnly``, ``Path=/`` with no
``Domain``, ``SameSite``, and over HTTPS ``Secure`` under a ``__Host-`` name; over
plain HTTP the pages keep working with bare names. Signing in ends the session the
browser had; signing out deletes the cookies with the attributes they were set with; a
session unused for ``IDLE_MINUTES`` signs no one in (its activity stamp, renewed by
each page, is too old).
Through the app as a browser would reach it, over ``https://`` and ``http://``."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from registry.accounts import create_user
from registry.settings import Settings
from registry.storage.db import engine_scope, session_scope
from web.security import IDLE_MINUTES, activity_stamp

ADMIN = ("cookie.admin", "a long enough password")


@dataclass(frozen=True)
class Cookie:
    """A ``Set-Cookie`` line, read."""

    name: str
    value: str
    attributes: dict[str, str]

    @property
    def flags(self) -> set[str]:
        return set(self.attributes)


def _set_cookies(answer: Any) -> dict[str, Cookie]:
    found = {}
    for line in answer.headers.get_list("set-cookie"):
        first, *rest = (part.strip() for part in line.split(";"))
        name, value = first.split("=", 1)
        attributes = {}
        for part in rest:
            key, _, val = part.partition("=")
            attributes[key.lower()] = val.lower()
        found[name] = Cookie(name, value, attributes)
    return found


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    settings = settings.model_copy(update={"sign_in_delay_seconds": 0})
    with engine_scope(settings.database_url) as engine, session_scope(engine) as session:
        create_user(session, ADMIN[0], role="admin", password=ADMIN[1])
    return create_app(settings)


def _client(app: FastAPI, https: bool) -> TestClient:
    return TestClient(app, base_url="https://testserver" if https else "http://testserver")


def _token(answer: Any) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', answer.text)
    assert found is not None, answer.text[:300]
    return found[1]


def _sign_in(client: TestClient, username: str, password: str) -> Any:
    form = client.get("/sign-in")
    return client.post(
        "/sign-in",
        data={
            "username": username,
            "password": password,
            "csrf_token": _token(form),
            "next": "/desk",
        },
        follow_redirects=False,
    )


def _assert_attributes(cookie: Cookie, https: bool, samesite: str = "lax") -> None:
    assert cookie.name.startswith("__Host-") is https, cookie
    assert ("secure" in cookie.flags) is https, cookie
    assert "httponly" in cookie.flags, cookie
    assert cookie.attributes["path"] == "/", cookie
    assert "domain" not in cookie.flags, cookie
    assert cookie.attributes["samesite"] == samesite, cookie


@pytest.mark.parametrize("https", [True, False], ids=["https", "http"])
def test_every_cookie_of_the_pages_carries_its_attributes(app: FastAPI, https: bool) -> None:
    prefix = "__Host-" if https else ""
    with _client(app, https) as client:
        form = client.get("/sign-in")
        csrf = _set_cookies(form)[f"{prefix}registry_csrf"]
        _assert_attributes(csrf, https)
        signed = _sign_in(client, *ADMIN)
        assert signed.status_code == 303, signed.text[:300]
        session = _set_cookies(signed)[f"{prefix}registry_session"]
        _assert_attributes(session, https)
        _assert_attributes(_set_cookies(signed)[f"{prefix}registry_active"], https)
        # The session works under the name it was set: the pages know who is there,
        # and each page renews its activity stamp.
        tokens = client.get("/admin/tokens")
        assert tokens.status_code == 200, tokens.text[:300]
        _assert_attributes(_set_cookies(tokens)[f"{prefix}registry_active"], https)
        language = _set_cookies(client.get("/lang/en?next=/", follow_redirects=False))
        _assert_attributes(language[f"{prefix}lang"], https)
        assert "Sign out" in client.get("/").text  # in English now, signed in
        issued = client.post(
            "/admin/tokens",
            data={"name": "cookie test", "role": "verifier", "csrf_token": _token(tokens)},
            follow_redirects=False,
        )
        assert issued.status_code == 303, issued.text[:300]
        shown = _set_cookies(issued)[f"{prefix}registry_shown_once"]
        _assert_attributes(shown, https, samesite="strict")
        assert "max-age" in shown.flags
        page = client.get(issued.headers["location"])
        assert re.search(r'id="secret"[^>]*>\s*[A-Za-z0-9_-]{20,}', page.text), page.text[:500]
        gone = _set_cookies(page)[f"{prefix}registry_shown_once"]
        _assert_attributes(gone, https, samesite="strict")
        assert gone.attributes["max-age"] == "0"
        # Shown once: the cookie is gone, the page says so.
        assert not re.search(r'id="secret"', client.get(issued.headers["location"]).text)
        out = client.post("/sign-out", data={"csrf_token": _token(page)}, follow_redirects=False)
        assert out.status_code == 303
        for name in ("registry_session", "registry_active"):
            deleted = _set_cookies(out)[f"{prefix}{name}"]
            _assert_attributes(deleted, https)
            assert deleted.attributes["max-age"] == "0"
        assert (
            client.get("/desk", follow_redirects=False).headers["location"].startswith("/sign-in")
        )


def test_a_cookie_without_its_prefix_is_not_taken_over_https(app: FastAPI) -> None:
    """Over HTTPS only the ``__Host-`` cookie counts: one set over plain HTTP, or by
    another host under the same domain, signs no one in."""
    with _client(app, https=False) as plain:
        signed = _set_cookies(_sign_in(plain, *ADMIN))
        assert plain.get("/desk", follow_redirects=False).status_code == 200
    names = ("registry_session", "registry_active")
    with _client(app, https=True) as secure:
        for name in names:
            secure.cookies.set(name, signed[name].value)
        answer = secure.get("/desk", follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/sign-in")
    with _client(app, https=True) as secure:
        for name in names:
            secure.cookies.set(f"__Host-{name}", signed[name].value)
        assert secure.get("/desk", follow_redirects=False).status_code == 200


def _desk_with(app: FastAPI, session: str, stamp: str | None) -> int:
    """The status of ``/desk`` for a browser holding these cookies."""
    with _client(app, https=True) as browser:
        browser.cookies.set("__Host-registry_session", session)
        if stamp is not None:
            browser.cookies.set("__Host-registry_active", stamp)
        return browser.get("/desk", follow_redirects=False).status_code


def test_signing_in_again_ends_the_session_the_browser_had(app: FastAPI) -> None:
    with _client(app, https=True) as client:
        first = _set_cookies(_sign_in(client, *ADMIN))
        second = _set_cookies(_sign_in(client, *ADMIN))
        assert client.get("/desk", follow_redirects=False).status_code == 200
    one, two = (
        (cookies["__Host-registry_session"].value, cookies["__Host-registry_active"].value)
        for cookies in (first, second)
    )
    assert one[0] != two[0]
    # Made by a CSPRNG, 256 bits: 43 characters of base64url.
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{43}", value) for value in (one[0], two[0]))
    assert _desk_with(app, *one) == 303  # ended by the second sign-in
    assert _desk_with(app, *two) == 200


def test_a_session_unused_for_its_idle_time_signs_no_one_in(app: FastAPI) -> None:
    with _client(app, https=True) as client:
        session = _set_cookies(_sign_in(client, *ADMIN))["__Host-registry_session"].value
    secret: bytes = app.state.issuing.node_secret
    now = int(time.time())
    # The browser comes back: its stamp is from its last page.
    recent = activity_stamp(secret, session, now - (IDLE_MINUTES - 1) * 60)
    with _client(app, https=True) as browser:
        browser.cookies.set("__Host-registry_session", session)
        browser.cookies.set("__Host-registry_active", recent)
        page = browser.get("/desk", follow_redirects=False)
        assert page.status_code == 200
        renewed = _set_cookies(page)["__Host-registry_active"].value
        assert int(renewed.split(".")[0]) >= now
    stale = activity_stamp(secret, session, now - IDLE_MINUTES * 60 - 5)
    assert _desk_with(app, session, stale) == 303
    assert _desk_with(app, session, None) == 303  # no stamp
    assert _desk_with(app, session, recent.split(".")[0] + "." + "0" * 64) == 303  # not ours
    other = activity_stamp(secret, "another session's cookie value", now)
    assert _desk_with(app, session, other) == 303
    assert _desk_with(app, session, renewed) == 200
