"""The server's log: a line per request with its id, its route's template, its status
and duration, in JSON for a collector or text for a person, and nothing of a person's
(no ID number, no name, no query string, no token), whatever the request carried."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api import create_app
from registry.demo import DEMO_ENGINEERS
from registry.node_log import JsonLines, TextLines, log_config
from registry.settings import Settings
from tests._support import seed_demo_node

_ENGINEER = next(e for e in DEMO_ENGINEERS if e.name == "王立新")


class _Captured:
    """What the root logger writes while the test runs, formatted by ``formatter``."""

    def __init__(self, formatter: logging.Formatter) -> None:
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.setFormatter(formatter)
        # The node's lines, not the test client's own (it logs each URL it asks for).
        self.handler.addFilter(lambda record: not record.name.startswith("httpx"))

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text.splitlines()]


@pytest.fixture
def captured() -> Iterator[_Captured]:
    capture = _Captured(JsonLines())
    root = logging.getLogger()
    level = root.level
    root.addHandler(capture.handler)
    root.setLevel(logging.INFO)
    yield capture
    root.removeHandler(capture.handler)
    root.setLevel(level)


def test_a_look_up_of_a_person_is_logged_without_the_person(
    settings: Settings, captured: _Captured
) -> None:
    tokens = seed_demo_node(settings)
    verifier = {"Authorization": f"Bearer {tokens['verifier']}"}
    number = _ENGINEER.id_number
    with TestClient(create_app(settings), client=("10.1.2.3", 50000)) as client:
        # The number in the body and the query string, the name in the body, the
        # token in a header, and a request id the caller chose.
        by_number = client.post(
            f"/v1/verify/engineer?id_number={number}",
            json={"id_number": number, "region": "CN-SH"},
            headers={**verifier, "X-Request-ID": "desk-4f1c.7"},
        )
        by_name = client.post(
            "/v1/verify/engineer",
            json={"registration_number": "SH-REG-1001", "name": _ENGINEER.name, "region": "CN-AH"},
            headers=verifier,
        )
        # The number in the path: a credential that does not exist.
        missing = client.get(f"/v1/credentials/{number}", headers=verifier)
    assert (by_number.status_code, by_name.status_code, missing.status_code) == (200, 200, 404)
    assert by_number.headers["X-Request-ID"] == "desk-4f1c.7"
    generated = by_name.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)

    lines = [line for line in captured.lines() if line["logger"] == "registry.access"]
    assert [(line["method"], line["route"], line["status"]) for line in lines] == [
        ("POST", "/v1/verify/engineer", 200),
        ("POST", "/v1/verify/engineer", 200),
        ("GET", "/v1/credentials/{credential_id}", 404),
    ]
    assert [line["request_id"] for line in lines[:2]] == ["desk-4f1c.7", generated]
    for line in lines:
        assert line["client"] == "private"
        assert line["level"] == "info"
        assert line["duration_ms"] >= 0
        assert line["time"].endswith("+00:00")
    # Nothing of the person, the question or the caller, in any line written.
    for secret in (number, number[:15], _ENGINEER.name, tokens["verifier"], "10.1.2.3", "?"):
        assert secret not in captured.text


@pytest.mark.parametrize(
    "sent",
    [
        "a request id with spaces",
        "x" * 65,
        "id\u00e9",
        _ENGINEER.id_number,  # an ID number is not a request id
        f"req-{_ENGINEER.id_number[:15]}",
        "",
    ],
    ids=["spaces", "too-long", "not-ascii", "id-number", "fifteen-digits", "empty"],
)
def test_an_unfit_request_id_is_replaced(
    sent: str, tmp_path: Path, sqlite_url: str, captured: _Captured
) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=sqlite_url)
    with TestClient(create_app(settings)) as client:
        answer = client.get("/healthz", headers={b"X-Request-ID": sent.encode()})
    assert answer.status_code == 200
    replaced = answer.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", replaced)
    (line,) = [line for line in captured.lines() if line["logger"] == "registry.access"]
    assert line["request_id"] == replaced
    assert line["client"] == "unknown"  # the test client's address is no IP address
    if sent:
        assert sent not in captured.text


def test_every_line_written_while_serving_carries_the_request_id(
    tmp_path: Path, sqlite_url: str
) -> None:
    """The text format, for a person: the id on each line, the route's template, and
    an exception's type and frames without its message (which may quote a person)."""
    capture = _Captured(TextLines())
    settings = Settings(data_dir=tmp_path / "data", database_url=sqlite_url)
    app = create_app(settings)

    @app.get("/boom/{anything}")
    def boom(anything: str) -> None:
        try:
            raise RuntimeError(f"a message quoting {anything}")
        except RuntimeError:
            logging.getLogger("registry.test").exception("failed")
            raise

    logger = logging.getLogger()
    logger.addHandler(capture.handler)
    level, logger.level = logger.level, logging.INFO
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            answer = client.get("/boom/secret-value", headers={"X-Request-ID": "trace-1"})
    finally:
        logger.removeHandler(capture.handler)
        logger.setLevel(level)
    assert answer.status_code == 500
    assert answer.headers["X-Request-ID"] == "trace-1"
    text = capture.text
    assert "ERROR registry.test [trace-1] failed" in text
    assert "registry.access [trace-1] GET /boom/{anything} 500" in text
    assert "builtins.RuntimeError" in text
    assert "secret-value" not in text


def test_the_serving_configuration_silences_uvicorns_access_log() -> None:
    config = log_config("json")
    assert config["loggers"]["uvicorn.access"] == {
        "handlers": [],
        "level": "WARNING",
        "propagate": False,
    }
    assert config["formatters"]["registry"]["()"] == "registry.node_log.JsonLines"
    assert log_config("text")["formatters"]["registry"]["()"] == "registry.node_log.TextLines"
