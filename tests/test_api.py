"""The HTTP API in-process: health, readiness, problem+json, authorities."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from fastapi.testclient import TestClient

from api import create_app
from registry.datadir import DataDir
from registry.demo import seed_demo
from registry.settings import Settings
from registry.storage.db import engine_scope, session_scope, upgrade
from registry.trust.store import NodeProfile

PROBLEM = "application/problem+json"


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with engine_scope(settings.database_url) as engine, session_scope(engine) as session:
        seed_demo(
            session, DataDir(settings).key_store(), profile=NodeProfile.from_settings(settings)
        )
    with TestClient(create_app(settings)) as client:
        yield client


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_when_migrated(client: TestClient, db_url: str) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["revision"] == body["head"]
    assert body["database"] == ("sqlite" if db_url.startswith("sqlite") else "postgresql")


def test_readyz_is_503_until_migrated(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'empty.db'}")
    with TestClient(create_app(settings)) as client:
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.headers["content-type"] == PROBLEM
        assert "registry db upgrade" in response.json()["detail"]
        assert client.get("/healthz").status_code == 200
        with engine_scope(settings.database_url) as engine:
            upgrade(engine)
        assert client.get("/readyz").status_code == 200


def test_readyz_is_503_when_the_database_is_unreachable(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        database_url="postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1",
    )
    with TestClient(create_app(settings)) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["detail"].startswith("database unreachable")


def test_authorities(client: TestClient) -> None:
    response = client.get("/v1/authorities")
    assert response.status_code == 200
    authorities = response.json()
    assert [a["code"] for a in authorities] == ["CN-AH", "CN-JS", "CN-SH", "CN-ZJ"]
    shanghai = client.get("/v1/authorities/310000").json()
    assert shanghai["code"] == "CN-SH"
    assert shanghai["name_zh"] == "上海市应急管理局"
    assert sorted(k["purpose"] for k in shanghai["keys"]) == ["issuing", "log", "node", "witness"]
    for key in shanghai["keys"]:
        assert key["public_key_multibase"].startswith("z6Mk")
        assert key["verification_method"].startswith("did:key:z6Mk")
        assert "key_name" not in key


def test_unknown_authority_is_a_404_problem(client: TestClient) -> None:
    response = client.get("/v1/authorities/CN-GD")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["type"] == "urn:yrd-registry:problem:not-found"
    assert body["status"] == 404
    assert body["instance"] == "/v1/authorities/CN-GD"
    assert "CN-GD" in body["detail"]


def test_bad_code_is_a_422_problem(client: TestClient) -> None:
    response = client.get("/v1/authorities/CN-XX")
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert "not a province code" in body["detail"]
    assert [e["field"] for e in body["errors"]] == ["code"]


def test_unknown_route_is_a_problem(client: TestClient) -> None:
    response = client.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"] == "urn:yrd-registry:problem:http-404"


def test_openapi_documents_the_routes(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert {
        "/healthz",
        "/readyz",
        "/v1/authorities",
        "/v1/authorities/{code}",
        "/v1/trust-list",
        "/v1/trust-list/history",
        "/v1/trust-list/{version}",
    } <= set(spec["paths"])
    assert "304" in spec["paths"]["/v1/trust-list"]["get"]["responses"]
    assert client.get("/docs").status_code == 200


def test_openapi_documents_what_is_served_byte_for_byte(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]

    def content(path: str, method: str = "get", code: str = "200") -> dict[str, Any]:
        found: dict[str, Any] = paths[path][method]["responses"][code]["content"]
        return found

    # Signed documents are served byte for byte, and documented as what they are.
    signed = {"schema": {"$ref": "#/components/schemas/SignedDocument"}}
    assert content("/v1/trust-list") == {"application/json": signed}
    assert content("/v1/trust-list/{version}") == {"application/json": signed}
    assert content("/v1/status-lists/{authority}/{purpose}") == {"application/vc": signed}
    assert content("/v1/status-lists/{authority}/{purpose}/{version}") == {"application/vc": signed}
    binary = {"schema": {"type": "string", "format": "binary"}}
    assert content("/v1/credentials/{credential_id}/qr") == {
        "image/svg+xml": binary,
        "image/png": binary,
    }
    assert content("/v1/credentials/batch", "post", "201") == {
        "application/json": {"schema": {"$ref": "#/components/schemas/BatchIssuedOut"}}
    }
    assert content("/v1/recognition") == {
        "application/json": {"schema": {"$ref": "#/components/schemas/AgreementsOut"}}
    }
    assert content("/healthz") == {
        "application/json": {"schema": {"$ref": "#/components/schemas/Liveness"}}
    }
    assert client.get("/healthz").json() == {"status": "ok"}


def test_trust_list_current_with_etag(client: TestClient) -> None:
    response = client.get("/v1/trust-list")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    digest = hashlib.sha256(response.content).hexdigest()
    etag = response.headers["etag"]
    assert etag == f'"{digest}"'
    assert response.headers["cache-control"] == "no-cache"
    document = response.json()
    assert document["credentialSubject"]["version"] == 1
    assert len(document["proof"]) == 4
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        cached = client.get("/v1/trust-list", headers={"If-None-Match": header})
        assert cached.status_code == 304, header
        assert cached.content == b""
        assert cached.headers["etag"] == etag
    stale = client.get("/v1/trust-list", headers={"If-None-Match": '"' + "0" * 64 + '"'})
    assert stale.status_code == 200
    assert stale.content == response.content


def test_trust_list_versions_and_history(client: TestClient) -> None:
    current = client.get("/v1/trust-list")
    first = client.get("/v1/trust-list/1")
    assert first.status_code == 200
    assert first.content == current.content
    assert "immutable" in first.headers["cache-control"]
    history = client.get("/v1/trust-list/history").json()
    unsigned = {k: v for k, v in current.json().items() if k != "proof"}
    digest = hashlib.sha256(rfc8785.dumps(unsigned)).hexdigest()
    assert history["genesis"] == digest
    assert history["current"] == 1
    assert [(v["version"], v["digest"], v["previous"], v["href"]) for v in history["versions"]] == [
        (1, digest, None, "/v1/trust-list/1")
    ]
    missing = client.get("/v1/trust-list/2")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == PROBLEM
    assert missing.json()["detail"] == "no trust-list version 2"
    for bad in ("0", "x", "99999999999"):
        invalid = client.get(f"/v1/trust-list/{bad}")
        assert invalid.status_code == 422
        assert invalid.json()["errors"][0]["field"] == "version"


def test_trust_list_before_any_version(settings: Settings) -> None:
    with engine_scope(settings.database_url) as engine:
        upgrade(engine)
    with TestClient(create_app(settings)) as client:
        response = client.get("/v1/trust-list")
        assert response.status_code == 404
        assert response.json()["detail"] == "no trust list has been published yet"
        assert client.get("/v1/trust-list/history").json() == {
            "genesis": None,
            "current": None,
            "versions": [],
        }
