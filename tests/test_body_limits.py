"""Request bodies: the token is checked before a byte of the body is read, and every
body stops at its operation's limit (413), declared or streamed."""

from __future__ import annotations

import asyncio
import importlib
import json
import pkgutil
import socket
import time
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

import api.routes
import web.routes
from api import create_app
from api.limits import (
    ISSUE_BATCH_BODY,
    JSON_BODY,
    MAX_JSON_DEPTH,
    TABLE_BODY,
    GatedRoute,
    too_deep,
)
from registry.federation.witness import MAX_BODY as WITNESS_BODY
from registry.settings import Settings
from tests._servers import Servers
from tests._support import seed_demo_node

WITNESS = "/v1/witness/add-checkpoint"
PROBLEM = "application/problem+json"
CHUNK = 1 << 20


class Node:
    def __init__(self, app: FastAPI, tokens: dict[str, str]) -> None:
        self.app = app
        self.tokens = tokens


@pytest.fixture
def node(settings: Settings) -> Iterator[Node]:
    tokens = seed_demo_node(settings, records=False)
    app = create_app(settings)
    yield Node(app, tokens)
    app.state.engine.dispose()
    app.state.loop_engine.dispose()


class Answer:
    def __init__(self, status: int, headers: dict[str, str], body: bytes, pulled: int) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.pulled = pulled  # bytes of the body the app asked for

    def json(self) -> Any:
        return json.loads(self.body)


