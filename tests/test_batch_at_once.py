"""A batch's every problem in one answer: the bad fields of every item and what the
registry finds wrong with the rest (a qualification not held, a CE credit already
issued), and nothing written. Through the API, on PostgreSQL and SQLite."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api import create_app
from api.examples import record_examples
from registry.calendar import china_today
from registry.messages import translate
from registry.settings import Settings
from registry.storage.db import engine_scope, session_scope
from registry.storage.models import LogEntry, StoredCredential
from tests._support import seed_demo_node

TODAY = china_today()
EXAMPLES = record_examples(TODAY)
PROBLEM = "application/problem+json"
ENGLISH = {"Accept-Language": "en"}
CHINESE = {"Accept-Language": "zh"}


class Node:
    """A demo node in-process: a client and one token per role."""

    def __init__(self, client: TestClient, tokens: dict[str, str], settings: Settings) -> None:
        self.client = client
        self.tokens = tokens
        self.settings = settings

    def batch(self, items: list[dict[str, Any]], **headers: str) -> Any:
        return self.client.post(
            "/v1/credentials/batch",
            json={"items": items},
            headers={"Authorization": f"Bearer {self.tokens['issuer:CN-SH']}", **headers},
        )

    def counts(self) -> tuple[int, int]:
        with engine_scope(self.settings.database_url) as engine, session_scope(engine) as session:
            return (
                session.scalar(select(func.count()).select_from(StoredCredential)) or 0,
                session.scalar(select(func.count()).select_from(LogEntry)) or 0,
            )


@pytest.fixture
def node(settings: Settings) -> Iterator[Node]:
    tokens = seed_demo_node(settings)
    with TestClient(create_app(settings)) as client:
        yield Node(client, tokens, settings)


def _value(name: str) -> dict[str, Any]:
    return copy.deepcopy(EXAMPLES[name]["value"])


def _problems(node: Node, **language: str) -> tuple[dict[str, Any], dict[str, str]]:
    registration = _value("registration")
    registration["valid_from"] = "2026-13-45"
    registration["qualification"] = "SH-0000"
    again = _value("continuing-education")
    again["hours"] = -1
    bad_id = _value("continuing-education")
    bad_id["holder"]["id_number"] = "310101198503120218"  # the check digit is 7
    bad_id["course_title"] = "有限空间作业安全"
    before = node.counts()
    response = node.batch([registration, _value("qualification"), again, bad_id], **language)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    assert node.counts() == before
    body: dict[str, Any] = response.json()
    fields = [e["field"] for e in body["errors"]]
    assert len(fields) == len(set(fields))
    return body, {e["field"]: e["message"] for e in body["errors"]}


def test_every_problem_of_every_item_comes_in_one_answer(node: Node) -> None:
    first = node.batch([_value("continuing-education")])
    assert first.status_code == 201, first.text
    held = first.json()["items"][0]["credential"]["id"]
    body, errors = _problems(node, **ENGLISH)
    # Item 0: a bad date, and a qualification the registry does not hold; item 1 is
    # valid; item 2: a bad number of hours, and a credit already issued; item 3: a bad
    # ID number (the credit it would repeat is known by that number, so no more is said).
    assert list(errors) == [
        "items[0].valid_from",
        "items[0].qualification",
        "items[2].hours",
        "items[2].course_title",
        "items[3].holder.id_number",
    ]
    assert "SH-0000" in errors["items[0].qualification"]
    assert errors["items[2].course_title"].endswith(f"is already issued: {held}")
    assert body["detail"] == "5 problem(s) in the batch: nothing is issued"


def test_the_problems_of_a_batch_come_in_chinese(node: Node) -> None:
    first = node.batch([_value("continuing-education")])
    assert first.status_code == 201, first.text
    held = first.json()["items"][0]["credential"]["id"]
    _, english = _problems(node, **ENGLISH)
    body, chinese = _problems(node, **CHINESE)
    assert list(chinese) == list(english)
    for field, message in english.items():
        assert chinese[field] == translate(message, "zh")
        assert chinese[field] != message, field
    assert chinese["items[2].course_title"].endswith(held)
    assert body["detail"] == "批量请求中有 5 处问题：未签发任何记录"


def test_a_valid_batch_still_issues_and_answers_as_before(node: Node) -> None:
    items = [_value("qualification"), _value("continuing-education")]
    key = {"Idempotency-Key": "batch-at-once-1"}
    before = node.counts()
    response = node.batch(items, **key)
    assert response.status_code == 201, response.text
    answer = response.json()
    assert list(answer) == ["tree_size", "checkpoint", "items", "receipt_id"]
    assert [list(item) for item in answer["items"]] == [
        ["credential", "state", "leaf_index", "status_change"]
    ] * 2
    assert answer["receipt_id"]
    assert node.counts()[0] == before[0] + 2
    replayed = node.batch(items, **key)
    assert replayed.status_code == 201
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.content == response.content


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([], "body"),
        ({}, "items"),
        ({"items": []}, "items"),
        ({"items": [1]}, "items[0]"),
        ({"items": [{"type": "Nothing"}]}, "items[0]"),
    ],
)
def test_a_bad_envelope_is_named(node: Node, body: Any, field: str) -> None:
    response = node.client.post(
        "/v1/credentials/batch",
        json=body,
        headers={"Authorization": f"Bearer {node.tokens['issuer:CN-SH']}"},
    )
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == [field]
