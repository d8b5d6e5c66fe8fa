"""The OpenAPI document describes every answer: each operation's success responses
name a schema for every content type they are sent as."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from api import create_app
from registry.settings import Settings

_BINARY = {"type": "string", "format": "binary"}


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("openapi")
    settings = Settings(data_dir=root, database_url=f"sqlite:///{root / 'registry.sqlite3'}")
    with TestClient(create_app(settings)) as client:
        document: dict[str, Any] = client.get("/openapi.json").json()
    return document


def _undescribed(spec: dict[str, Any]) -> list[str]:
    missing = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if not status.startswith("2") or status == "204":
                    continue
                content = response.get("content") or {}
                if not content:
                    missing.append(f"{method.upper()} {path} {status}: no content")
                for media, body in content.items():
                    schema = body.get("schema") or {}
                    described = (
                        "$ref" in schema
                        or "$ref" in schema.get("items", {})
                        or (media.startswith("text/") and schema.get("type") == "string")
                        or schema == _BINARY
                    )
                    if not described:
                        missing.append(f"{method.upper()} {path} {status} {media}: {schema}")
    return missing


def test_every_success_response_names_its_schema(spec: dict[str, Any]) -> None:
    assert _undescribed(spec) == []


def test_the_check_itself_finds_an_untyped_answer() -> None:
    untyped = {
        "paths": {
            "/x": {
                "get": {
                    "responses": {
                        "200": {
                            "content": {
                                "application/json": {
                                    "schema": {"type": "object", "additionalProperties": True}
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    assert _undescribed(untyped) == [
        "GET /x 200 application/json: {'type': 'object', 'additionalProperties': True}"
    ]
