"""Every answer of the node carries its security headers, whatever made it (a page, a
redirect, a static file, the API's JSON, a problem+json error, a 404, the API explorer,
an unexpected error's 500), HSTS and ``Secure`` cookies only over HTTPS: against a real
``registry serve --demo`` node, HTTPS taken from ``X-Forwarded-Proto`` as the node
takes it from a trusted proxy in front of it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from registry.settings import Settings
from tests._browser import demo_users, module_node
from tests._servers import Server
from web.headers import DATA_POLICY, EXPLORER_POLICY, HSTS, PAGE_POLICY

node = module_node("headers")

_HTTPS = {"X-Forwarded-Proto": "https"}
_TEMPLATES = Path(__file__).resolve().parent.parent / "web" / "templates"

# path -> (status, Content-Security-Policy)
_KINDS = {
    "/": (200, PAGE_POLICY),
    "/sign-in": (200, PAGE_POLICY),
    "/desk": (303, DATA_POLICY),  # not signed in: sent to sign in
    "/lang/en?next=/lookup": (303, DATA_POLICY),
    "/static/css/site.css": (200, DATA_POLICY),
    "/static/js/verify.js": (200, DATA_POLICY),
    "/static/favicon.svg": (200, DATA_POLICY),
    "/v1/authorities": (200, DATA_POLICY),
    "/openapi.json": (200, DATA_POLICY),
    "/v1/authorities/CN-XX": (422, DATA_POLICY),  # problem+json
    "/no-such-page": (404, DATA_POLICY),
    "/c/urn:uuid:00000000-0000-7000-8000-000000000000": (404, PAGE_POLICY),
    "/docs/explorer": (200, EXPLORER_POLICY),
}


def _assert_security_headers(headers: Mapping[str, str], policy: str) -> None:
    assert headers["content-security-policy"] == policy
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["cross-origin-opener-policy"] == "same-origin"
    denied = headers["permissions-policy"]
    for feature in ("camera", "microphone", "geolocation", "payment", "usb"):
        assert f"{feature}=()" in denied


@pytest.mark.parametrize("path", list(_KINDS))
def test_every_kind_of_answer_carries_the_headers(node: tuple[Server, Path], path: str) -> None:
    server, _ = node
    status, policy = _KINDS[path]
    plain = httpx.get(server.base + path, timeout=30)
    assert plain.status_code == status, plain.text[:300]
    _assert_security_headers(plain.headers, policy)
    assert "strict-transport-security" not in plain.headers
    secure = httpx.get(server.base + path, headers=_HTTPS, timeout=30)
    assert secure.status_code == status
    _assert_security_headers(secure.headers, policy)
    assert secure.headers["strict-transport-security"] == HSTS


def test_a_problem_answer_carries_the_headers(node: tuple[Server, Path]) -> None:
    server, _ = node
    answer = httpx.post(f"{server.base}/v1/verify/engineer", json={}, timeout=30)
    assert answer.status_code == 401
    assert answer.headers["content-type"].startswith("application/problem+json")
    _assert_security_headers(answer.headers, DATA_POLICY)


def test_every_policy_forbids_inline_script_and_framing() -> None:
    for policy in (PAGE_POLICY, EXPLORER_POLICY, DATA_POLICY):
        directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
        assert directives["frame-ancestors"] == "'none'"
        script = directives.get("script-src", directives["default-src"])
        assert "unsafe" not in script
        assert script in ("'self'", "'none'")
        assert "unsafe" not in policy


def test_the_explorer_runs_no_inline_script(node: tuple[Server, Path]) -> None:
    server, _ = node
    html = httpx.get(f"{server.base}/docs/explorer", timeout=30).text
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.DOTALL)
    assert [src for src, _ in scripts] == [
        ' src="/static/vendor/swagger-ui/swagger-ui-bundle.js"',
        ' src="/static/js/explorer.js"',
    ]
    assert all(body.strip() == "" for _, body in scripts)


def test_no_template_carries_inline_script_style_or_handlers() -> None:
    """What the pages' policy would block: kept out of the templates altogether."""
    found = []
    for template in sorted(_TEMPLATES.rglob("*.html")):
        text = template.read_text(encoding="utf-8")
        for tag in re.findall(r"<script\b[^>]*>", text):
            if "src=" not in tag:
                found.append(f"{template.name}: {tag}")
        found += [f"{template.name}: {m}" for m in re.findall(r"<style\b|\sstyle=", text)]
        found += [f"{template.name}: {m}" for m in re.findall(r"\son[a-z]+=", text)]
        found += [f"{template.name}: {m}" for m in re.findall(r"javascript:", text)]
    assert found == []


