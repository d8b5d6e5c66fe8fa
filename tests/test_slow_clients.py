"""Slow clients against the real server (`registry serve`), over a raw socket: a
request's head trickled past the header timeout is cut off unanswered; a body not in
within the body timeout, or slower than the floor, is answered 408 (problem+json)."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest

from tests._servers import Server, Servers

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict[str, str]]]:
    """One server for the module (starting one takes a while), its timeouts short."""
    folder = tmp_path_factory.mktemp("slow-clients")
    servers = Servers(folder)
    data_dir = folder / "data"
    server = servers.start(
        f"sqlite:///{data_dir / 'registry.sqlite3'}",
        data_dir,
        settings={
            "REGISTRY_HEADER_TIMEOUT_SECONDS": "1",
            "REGISTRY_BODY_TIMEOUT_SECONDS": "4",
            "REGISTRY_BODY_MIN_BYTES_PER_SECOND": "100",
        },
    )
    tokens = json.loads((data_dir / "secrets" / "demo-tokens.json").read_text(encoding="utf-8"))
    yield server, tokens
    servers.stop_all()


def _connect(server: Server) -> socket.socket:
    host, port = server.base.removeprefix("http://").split(":")
    connection = socket.create_connection((host, int(port)), timeout=10)
    connection.settimeout(10)
    return connection


def _trickle(connection: socket.socket, pieces: list[bytes], pause: float) -> bool:
    """Send ``pieces`` ``pause`` seconds apart; whether the server hung up meanwhile."""
    for piece in pieces:
        try:
            connection.sendall(piece)
        except (BrokenPipeError, ConnectionResetError):
            return True
        time.sleep(pause)
    return False


def _answer(connection: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    answer = b""
    try:
        while more := connection.recv(65536):
            answer += more
    except ConnectionResetError:
        pass
    return answer


def test_a_trickled_head_is_cut_off_unanswered(server: tuple[Server, dict[str, str]]) -> None:
    node, _ = server
    with _connect(node) as connection:
        # A header line every half second, never the blank line that ends them (20 at
        # most: 10 seconds, bounded).
        pieces = [b"GET /healthz HTTP/1.1\r\nHost: registry\r\n"]
        pieces += [b"X-Slow-%d: yes\r\n" % n for n in range(20)]
        hung_up = _trickle(connection, pieces, 0.5)
        assert hung_up or _answer(connection) == b""
    # A client that sends nothing at all is cut off too.
    with _connect(node) as connection:
        assert _answer(connection) == b""
    # One that sends its head at once is served.
    with _connect(node) as connection:
        connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: registry\r\nConnection: close\r\n\r\n")
        assert _answer(connection).startswith(b"HTTP/1.1 200 ")


def _body_head(tokens: dict[str, str], length: int) -> bytes:
    return (
        "POST /v1/verify/engineer HTTP/1.1\r\nHost: registry\r\n"
        f"Authorization: Bearer {tokens['verifier']}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


def _refused(answer: bytes) -> str:
    """The detail of a 408 problem that closes the connection."""
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 "), answer
    assert b"content-type: application/problem+json" in head.lower()
    assert b"connection: close" in head.lower()
    problem = json.loads(body)
    assert problem["type"] == "urn:yrd-registry:problem:too-slow"
    detail: str = problem["detail"]
    return detail


def test_a_body_not_in_within_the_timeout_is_answered_408(
    server: tuple[Server, dict[str, str]],
) -> None:
    node, tokens = server
    with _connect(node) as connection:
        # 50 bytes every fifth of a second (250 a second, above the floor of 100) of
        # 10,000: never done within the 4 seconds (40 pieces, 8 seconds, at most).
        connection.sendall(_body_head(tokens, 10_000))
        _trickle(connection, [b" " * 50] * 40, 0.2)
        answer = _answer(connection)
    assert _refused(answer) == "the body did not arrive within 4 seconds"


def test_a_body_slower_than_the_floor_is_answered_408(
    server: tuple[Server, dict[str, str]],
) -> None:
    node, tokens = server
    with _connect(node) as connection:
        connection.sendall(_body_head(tokens, 1000) + b'{"region": ')
        # A byte every tenth of a second, 10 bytes a second: under the floor of 100
        # once the grace (a quarter of the timeout) has passed; 30 bytes at most.
        _trickle(connection, [b" "] * 30, 0.1)
        answer = _answer(connection)
    assert _refused(answer) == "the body came slower than 100 bytes a second"
