"""Who may do what, read from the node's own OpenAPI document and tried on every
operation with every demo role's token, no token, a revoked token and a made-up one.

The document names the roles of each operation that needs a token (``x-roles``); an
operation without it is public. Each operation gets a minimal request (its path's
parameters filled with what the demo holds, a JSON body ``{}``): every answer must be
one the document lists for it, an operation needing a token answers 401 to no token,
a revoked one and a made-up one, 403 to a role it does not name, and neither to one it
names; a public one answers everyone alike. An operation added later is in the matrix
without being listed here.

The pages behind an account are tried the same way with what a browser may hold that
is no longer, or never was, a session: a disabled account's, one signed out, a made-up
cookie and a real one altered. Each is sent to sign in, as a visitor is.
"""

from __future__ import annotations

import base64
import os
import re
import uuid
from collections.abc import Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pytest_postgresql.executors.noop import NoopExecutor
from sqlalchemy import text
from sqlalchemy.engine import URL

from api import create_app
from api.openapi import ROLES
from registry.settings import Settings
from registry.storage.db import engine_scope
from tests._support import LOOPBACK, run_command, seed_demo_node
from tests.test_pages_roles import PAGES, Guarded
from web.security import ACTIVE_COOKIE

_METHODS = ("get", "put", "post", "delete", "patch")
_OUTSIDERS = ("none", "revoked", "made-up")
_MADE_UP = "yrd_" + "A" * 43
# Each kind of role; issuers of two authorities (the demo's records are CN-SH's).
_ROLES = ("issuer:CN-SH", "issuer:CN-AH", "verifier", "enforcement", "federation", "admin")
_CALLERS = (*_OUTSIDERS, *_ROLES)


def lets_in(roles: Sequence[str], role: str) -> bool:
    """Whether ``x-roles`` of ``roles`` let in a token of ``role`` (``issuer:*``: the
    issuer of any authority), as the document says."""
    return role in roles or ("issuer:*" in roles and role.startswith("issuer:"))


@dataclass(frozen=True)
class Operation:
    """One method of one path of the document, with what it documents."""

    method: str
    path: str
    roles: tuple[str, ...] | None
    statuses: frozenset[str]
    document: dict[str, Any]

    def lets_in(self, role: str) -> bool:
        assert self.roles is not None
        return lets_in(self.roles, role)

    def documents(self, status: int) -> bool:
        return str(status) in self.statuses or f"{str(status)[0]}XX" in self.statuses


def operations(document: dict[str, Any]) -> list[Operation]:
    """Every operation of an OpenAPI document."""
    found = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in _METHODS:
                continue
            roles = operation.get(ROLES)
            found.append(
                Operation(
                    method=method.upper(),
                    path=path,
                    roles=tuple(roles) if roles is not None else None,
                    statuses=frozenset(operation.get("responses", {})),
                    document=operation,
                )
            )
    return found


@dataclass
class Node:
    app: FastAPI
    client: TestClient
    settings: Settings
    tokens: dict[str, str]
    """Each demo role's token, and the outsiders' ("none" is no token at all)."""
    credential: str
    """A credential of CN-SH that the demo issued."""


def _environment(settings: Settings) -> dict[str, str]:
    return {
        "REGISTRY_DATABASE_URL": settings.database_url,
        "REGISTRY_DATA_DIR": str(settings.data_dir),
        "COLUMNS": "250",
    }


def _revoked_token(settings: Settings) -> str:
    """A token made and then revoked with the ``registry token`` command."""
    env = _environment(settings)
    made = run_command(["token", "create", "--role", "admin", "--name", "revoked"], env)
    assert made.returncode == 0, made.stderr
    number = re.search(r"token (\d+) for role admin", made.stdout)
    token = re.search(r"^(yrd_\S+)$", made.stdout, re.MULTILINE)
    assert number is not None, made.stdout
    assert token is not None, made.stdout
    revoked = run_command(["token", "revoke", number[1]], env)
    assert revoked.returncode == 0, revoked.stderr
    return token[1]


