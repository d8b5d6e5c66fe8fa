"""Request validation errors come back as problem+json naming every invalid field."""

from __future__ import annotations

from fastapi import FastAPI, Query
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from api.errors import PROBLEM_JSON, install_error_handlers
from registry.errors import FieldError, InvalidInput


class _Item(BaseModel):
    hours: int = Field(gt=0)
    kind: str


class _Batch(BaseModel):
    items: list[_Item]


def _app() -> FastAPI:
    # A tiny app wired with the real handlers: validation is FastAPI's, mapping is ours.
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/batch")
    def batch(body: _Batch, limit: int = Query(le=10)) -> dict[str, int]:
        return {"count": len(body.items)}

    @app.get("/domain")
    def domain() -> None:
        raise InvalidInput(
            "two fields are wrong",
            errors=(FieldError("holder.id", "bad check character"), FieldError("hours", "<= 0")),
        )

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internals")

    return app


def test_every_invalid_field_is_named() -> None:
    client = TestClient(_app())
    response = client.post(
        "/batch?limit=50",
        json={"items": [{"hours": 2, "kind": "general"}, {"hours": 0}, {"kind": 3}]},
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM_JSON
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"items[1].hours", "items[1].kind", "items[2].hours", "items[2].kind", "limit"}


def test_domain_field_errors_pass_through() -> None:
    response = TestClient(_app()).get("/domain")
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "holder.id", "message": "bad check character"},
        {"field": "hours", "message": "<= 0"},
    ]


def test_unexpected_errors_are_a_bare_500_problem() -> None:
    response = TestClient(_app(), raise_server_exceptions=False).get("/boom")
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["type"] == "urn:yrd-registry:problem:internal-error"
    assert "secret internals" not in response.text