def _cookies(answer: httpx.Response) -> dict[str, str]:
    return {line.split("=", 1)[0]: line for line in answer.headers.get_list("set-cookie")}


@pytest.mark.parametrize("https", [True, False])
def test_cookies_are_secure_over_https_only(node: tuple[Server, Path], https: bool) -> None:
    """Each cookie the pages set, from a real node behind a proxy it trusts (uvicorn's
    ``--proxy-headers``, ``X-Forwarded-Proto`` from 127.0.0.1): ``Secure`` and named
    ``__Host-`` when the proxy says HTTPS, bare over plain HTTP."""
    server, data_dir = node
    account = demo_users(data_dir)["admin"]
    headers = _HTTPS if https else {}
    prefix = "__Host-" if https else ""
    with httpx.Client(base_url=server.base, headers=headers, timeout=30) as client:
        form = client.get("/sign-in")
        csrf = _cookies(form)[f"{prefix}registry_csrf"]
        # The client keeps a Secure cookie from a plain-HTTP address: sent by hand.
        client.cookies.set(f"{prefix}registry_csrf", csrf.split(";", 1)[0].split("=", 1)[1])
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token is not None
        signed = client.post(
            "/sign-in",
            data={
                "username": account["username"],
                "password": account["password"],
                "csrf_token": token[1],
                "next": "/admin/tokens",
            },
        )
        assert signed.status_code == 303, signed.text[:300]
        session = _cookies(signed)[f"{prefix}registry_session"]
        active = _cookies(signed)[f"{prefix}registry_active"]
        for cookie in (session, active):
            name, value = cookie.split(";", 1)[0].split("=", 1)
            client.cookies.set(name, value)
        assert client.get("/admin/tokens").status_code == 200
        language = _cookies(client.get("/lang/zh?next=/"))[f"{prefix}lang"]
        issued = client.post(
            "/admin/tokens",
            data={"name": f"cookies {https}", "role": "verifier", "csrf_token": token[1]},
        )
        assert issued.status_code == 303, issued.text[:300]
        shown = _cookies(issued)[f"{prefix}registry_shown_once"]
    for cookie in (csrf, session, active, language, shown):
        flags = [part.strip().lower() for part in cookie.split(";")]
        assert ("secure" in flags) is https, cookie
        assert "httponly" in flags, cookie
        assert "path=/" in flags, cookie
        assert not any(flag.startswith("domain=") for flag in flags), cookie
        assert ("samesite=strict" if cookie is shown else "samesite=lax") in flags, cookie


def test_a_forwarded_scheme_from_an_address_not_trusted_is_ignored(
    node: tuple[Server, Path],
) -> None:
    """Only a proxy the node trusts (``FORWARDED_ALLOW_IPS``, 127.0.0.1 by default) says
    a request came over HTTPS: the same header sent from 127.0.0.2 gets plain HTTP's
    answer, with no HSTS and no ``Secure`` cookie."""
    server, _ = node
    transport = httpx.HTTPTransport(local_address="127.0.0.2")
    with httpx.Client(transport=transport, headers=_HTTPS, timeout=30) as client:
        answer = client.get(f"{server.base}/sign-in")
    assert answer.status_code == 200
    assert "strict-transport-security" not in answer.headers
    cookie = _cookies(answer)["registry_csrf"]
    assert "secure" not in [part.strip().lower() for part in cookie.split(";")]


def test_an_unexpected_error_carries_the_headers(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path}/unused.sqlite3")
    app = create_app(settings)

    @app.get("/broken")
    def broken() -> None:
        raise RuntimeError("a bug")

    with TestClient(app, base_url="https://node.example", raise_server_exceptions=False) as client:
        answer = client.get("/broken")
    assert answer.status_code == 500
    # A bare problem: nothing of the error, its trace or the code that raised it.
    assert answer.headers["content-type"].startswith("application/problem+json")
    for told in ("a bug", "RuntimeError", "Traceback", "raise"):
        assert told not in answer.text
    _assert_security_headers(answer.headers, DATA_POLICY)
    assert answer.headers["strict-transport-security"] == HSTS