@pytest.fixture(scope="module")
def node(pg_server: NoopExecutor, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    """One seeded demo node for the module, on a PostgreSQL database of its own."""
    name = f"authz_{os.getpid()}"
    admin: dict[str, Any] = {
        "host": pg_server.host,
        "port": pg_server.port,
        "user": pg_server.user,
        "password": pg_server.password,
        "dbname": pg_server.maintenance_dbname,
    }
    with psycopg.connect(**admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}" TEMPLATE "{pg_server.template_dbname}"')
    url = URL.create(
        "postgresql+psycopg",
        username=pg_server.user,
        password=pg_server.password or None,
        host=pg_server.host,
        port=int(pg_server.port),
        database=name,
    ).render_as_string(hide_password=False)
    root = tmp_path_factory.mktemp("authz")
    # As the `settings` fixture has them: the demo seeded for those is copied.
    settings = Settings(
        data_dir=root / "data",
        database_url=url,
        webhook_allowed_networks=LOOPBACK.allowed,
        demo=True,
    )
    try:
        tokens = seed_demo_node(settings)
        tokens |= {"revoked": _revoked_token(settings), "made-up": _MADE_UP}
        with engine_scope(url) as engine, engine.connect() as connection:
            credential = connection.execute(
                text(
                    "SELECT id FROM credential WHERE issuer_code = 'CN-SH'"
                    " AND type = 'SafetyEngineerQualification' ORDER BY id LIMIT 1"
                )
            ).scalar_one()
        app = create_app(settings)
        with TestClient(app) as client:
            yield Node(app, client, settings, tokens, credential)
    finally:
        with psycopg.connect(**admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _document(node: Node) -> dict[str, Any]:
    answer = node.client.get("/openapi.json")
    assert answer.status_code == 200
    found: dict[str, Any] = answer.json()
    return found


# What each path parameter is filled with: something the demo holds where there is
# one, so that a role let in reaches the operation's own work.
def _path_values(node: Node) -> dict[str, str]:
    return {
        "code": "CN-SH",
        "authority": "CN-SH",
        "version": "1",
        "index": "000",
        "level": "0",
        "credential_id": node.credential,
        "position": "0",
        "receipt_id": str(uuid.uuid4()),
        "subscription_id": str(uuid.uuid4()),
        "purpose": "revocation",
    }


_QUERY = {
    "leaf_hash": base64.b64encode(bytes(32)).decode(),
    "tree_size": "1",
    "first": "1",
    "second": "2",
    "start": "0",
    "end": "1",
}


def _request(node: Node, operation: Operation, who: str) -> Any:  # the client's response
    values = _path_values(node)
    path = re.sub(r"\{([^}]+)\}", lambda m: values[m[1]], operation.path)
    params = {
        p["name"]: _QUERY[p["name"]]
        for p in operation.document.get("parameters", [])
        if p["in"] == "query" and p.get("required")
    }
    headers = {} if who == "none" else {"Authorization": f"Bearer {node.tokens[who]}"}
    content = operation.document.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        return node.client.request(operation.method, path, params=params, headers=headers, json={})
    if content:
        media = next(iter(content))
        return node.client.request(
            operation.method,
            path,
            params=params,
            headers={**headers, "Content-Type": media},
            content=b"",
        )
    return node.client.request(operation.method, path, params=params, headers=headers)


def test_the_document_names_the_roles_of_every_operation_needing_a_token(node: Node) -> None:
    """``x-roles`` is there exactly where the document asks for a bearer token, and
    names only roles a token can hold."""
    found = operations(_document(node))
    protected = [o for o in found if o.roles is not None]
    assert len(protected) >= 20, "the matrix would be nearly empty"
    assert any(o.roles is None for o in found)
    kinds = {"issuer:*", "verifier", "enforcement", "federation", "admin"}
    for operation in found:
        asks_token = bool(operation.document.get("security"))
        assert asks_token == (operation.roles is not None), (operation.method, operation.path)
        if operation.roles is not None:
            assert operation.roles, (operation.method, operation.path)
            assert set(operation.roles) <= kinds, operation.roles
            assert {"401", "403"} <= operation.statuses, (operation.method, operation.path)


def test_every_operation_answers_each_caller_as_documented(node: Node) -> None:
    failures: list[str] = []
    assert set(_ROLES) <= set(node.tokens)
    asked = 0
    for operation in operations(_document(node)):
        label = f"{operation.method} {operation.path}"
        # A public operation reads no token: the outsiders' and one role's will do.
        callers = _CALLERS if operation.roles is not None else (*_OUTSIDERS, "admin")
        answers = {who: _request(node, operation, who) for who in callers}
        asked += len(answers)
        for who, answer in answers.items():
            if answer.status_code >= 500 or not operation.documents(answer.status_code):
                failures.append(f"{label} as {who}: undocumented {answer.status_code}")
        if operation.roles is None:
            seen = {who: a.status_code for who, a in answers.items()}
            if len(set(seen.values())) != 1:
                failures.append(f"{label}: public, but answers differ by caller: {seen}")
            continue
        for who in _OUTSIDERS:
            if answers[who].status_code != 401:
                failures.append(f"{label} as {who}: {answers[who].status_code}, not 401")
            elif "application/problem+json" not in answers[who].headers["content-type"]:
                failures.append(f"{label} as {who}: 401 not as problem+json")
        for who in _ROLES:
            status = answers[who].status_code
            refused = status == 403 and "may not do this" in answers[who].text
            if operation.lets_in(who) and (status == 401 or refused):
                failures.append(f"{label} as {who}: let in, but {status}")
            if not operation.lets_in(who) and not refused:
                failures.append(f"{label} as {who}: not let in, but {status}")
    print(f"authorisation matrix: {asked} requests, {len(failures)} wrong answers")
    assert failures == [], "\n".join(failures)


def test_another_authoritys_issuer_is_refused_its_records_not_the_operation(
    node: Node,
) -> None:
    """An issuer's token passes the check of every issuer's operation; the records of
    another authority are then refused (403) by the operation itself, saying why."""
    own = node.client.get(
        f"/v1/credentials/{node.credential}/disclosures",
        headers={"Authorization": f"Bearer {node.tokens['issuer:CN-SH']}"},
    )
    assert own.status_code == 200, own.text
    other = node.client.get(
        f"/v1/credentials/{node.credential}/disclosures",
        headers={"Authorization": f"Bearer {node.tokens['issuer:CN-AH']}"},
    )
    assert other.status_code == 403, other.text
    assert "may not do this" not in other.text


# The pages: what a browser may hold that is not a session (any more).


def _sign_in(client: TestClient, username: str, password: str) -> str:
    """Sign in through the form; the session cookie."""
    answer = client.post(
        "/sign-in",
        data={
            "username": username,
            "password": password,
            "csrf_token": _form_token(client),
            "next": "/",
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text[:300]
    cookie = client.cookies.get("registry_session")
    assert cookie
    return cookie


def _account(node: Node, username: str, role: str) -> str:
    """A new account made with ``registry user create``; its password."""
    made = run_command(["user", "create", username, "--role", role], _environment(node.settings))
    assert made.returncode == 0, made.stderr
    password = re.search(r"password: (\S+)", made.stdout)
    assert password is not None, made.stdout
    return password[1]


def _altered(cookie: str) -> str:
    last = "A" if cookie[-1] != "A" else "B"
    return cookie[:-1] + last


def _form_token(client: TestClient) -> str:
    form = client.get("/sign-in")
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', form.text)
    assert token is not None
    return token[1]


def _sent_to_sign_in(client: TestClient, page: Guarded, form_token: str) -> str | None:
    """What is wrong with the page's answer to the browser (None: it was sent to sign
    in); a form is posted with the browser's own form token."""
    if page.method == "GET":
        answer = client.get(page.address, follow_redirects=False)
    else:
        data = {"csrf_token": form_token}
        answer = client.request(page.method, page.address, data=data, follow_redirects=False)
    if answer.status_code != 303 or not answer.headers["location"].startswith("/sign-in?next="):
        return f"{page.method} {page.path}: {answer.status_code} {answer.headers.get('location')}"
    return None


def test_a_session_that_is_no_longer_or_never_was_is_sent_to_sign_in(node: Node) -> None:
    app = node.app
    held: dict[str, str] = {}
    # One whose account an administrator disabled after it signed in.
    password = _account(node, "authz.disabled", "admin")
    with closing(TestClient(app)) as browser:
        held["disabled"] = _sign_in(browser, "authz.disabled", password)
        assert browser.get("/admin/users", follow_redirects=False).status_code == 200
    disabled = run_command(["user", "disable", "authz.disabled"], _environment(node.settings))
    assert disabled.returncode == 0, disabled.stderr
    # One signed out, one made up, one altered by a character.
    password = _account(node, "authz.admin", "admin")
    with closing(TestClient(app)) as browser:
        held["signed out"] = _sign_in(browser, "authz.admin", password)
        signed_out = browser.post("/sign-out", data={"csrf_token": _form_token(browser)})
        assert signed_out.status_code < 400
    with closing(TestClient(app)) as browser:
        live = _sign_in(browser, "authz.admin", password)
        active = browser.cookies.get(ACTIVE_COOKIE)  # the stamp of its last page
    held["made up"] = base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
    held["altered"] = _altered(live)
    # Cookies of a shape no session has (too long, not the characters one is made
    # of): one page of each area will do.
    held["too long"] = live * 4
    held["not text"] = "%00%ff" * 10
    areas = list({page.path.split("/")[1]: page for page in PAGES}.values())
    failures = []
    for kind, cookie in held.items():
        with closing(TestClient(app)) as browser:
            form_token = _form_token(browser)
            browser.cookies.set("registry_session", cookie)
            for page in areas if kind in ("too long", "not text") else PAGES:
                wrong = _sent_to_sign_in(browser, page, form_token)
                if wrong is not None:
                    failures.append(f"{kind}: {wrong}")
    assert failures == [], "\n".join(failures)
    # The live session still works: the altered one was refused for what it is.
    with closing(TestClient(app)) as browser:
        browser.cookies.set("registry_session", live)
        browser.cookies.set(ACTIVE_COOKIE, active or "")
        assert browser.get("/admin/users", follow_redirects=False).status_code == 200
