"""The log endpoints, checked the way an outside verifier holding the trust list would."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import rfc8785
from fastapi.testclient import TestClient

from api import create_app
from registry.datadir import DataDir
from registry.demo import seed_demo
from registry.settings import Settings
from registry.storage.db import engine_scope, session_scope
from registry.tlog.checkpoint import open_note, parse_checkpoint
from registry.tlog.merkle import leaf_hash, verify_consistency, verify_inclusion
from registry.tlog.note import parse_verifier_key
from registry.tlog.sequencer import append
from registry.trust.store import NodeProfile
from tests.test_merkle import Reference
from tests.test_tlog import _credentials

PROBLEM = "application/problem+json"


@pytest.fixture
def logged(settings: Settings) -> Iterator[tuple[TestClient, list[bytes]]]:
    key_store = DataDir(settings).key_store()
    leaves: list[bytes] = []
    with engine_scope(settings.database_url) as engine:
        with session_scope(engine) as session:
            seed_demo(session, key_store, profile=NodeProfile.from_settings(settings))
        for batch in (3, 4):
            with session_scope(engine) as session:
                made = _credentials(session, key_store, batch, signed_at=datetime.now(UTC))
                append(session, key_store, "CN-SH", made, origin_prefix="registry.yrd.example")
                leaves += [leaf for _, leaf in made]
    with TestClient(create_app(settings)) as client:
        yield client, leaves


def test_an_outside_verifier_checks_checkpoint_and_proofs(
    logged: tuple[TestClient, list[bytes]],
) -> None:
    client, leaves = logged
    trust = client.get("/v1/trust-list").json()
    (member,) = [m for m in trust["credentialSubject"]["members"] if m["code"] == "CN-SH"]
    verifier = parse_verifier_key(member["log"]["verifierKey"])
    logs = client.get("/v1/logs").json()
    assert logs == [
        {
            "authority": "CN-SH",
            "origin": "registry.yrd.example/CN-SH",
            "size": 7,
            "witnessed_size": 0,  # a single member: nobody else to witness it
            "verifier_key": member["log"]["verifierKey"],
        }
    ]
    response = client.get("/v1/logs/310000/checkpoint")
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    checkpoint = parse_checkpoint(open_note(response.text, [verifier]).text)
    assert checkpoint.size == 7
    for index, leaf in enumerate(leaves):
        encoded = base64.b64encode(leaf_hash(leaf)).decode()
        proof = client.get(
            "/v1/logs/CN-SH/proof/inclusion", params={"leaf_hash": encoded, "tree_size": 7}
        ).json()
        assert proof["leaf_index"] == index
        hashes = [base64.b64decode(h) for h in proof["hashes"]]
        verify_inclusion(leaf_hash(leaf), index, 7, hashes, checkpoint.root)
    body = client.get("/v1/logs/CN-SH/proof/consistency", params={"first": 3, "second": 7}).json()
    assert body["first"] == 3
    # The checkpoint at size 3 was signed too; the proof links it to the newest.
    assert body["second"] == 7
    first_root = Reference(leaves[:3]).mth(0, 3)
    verify_consistency(
        3, 7, first_root, checkpoint.root, [base64.b64decode(h) for h in body["hashes"]]
    )


def test_sizes_outside_the_log_are_400(logged: tuple[TestClient, list[bytes]]) -> None:
    client, leaves = logged
    encoded = base64.b64encode(leaf_hash(leaves[0])).decode()
    cases: list[tuple[str, dict[str, str | int]]] = [
        ("/v1/logs/CN-SH/proof/inclusion", {"leaf_hash": encoded, "tree_size": 8}),
        ("/v1/logs/CN-SH/proof/consistency", {"first": 5, "second": 3}),
        ("/v1/logs/CN-SH/proof/consistency", {"first": 1, "second": 99}),
    ]
    for path, params in cases:
        response = client.get(path, params=params)
        assert response.status_code == 400, (path, params)
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["type"] == "urn:yrd-registry:problem:out-of-range"
    for junk in ("@@", "é" * 44, "AAAA"):
        bad = client.get(
            "/v1/logs/CN-SH/proof/inclusion", params={"leaf_hash": junk, "tree_size": 1}
        )
        assert bad.status_code == 422, junk
        assert bad.json()["errors"][0]["field"] == "leaf_hash"
    assert client.get("/v1/logs/CN-JS/checkpoint").status_code == 404
    assert client.get("/v1/logs/CN-XX/checkpoint").status_code == 422


def test_a_credential_proof_bundle_checks_offline(
    logged: tuple[TestClient, list[bytes]],
) -> None:
    client, leaves = logged
    trust = client.get("/v1/trust-list").json()
    (member,) = [m for m in trust["credentialSubject"]["members"] if m["code"] == "CN-SH"]
    verifier = parse_verifier_key(member["log"]["verifierKey"])
    first = json.loads(leaves[1])
    bundle = client.get(f"/v1/credentials/{first['id']}/proof").json()
    assert bundle["credential"] == first
    assert (bundle["authority"], bundle["leafIndex"], bundle["treeSize"]) == ("CN-SH", 1, 7)
    checkpoint = parse_checkpoint(open_note(bundle["checkpoint"], [verifier]).text)
    leaf = rfc8785.dumps(bundle["credential"])
    hashes = [base64.b64decode(h) for h in bundle["inclusionProof"]]
    verify_inclusion(leaf_hash(leaf), 1, checkpoint.size, hashes, checkpoint.root)
    missing = client.get("/v1/credentials/urn:uuid:nothing/proof")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == PROBLEM