def _call(
    app: FastAPI,
    path: str,
    chunks: Iterator[bytes],
    *,
    token: str | None = None,
    content_type: str = "application/json",
    length: int | None = None,
) -> Answer:
    """POST through the app's ASGI interface, the body pulled chunk by chunk from
    ``chunks`` only as the app asks for it (what a server does)."""
    headers = [(b"content-type", content_type.encode())]
    if token is not None:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    if length is not None:
        headers.append((b"content-length", str(length).encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    pulled = 0
    pending = iter(chunks)
    next_chunk = next(pending, None)
    messages: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal pulled, next_chunk
        if next_chunk is None:
            return {"type": "http.disconnect"}
        chunk, next_chunk = next_chunk, next(pending, None)
        pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": next_chunk is not None}

    async def send(message: MutableMapping[str, Any]) -> None:
        messages.append(message)

    asyncio.run(app(scope, receive, send))
    start = next(m for m in messages if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    answer_headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    return Answer(start["status"], answer_headers, body, pulled)


def _endless(total: int) -> Iterator[bytes]:
    """``total`` bytes of a JSON-ish body, a mebibyte at a time."""
    sent = 0
    while sent < total:
        size = min(CHUNK, total - sent)
        sent += size
        yield b" " * size


def _operations(app: FastAPI) -> list[tuple[str, str]]:
    """Every operation that takes a body, its path filled in, and its `x-body-limit`."""
    found = []
    for path, item in app.openapi()["paths"].items():
        for method, operation in item.items():
            if "requestBody" in operation:
                assert method == "post", (method, path)
                found.append((path.replace("{credential_id}", "urn:uuid:x"), path))
    return found


def test_every_operation_with_a_body_documents_its_limit(node: Node) -> None:
    document = node.app.openapi()
    operations = _operations(node.app)
    assert len(operations) == 11
    for _, path in operations:
        operation = document["paths"][path]["post"]
        limit = operation["x-body-limit"]
        assert limit in (JSON_BODY, TABLE_BODY, ISSUE_BATCH_BODY, WITNESS_BODY), path
        assert f"{limit:,} bytes" in operation["responses"]["413"]["description"]
        assert PROBLEM in operation["responses"]["413"]["content"]
    # Every route of the API checks the token before its body is read.
    for info in pkgutil.iter_modules(api.routes.__path__):
        module = importlib.import_module(f"api.routes.{info.name}")
        routers = [v for v in vars(module).values() if isinstance(v, APIRouter)]
        assert routers, info.name
        for route in (r for router in routers for r in router.routes):
            assert isinstance(route, GatedRoute), (info.name, route)


def test_no_token_is_answered_401_before_any_of_the_body_is_read(node: Node) -> None:
    # 200 MB that the app never asks for: neither declared nor streamed.
    for path, _ in _operations(node.app):
        if path == WITNESS:
            continue  # public (C2SP tlog-witness): its limit stops it, below
        for length in (200_000_000, None):
            started = time.monotonic()
            answer = _call(node.app, path, _endless(200_000_000), length=length)
            assert answer.status == 401, (path, answer.body)
            assert answer.headers["content-type"] == PROBLEM
            assert answer.pulled == 0, path
            assert time.monotonic() - started < 5, path
        unknown = _call(node.app, path, _endless(200_000_000), token="yrd_nothing")
        assert (unknown.status, unknown.pulled) == (401, 0), path


def test_the_public_witness_reads_no_more_than_its_limit(node: Node) -> None:
    """The witness takes no token (the log's signature is its credential): a body
    declared over its limit is refused before any of it is read, an undeclared one
    once the limit is passed."""
    declared = _call(node.app, WITNESS, _endless(200_000_000), length=200_000_000)
    assert (declared.status, declared.pulled) == (413, 0)
    streamed = _call(node.app, WITNESS, _endless(200_000_000), length=None)
    assert streamed.status == 413
    assert streamed.pulled <= WITNESS_BODY + CHUNK
    assert streamed.headers["content-type"] == PROBLEM


def test_a_token_of_another_role_is_answered_403_before_the_body(node: Node) -> None:
    for path, _ in _operations(node.app):
        answer = _call(node.app, path, _endless(50_000_000), token=node.tokens["federation"])
        if path.startswith("/v1/subscriptions") or path in ("/v1/federation/notices", WITNESS):
            continue  # federation may subscribe and send notices; the witness is public
        assert answer.status == 403, (path, answer.body)
        assert answer.pulled == 0, path
    answer = _call(
        node.app, "/v1/federation/notices", _endless(50_000_000), token=node.tokens["verifier"]
    )
    assert answer.status == 403, answer.body
    assert answer.pulled == 0


def test_a_declared_length_over_the_limit_is_413_unread(node: Node) -> None:
    for path, token, limit in (
        ("/v1/blacklist/search", "enforcement", JSON_BODY),
        ("/v1/blacklist/check", "enforcement", TABLE_BODY),
        ("/v1/verify/engineer", "verifier", JSON_BODY),
        ("/v1/verify/batch", "verifier", TABLE_BODY),
        ("/v1/credentials", "issuer:CN-SH", JSON_BODY),
        ("/v1/credentials/batch", "issuer:CN-SH", ISSUE_BATCH_BODY),
        ("/v1/subscriptions", "enforcement", JSON_BODY),
    ):
        answer = _call(
            node.app, path, _endless(limit + 1), token=node.tokens[token], length=limit + 1
        )
        assert answer.status == 413, (path, answer.body)
        assert answer.headers["content-type"] == PROBLEM
        problem = answer.json()
        assert problem["type"] == "urn:yrd-registry:problem:too-large"
        assert f"{limit:,} bytes" in problem["detail"]
        assert answer.pulled == 0, path


def test_a_streamed_body_stops_at_the_limit(node: Node) -> None:
    for path, token, limit, content_type in (
        ("/v1/blacklist/search", "enforcement", JSON_BODY, "application/json"),
        ("/v1/blacklist/check", "enforcement", TABLE_BODY, "text/csv"),
        ("/v1/verify/engineer", "verifier", JSON_BODY, "application/json"),
        ("/v1/verify/batch", "verifier", TABLE_BODY, "application/json"),
        ("/v1/credentials/batch", "issuer:CN-SH", ISSUE_BATCH_BODY, "application/json"),
    ):
        answer = _call(
            node.app,
            path,
            _endless(200_000_000),
            token=node.tokens[token],
            content_type=content_type,
        )
        assert answer.status == 413, (path, answer.body)
        assert answer.headers["content-type"] == PROBLEM
        assert answer.json()["type"] == "urn:yrd-registry:problem:too-large"
        assert limit < answer.pulled <= limit + CHUNK, path


def _padded(document: dict[str, Any], size: int) -> Iterator[bytes]:
    body = json.dumps(document).encode()
    padded = body + b" " * (size - len(body))
    return iter([padded[i : i + CHUNK] for i in range(0, len(padded), CHUNK)])


def test_a_body_at_the_limit_is_read(node: Node) -> None:
    search = {"credit_code": "91310000MA1FL0XX1U"}
    for size, status in ((JSON_BODY, 200), (JSON_BODY + 1, 413)):
        answer = _call(
            node.app,
            "/v1/blacklist/search",
            _padded(search, size),
            token=node.tokens["enforcement"],
        )
        assert answer.status == status, answer.body
    rows = {"rows": [{"credit_code": "91310000MA1FL0XX1U"}]}
    for size, status in ((TABLE_BODY, 200), (TABLE_BODY + 1, 413)):
        answer = _call(
            node.app, "/v1/blacklist/check", _padded(rows, size), token=node.tokens["enforcement"]
        )
        assert answer.status == status, answer.body


@pytest.mark.e2e
def test_the_real_server_answers_before_reading(servers: Servers, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = servers.start(f"sqlite:///{data_dir / 'registry.sqlite3'}", data_dir)
    tokens = json.loads((data_dir / "secrets" / "demo-tokens.json").read_text(encoding="utf-8"))
    host, port = server.base.removeprefix("http://").split(":")

    def exchange(head: str, body: Iterator[bytes]) -> tuple[bytes, int]:
        """Send the head, then the body until the server stops reading it; the
        answer's first line and how much of the body went out."""
        sent = 0
        with socket.create_connection((host, int(port)), timeout=10) as connection:
            connection.sendall(head.encode())
            connection.settimeout(2)
            for chunk in body:
                try:
                    connection.sendall(chunk)
                except (TimeoutError, BrokenPipeError, ConnectionResetError):
                    break  # the server has answered and stopped reading
                sent += len(chunk)
            connection.settimeout(10)
            answer = b""
            while b"\r\n" not in answer:
                more = connection.recv(65536)
                if not more:
                    break
                answer += more
        return answer.split(b"\r\n", 1)[0], sent

    # No token, 200 MB declared: 401 with none of it sent.
    head = (
        f"POST /v1/verify/batch HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        "Content-Length: 200000000\r\n\r\n"
    )
    status, _ = exchange(head, iter([]))
    assert status == b"HTTP/1.1 401 Unauthorized"
    # With a token, chunked and endless: 413 once the limit has arrived.
    head = (
        f"POST /v1/verify/batch HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {tokens['verifier']}\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    piece = b"%x\r\n%s\r\n" % (65536, b" " * 65536)
    status, sent = exchange(head, iter([piece] * 3200))  # 200 MB, if it were all sent
    assert status.startswith(b"HTTP/1.1 413 ")
    assert sent < 3200 * len(piece)


def test_a_csv_upload_is_read_up_to_one_row_over_the_batch(node: Node) -> None:
    # Four million rows fit in the limit; reading stops at the 10,001st.
    body = b"credit_code\n" + b"1\n" * ((TABLE_BODY - 12) // 2)
    for path, token in (("/v1/blacklist/check", "enforcement"), ("/v1/verify/batch", "verifier")):
        csv_body = body.replace(b"credit_code", b"name") if "verify" in path else body
        answer = _call(
            node.app, path, iter([csv_body]), token=node.tokens[token], content_type="text/csv"
        )
        assert answer.status == 422, (path, answer.body)
        # A file sent for verification is answered in Chinese unless English is preferred.
        expected = "每批最多 10,000 行" if "verify" in path else "at most 10,000 rows a batch"
        assert answer.json()["detail"] == expected, path


def test_every_page_is_gated_and_a_page_over_its_limit_is_answered_with_a_page(
    node: Node,
) -> None:
    for info in pkgutil.iter_modules(web.routes.__path__):
        module = importlib.import_module(f"web.routes.{info.name}")
        routers = [v for v in vars(module).values() if isinstance(v, APIRouter)]
        # A router included in another is its own module's; each route is checked there.
        for route in (r for router in routers for r in router.routes):
            if isinstance(route, APIRoute):
                assert isinstance(route, GatedRoute), (info.name, route.path)
    form = "multipart/form-data; boundary=limit"
    # An upload declared over the page's limit: refused unread, with what to do.
    declared = _call(
        node.app, "/desk/verify-list", _endless(TABLE_BODY + 1), content_type=form,
        length=TABLE_BODY + 1,
    )  # fmt: skip
    assert (declared.status, declared.pulled) == (413, 0)
    assert declared.headers["content-type"].startswith("text/html")
    assert declared.headers["content-language"] == "zh-CN"
    text = declared.body.decode()
    assert "文件或表单过大：本页面最多接收 8 MB" in text
    assert "请将文件拆分为较小的几个" in text
    # A form streamed past the limit of a page that takes no file (256 KiB).
    streamed = _call(
        node.app, "/lookup", _endless(50_000_000), content_type="application/x-www-form-urlencoded"
    )
    assert streamed.status == 413
    assert streamed.headers["content-type"].startswith("text/html")
    assert "本页面最多接收 0.26 MB" in streamed.body.decode()
    assert streamed.pulled <= JSON_BODY + CHUNK


def _nested(depth: int) -> bytes:
    return b'{"a": ' * depth + b"1" + b"}" * depth


def test_json_nested_too_deep_is_refused_before_it_is_parsed(node: Node) -> None:
    for path, token in (
        ("/v1/verify/engineer", "verifier"),  # read by the route
        ("/v1/blacklist/search", "enforcement"),  # parsed by FastAPI
        ("/v1/verify/batch", "verifier"),
        ("/v1/credentials", "issuer:CN-SH"),
    ):
        for body in (b"[" * 100_000, _nested(MAX_JSON_DEPTH + 1), b"[" * 100_000 + b"]" * 100_000):
            answer = _call(node.app, path, iter([body]), token=node.tokens[token])
            assert answer.status == 422, (path, answer.body[:200])
            assert answer.headers["content-type"] == PROBLEM
            problem = answer.json()
            assert problem["type"] == "urn:yrd-registry:problem:too-deep", path
            assert "more than 32 deep" in problem["detail"]
        # At the limit: parsed, and refused for what it holds instead.
        answer = _call(node.app, path, iter([_nested(MAX_JSON_DEPTH)]), token=node.tokens[token])
        assert answer.status == 422, path
        assert answer.json()["type"] == "urn:yrd-registry:problem:invalid-input", path


def test_json_depth_is_judged_outside_strings() -> None:
    assert not too_deep(b'{"name": "' + b"[{" * 1000 + b'"}')
    assert not too_deep(b'{"name": "\\"' + b"[" * 1000 + b'\\\\"}')
    assert too_deep(b'{"a": "\\\\", "b": ' + b"[" * 33 + b"]" * 33 + b"}")
    assert not too_deep(b"[" * 32 + b"]" * 32)
    assert too_deep(b"[" * 33 + b"]" * 33)
    assert not too_deep(b"[]" * 100_000)
    assert too_deep(b"[" * 33)  # cut short: still open, 33 deep
    assert not too_deep(b"]" * 100 + b"[" * 10)
