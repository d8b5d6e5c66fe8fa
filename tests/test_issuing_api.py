"""Issuing records through the API, as an issuing office would, checked as an outsider would."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select
from sqlmodel import col

from api import create_app
from api.examples import record_examples, status_change_examples
from registry.calendar import china_today
from registry.credentials.status_list import StatusBits
from registry.demo import DEMO_ENGINEERS
from registry.settings import Settings
from registry.storage.db import engine_scope, session_scope
from registry.storage.models import LogCheckpoint, LogEntry, Record, StoredCredential
from tests._outside import (
    inclusion_root,
    issuing_key,
    leaf_hash,
    log_verifier_key,
    note_signed_by,
    verify_eddsa_jcs_2022,
)
from tests._support import seed_demo_node

PROBLEM = "application/problem+json"
TODAY = china_today()
EXAMPLES = record_examples(TODAY)
WANG = DEMO_ENGINEERS[0]
CHANGES = status_change_examples(TODAY)


class Demo:
    """A demo node in-process: a client and one token per role."""

    def __init__(self, client: TestClient, tokens: dict[str, str], settings: Settings) -> None:
        self.client = client
        self.tokens = tokens
        self.settings = settings

    def auth(self, role: str, **headers: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}", **headers}

    def issue(self, body: dict[str, Any], role: str = "issuer:CN-SH") -> dict[str, Any]:
        response = self.client.post("/v1/credentials", json=body, headers=self.auth(role))
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    def counts(self) -> tuple[int, int, int]:
        with engine_scope(self.settings.database_url) as engine, session_scope(engine) as s:
            return (
                s.scalar(select(func.count()).select_from(StoredCredential)) or 0,
                s.scalar(select(func.count()).select_from(LogEntry)) or 0,
                s.scalar(select(func.count()).select_from(Record)) or 0,
            )


@pytest.fixture
def demo(settings: Settings) -> Iterator[Demo]:
    tokens = seed_demo_node(settings)
    with TestClient(create_app(settings)) as client:
        yield Demo(client, tokens, settings)


def _checked_by_outsider(demo: Demo, issued: dict[str, Any]) -> None:
    """The credential verifies with the trust list's key, and its leaf with the log."""
    credential = issued["credential"]
    trust = demo.client.get("/v1/trust-list").json()
    key = issuing_key(trust, credential["proof"]["verificationMethod"])
    verify_eddsa_jcs_2022(credential, key)
    authority = credential["issuer"].rsplit(":", 1)[1]
    origin, size, root = note_signed_by(issued["checkpoint"], log_verifier_key(trust, authority))
    assert origin.endswith(f"/{authority}")
    assert size == issued["tree_size"]
    bundle = demo.client.get(f"/v1/credentials/{credential['id']}/proof").json()
    _, latest_size, latest_root = note_signed_by(
        bundle["checkpoint"], log_verifier_key(trust, authority)
    )
    assert bundle["leafIndex"] == issued["leaf_index"]
    computed = inclusion_root(
        leaf_hash(credential), bundle["leafIndex"], latest_size, bundle["inclusionProof"]
    )
    assert computed == latest_root
    assert size <= latest_size
    assert size < latest_size or root == latest_root


@pytest.mark.parametrize("kind", sorted(EXAMPLES))
def test_every_type_is_issued_and_verifies_outside(demo: Demo, kind: str) -> None:
    issued = demo.issue(EXAMPLES[kind]["value"])
    credential = issued["credential"]
    assert credential["type"] == ["VerifiableCredential", EXAMPLES[kind]["value"]["type"]]
    assert issued["state"] == ("listed" if kind == "listing" else "active")
    _checked_by_outsider(demo, issued)
    read = demo.client.get(f"/v1/credentials/{credential['id']}").json()
    assert read["credential"] == credential
    assert read["state"] == issued["state"]
    assert read["leaf_index"] == issued["leaf_index"]


def test_seeded_records_verify_outside(demo: Demo) -> None:
    with engine_scope(demo.settings.database_url) as engine, session_scope(engine) as session:
        ids = [r.credential_id for r in session.scalars(select(Record))]
    assert len(ids) > 40
    for credential_id in ids:
        bundle = demo.client.get(f"/v1/credentials/{credential_id}/proof").json()
        trust = demo.client.get("/v1/trust-list").json()
        credential = bundle["credential"]
        verify_eddsa_jcs_2022(
            credential, issuing_key(trust, credential["proof"]["verificationMethod"])
        )
        _, size, root = note_signed_by(
            bundle["checkpoint"], log_verifier_key(trust, bundle["authority"])
        )
        assert root == inclusion_root(
            leaf_hash(credential), bundle["leafIndex"], size, bundle["inclusionProof"]
        )


def _with(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(body)
    *parents, last = path.split(".")
    target = changed
    for part in parents:
        target = target[part]
    if value is _MISSING:
        del target[last]
    else:
        target[last] = value
    return changed


_MISSING = object()
_BAD_FIELDS = [
    ("qualification", "holder.id_number", "310115199406180361", "check character"),
    ("qualification", "holder.id_number", "31011519940618036", "18"),
    ("qualification", "category", "fire", "not a category"),
    ("qualification", "certificate_number", "", "at least 1"),
    ("qualification", "issued_on", "2026-02-30", "date"),
    ("qualification", "holder.name", _MISSING, "required"),
    ("qualification", "level", "senior", "junior"),
    ("registration", "valid_until", "2040-01-01", "5 years"),
    ("registration", "kind", "transfer", "initial"),
    ("registration", "employer.credit_code", "91310104MA1FR0014", "18"),
    ("continuing-education", "hours", 0, "greater than 0"),
    ("continuing-education", "hours", 201, "less than or equal to 200"),
    ("continuing-education", "hours", 2.3, "halves"),
    ("continuing-education", "kind", "optional", "general"),
    ("listing", "measures", [], "at least 1"),
    ("listing", "listed.kind", "company", "organisation"),
    (
        "listing",
        "related_persons",
        [{"name": "x", "id_number": "1", "role": "cook"}],
        "other-responsible",
    ),
    ("listing", "authority", "CN-XX", "province code"),
]


@pytest.mark.parametrize(("kind", "path", "value", "says"), _BAD_FIELDS)
def test_each_invalid_field_gives_422_naming_it(
    demo: Demo, kind: str, path: str, value: Any, says: str
) -> None:
    before = demo.counts()
    body = _with(EXAMPLES[kind]["value"], path, value)
    response = demo.client.post("/v1/credentials", json=body, headers=demo.auth("issuer:CN-SH"))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    errors = response.json()["errors"]
    named = [e for e in errors if e["field"].startswith(path.split(".", maxsplit=1)[0])]
    assert named, errors
    assert any(says in e["message"] for e in named), errors
    assert demo.counts() == before


def test_references_are_checked_against_the_registry(demo: Demo) -> None:
    registration = EXAMPLES["registration"]["value"]
    cases = [
        (_with(registration, "qualification", "SH-0000"), "qualification", "no active"),
        (
            _with(
                registration, "holder", {"name": "王立新", "id_number": DEMO_ENGINEERS[0].id_number}
            ),
            "qualification",
            "someone else",
        ),
        (_with(registration, "category", "chemical"), "qualification", "category"),
        (_with(registration, "replaces", "urn:uuid:nothing"), "replaces", "no record"),
        (
            _with(
                EXAMPLES["qualification"]["value"],
                "issued_on",
                (TODAY + timedelta(days=1)).isoformat(),
            ),
            "issued_on",
            "future",
        ),
    ]
    before = demo.counts()
    for body, field, says in cases:
        response = demo.client.post("/v1/credentials", json=body, headers=demo.auth("issuer:CN-SH"))
        assert response.status_code == 422, response.text
        # 王立新 is registered already: that registration's term overlaps too.
        (error,) = [e for e in response.json()["errors"] if e["field"] == field]
        assert says in error["message"]
    assert demo.counts() == before


def test_roles_and_provinces(demo: Demo) -> None:
    body = EXAMPLES["qualification"]["value"]
    before = demo.counts()
    post = demo.client.post
    assert post("/v1/credentials", json=body).status_code == 401
    bad = post("/v1/credentials", json=body, headers={"Authorization": "Bearer yrd_nope"})
    assert bad.status_code == 401
    assert bad.headers["www-authenticate"] == "Bearer"
    for role in ("verifier", "enforcement", "federation", "admin", "issuer:CN-JS"):
        response = post("/v1/credentials", json=body, headers=demo.auth(role))
        assert response.status_code == 403, role
        assert response.headers["content-type"] == PROBLEM
        batch = post("/v1/credentials/batch", json={"items": [body]}, headers=demo.auth(role))
        assert batch.status_code == 403, role
    assert demo.counts() == before
    # Nor may Jiangsu change a Shanghai record.
    issued = demo.issue(EXAMPLES["registration"]["value"])
    response = post(
        f"/v1/credentials/{issued['credential']['id']}/status",
        json=CHANGES["suspend"]["value"],
        headers=demo.auth("issuer:CN-JS"),
    )
    assert response.status_code == 403
    read = demo.client.get(f"/v1/credentials/{issued['credential']['id']}").json()
    assert read["state"] == "active"


def test_idempotent_retry_returns_the_first_result(demo: Demo) -> None:
    headers = demo.auth("issuer:CN-SH", **{"Idempotency-Key": "7d6e0c1a-retry"})
    body = EXAMPLES["continuing-education"]["value"]
    first = demo.client.post("/v1/credentials", json=body, headers=headers)
    assert "idempotent-replayed" not in first.headers
    before = demo.counts()
    second = demo.client.post("/v1/credentials", json=body, headers=headers)
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert demo.counts() == before
    other = _with(body, "hours", 8)
    refused = demo.client.post("/v1/credentials", json=other, headers=headers)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "Idempotency-Key"
    assert demo.counts() == before
    # Batches too (another course: the same credit again would be refused).
    batch = {"items": [EXAMPLES["qualification"]["value"], _with(body, "course_title", "另一课程")]}
    batch_headers = demo.auth("issuer:CN-SH", **{"Idempotency-Key": "batch-1"})
    one = demo.client.post("/v1/credentials/batch", json=batch, headers=batch_headers)
    middle = demo.counts()
    two = demo.client.post("/v1/credentials/batch", json=batch, headers=batch_headers)
    assert (one.status_code, two.status_code) == (201, 201)
    assert two.content == one.content
    assert "idempotent-replayed" not in one.headers
    assert two.headers["idempotent-replayed"] == "true"
    assert demo.counts() == middle == (before[0] + 2, before[1] + 2, before[2] + 2)
    # And status changes.
    registration = demo.issue(EXAMPLES["registration"]["value"])["credential"]["id"]
    change_headers = demo.auth("issuer:CN-SH", **{"Idempotency-Key": "suspend-1"})
    path = f"/v1/credentials/{registration}/status"
    first_change = demo.client.post(path, json=CHANGES["suspend"]["value"], headers=change_headers)
    settled = demo.counts()
    again = demo.client.post(path, json=CHANGES["suspend"]["value"], headers=change_headers)
    assert (first_change.status_code, again.status_code) == (201, 201)
    assert again.json() == first_change.json()
    assert "idempotent-replayed" not in first_change.headers
    assert again.headers["idempotent-replayed"] == "true"
    assert demo.counts() == settled


def test_a_retried_correction_names_the_same_status_change(demo: Demo) -> None:
    first = demo.issue(EXAMPLES["qualification"]["value"])
    corrected = _with(EXAMPLES["qualification"]["value"], "holder.name", "黄海涛")
    corrected["replaces"] = first["credential"]["id"]
    single = demo.auth("issuer:CN-SH", **{"Idempotency-Key": "correct-1"})
    issued = demo.client.post("/v1/credentials", json=corrected, headers=single)
    retried = demo.client.post("/v1/credentials", json=corrected, headers=single)
    assert (issued.status_code, retried.status_code) == (201, 201)
    assert issued.json()["status_change"]
    assert retried.json() == issued.json()
    assert retried.headers["idempotent-replayed"] == "true"
    # In a batch too: the replayed item names its StatusChange, the other none.
    again = demo.issue(EXAMPLES["qualification"]["value"])
    batch = {
        "items": [
            EXAMPLES["continuing-education"]["value"],
            {**corrected, "replaces": again["credential"]["id"]},
        ]
    }
    batch_headers = demo.auth("issuer:CN-SH", **{"Idempotency-Key": "correct-batch-1"})
    one = demo.client.post("/v1/credentials/batch", json=batch, headers=batch_headers)
    two = demo.client.post("/v1/credentials/batch", json=batch, headers=batch_headers)
    assert [item["status_change"] is None for item in one.json()["items"]] == [True, False]
    assert two.json() == one.json()
    assert two.headers["idempotent-replayed"] == "true"


def test_a_replay_the_log_no_longer_covers_is_a_problem_not_a_crash(demo: Demo) -> None:
    headers = demo.auth("issuer:CN-SH", **{"Idempotency-Key": "uncovered-1"})
    body = EXAMPLES["continuing-education"]["value"]
    first = demo.client.post("/v1/credentials", json=body, headers=headers)
    assert first.status_code == 201
    # The checkpoints that cover the credential are gone: what is stored no longer
    # holds together, which is the node's fault, not the client's.
    with engine_scope(demo.settings.database_url) as engine, session_scope(engine) as session:
        session.execute(
            delete(LogCheckpoint).where(
                col(LogCheckpoint.authority_code) == "CN-SH",
                col(LogCheckpoint.tree_size) > first.json()["leaf_index"],
            )
        )
    retried = demo.client.post("/v1/credentials", json=body, headers=headers)
    assert retried.status_code == 500
    assert retried.headers["content-type"] == PROBLEM
    problem = retried.json()
    assert problem["type"] == "urn:yrd-registry:problem:internal-error"
    assert "no checkpoint of CN-SH covers leaf" in problem["detail"]


def test_a_batch_with_one_bad_item_writes_nothing(demo: Demo) -> None:
    good = [EXAMPLES["qualification"]["value"], EXAMPLES["continuing-education"]["value"]]
    bad_field = _with(EXAMPLES["continuing-education"]["value"], "hours", -1)
    bad_reference = _with(EXAMPLES["registration"]["value"], "qualification", "SH-0000")
    before = demo.counts()
    response = demo.client.post(
        "/v1/credentials/batch",
        json={"items": [*good, bad_field, *good]},
        headers=demo.auth("issuer:CN-SH"),
    )
    assert response.status_code == 422
    # The bad field and the credit item 4 repeats of item 1, in one answer.
    fields = [e["field"] for e in response.json()["errors"]]
    assert fields == ["items[2].hours", "items[4].course_title"]
    response = demo.client.post(
        "/v1/credentials/batch",
        json={"items": [*good, bad_reference, bad_reference]},
        headers=demo.auth("issuer:CN-SH"),
    )
    assert response.status_code == 422
    fields = [e["field"] for e in response.json()["errors"]]
    # The second registration of the same person also overlaps the first's term.
    assert fields == ["items[2].qualification", "items[3].qualification", "items[3].valid_from"]
    mixed = _with(EXAMPLES["qualification"]["value"], "authority", "CN-JS")
    response = demo.client.post(
        "/v1/credentials/batch", json={"items": [*good, mixed]}, headers=demo.auth("issuer:CN-SH")
    )
    assert response.status_code == 403
    too_many = {"items": [good[0]] * 10_001}
    response = demo.client.post(
        "/v1/credentials/batch", json=too_many, headers=demo.auth("issuer:CN-SH")
    )
    assert response.status_code == 422
    assert demo.counts() == before
    # The same CE credit three times would be one credit issued thrice: three courses.
    courses = [
        _with(EXAMPLES["continuing-education"]["value"], "course_title", f"化工过程安全第{n}期")
        for n in range(3)
    ]
    ok = demo.client.post(
        "/v1/credentials/batch",
        json={"items": [item for course in courses for item in (good[0], course)]},
        headers=demo.auth("issuer:CN-SH"),
    )
    assert ok.status_code == 201
    items = ok.json()["items"]
    assert [i["leaf_index"] for i in items] == list(
        range(items[0]["leaf_index"], items[0]["leaf_index"] + 6)
    )
    assert demo.counts() == (before[0] + 6, before[1] + 6, before[2] + 6)


def _bit(demo: Demo, credential: dict[str, Any], purpose: str) -> bool:
    entries = credential["credentialStatus"]
    entries = entries if isinstance(entries, list) else [entries]
    (entry,) = [e for e in entries if e["statusPurpose"] == purpose]
    response = demo.client.get(entry["statusListCredential"].removeprefix(demo.settings.node_url))
    assert response.status_code == 200
    status_list = response.json()
    trust = demo.client.get("/v1/trust-list").json()
    verify_eddsa_jcs_2022(
        status_list, issuing_key(trust, status_list["proof"]["verificationMethod"])
    )
    assert status_list["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    assert status_list["credentialSubject"]["statusPurpose"] == purpose
    bits = StatusBits.decode(status_list["credentialSubject"]["encodedList"])
    assert bits.size >= 131_072
    return bits.get(int(entry["statusListIndex"]))


def test_status_changes_flip_signed_status_list_bits(demo: Demo) -> None:
    issued = demo.issue(EXAMPLES["registration"]["value"])
    credential = issued["credential"]
    path = f"/v1/credentials/{credential['id']}/status"
    headers = demo.auth("issuer:CN-SH")
    assert not _bit(demo, credential, "suspension")
    assert not _bit(demo, credential, "revocation")
    suspended = demo.client.post(path, json=CHANGES["suspend"]["value"], headers=headers)
    assert suspended.status_code == 201, suspended.text
    assert suspended.json()["state"] == "suspended"
    change = suspended.json()["credential"]
    assert change["type"] == ["VerifiableCredential", "StatusChange"]
    assert change["credentialSubject"]["id"] == credential["id"]
    assert change["credentialSubject"]["state"] == "suspended"
    _checked_by_outsider(demo, suspended.json())
    assert _bit(demo, credential, "suspension")
    illegal = demo.client.post(path, json=CHANGES["lift"]["value"], headers=headers)
    assert illegal.status_code == 409
    assert "lift is not allowed for a suspended" in illegal.json()["detail"]
    reinstated = demo.client.post(path, json=CHANGES["reinstate"]["value"], headers=headers)
    assert reinstated.json()["state"] == "active"
    assert not _bit(demo, credential, "suspension")
    cancelled = demo.client.post(path, json=CHANGES["cancel"]["value"], headers=headers)
    assert cancelled.json()["state"] == "cancelled"
    assert _bit(demo, credential, "revocation")
    final = demo.client.post(path, json=CHANGES["reinstate"]["value"], headers=headers)
    assert final.status_code == 409
    assert "final" in final.json()["detail"]
    read = demo.client.get(f"/v1/credentials/{credential['id']}").json()
    assert [c["state_after"] for c in read["changes"]] == ["suspended", "active", "cancelled"]


def test_listing_lift_waits_for_the_earliest_removal_date(demo: Demo) -> None:
    issued = demo.issue(EXAMPLES["listing"]["value"])
    path = f"/v1/credentials/{issued['credential']['id']}/status"
    headers = demo.auth("issuer:CN-SH")
    too_early = demo.client.post(path, json=CHANGES["lift"]["value"], headers=headers)
    assert too_early.status_code == 409
    assert "12 months" in too_early.json()["detail"]
    too_far = TODAY.replace(year=TODAY.year + 1, day=min(TODAY.day, 28)) + timedelta(days=3)
    future = _with(CHANGES["withdraw"]["value"], "effective_on", too_far.isoformat())
    refused = demo.client.post(path, json=future, headers=headers)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "effective_on"
    withdrawn = demo.client.post(path, json=CHANGES["withdraw"]["value"], headers=headers)
    assert withdrawn.json()["state"] == "withdrawn"
    assert _bit(demo, issued["credential"], "revocation")


def test_a_listing_of_29_february_runs_through_28_february_three_years_on(demo: Demo) -> None:
    """民法典第二百零一条、第二百零二条: a listing of 2024-02-29 is in force through
    2027-02-28 and expired on 2027-03-01; credit repair may lift it from 2025-03-01,
    the day after its twelve months are complete."""
    body = _with(EXAMPLES["listing"]["value"], "listed_on", "2024-02-29")
    issued = demo.issue(body)
    credential = issued["credential"]
    subject = credential["credentialSubject"]
    assert (subject["earliestRemovalOn"], subject["expiresOn"]) == ("2025-03-01", "2027-03-01")
    assert credential["validUntil"].startswith("2027-02-28T16:00:00")  # 2027-03-01 in China
    inspector = demo.auth("enforcement")
    code = body["listed"]["credit_code"]

    def listed_on(day: str) -> list[str]:
        asked = {"credit_code": code, "date": day}
        answer = demo.client.post("/v1/blacklist/search", json=asked, headers=inspector)
        assert answer.status_code == 200, answer.text
        return [x["id"] for x in answer.json()["listings"]]

    assert listed_on("2027-02-28") == [credential["id"]]
    assert listed_on("2027-03-01") == []
    path = f"/v1/credentials/{credential['id']}/status"
    headers = demo.auth("issuer:CN-SH")
    early = _with(CHANGES["lift"]["value"], "effective_on", "2025-02-28")
    refused = demo.client.post(path, json=early, headers=headers)
    assert refused.status_code == 409
    assert "2025-03-01" in refused.json()["detail"]
    lifted = _with(CHANGES["lift"]["value"], "effective_on", "2025-03-01")
    assert demo.client.post(path, json=lifted, headers=headers).json()["state"] == "lifted"


def test_a_correction_supersedes_and_never_revokes(demo: Demo) -> None:
    """《注册安全工程师职业资格制度规定》 tells 撤销注册 (a decision) apart from correcting
    a record: the corrected record is superseded, never shown as revoked."""
    first = demo.issue(EXAMPLES["qualification"]["value"])
    corrected = _with(EXAMPLES["qualification"]["value"], "holder.name", "黄海涛")
    corrected["replaces"] = first["credential"]["id"]
    second = demo.issue(corrected)
    assert second["credential"]["credentialSubject"]["replaces"] == first["credential"]["id"]
    assert second["status_change"]
    old = demo.client.get(f"/v1/credentials/{first['credential']['id']}").json()
    assert old["state"] == "superseded"
    assert old["replaced_by"] == second["credential"]["id"]
    assert old["changes"][0]["id"] == second["status_change"]
    assert old["changes"][0]["action"] == "supersede"
    assert old["changes"][0]["state_after"] == "superseded"
    change = demo.client.get(f"/v1/credentials/{second['status_change']}").json()
    subject = change["credential"]["credentialSubject"]
    assert (subject["action"], subject["state"]) == ("supersede", "superseded")
    assert "decisionNumber" not in subject
    found = demo.client.post(
        "/v1/records/search", json={"state": "superseded"}, headers=demo.auth("issuer:CN-SH")
    )
    assert found.status_code == 200, found.text
    assert [r["credential_id"] for r in found.json()["records"]] == [first["credential"]["id"]]
    revoked = demo.client.post(
        "/v1/records/search", json={"state": "revoked"}, headers=demo.auth("issuer:CN-SH")
    )
    assert first["credential"]["id"] not in [r["credential_id"] for r in revoked.json()["records"]]
    assert _bit(demo, first["credential"], "revocation")
    assert not _bit(demo, second["credential"], "revocation")
    again = demo.client.post("/v1/credentials", json=corrected, headers=demo.auth("issuer:CN-SH"))
    assert again.status_code == 422
    assert again.json()["errors"][0]["field"] == "replaces"


def test_status_list_etag(demo: Demo) -> None:
    response = demo.client.get("/v1/status-lists/CN-SH/revocation")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vc"
    etag = response.headers["etag"]
    again = demo.client.get("/v1/status-lists/310000/revocation", headers={"If-None-Match": etag})
    assert again.status_code == 304
    version = response.json()["id"].rsplit("/", 1)[1]
    past = demo.client.get(f"/v1/status-lists/CN-SH/revocation/{version}")
    assert past.content == response.content
    assert "immutable" in past.headers["cache-control"]
    assert demo.client.get("/v1/status-lists/CN-SH/other").status_code == 422
    assert demo.client.get("/v1/status-lists/CN-SH/revocation/999").status_code == 404


_REVOKE = {**CHANGES["withdraw"]["value"], "action": "revoke", "reason": "更正：记录有误"}


@pytest.mark.parametrize("kind", ["registration", "listing", "qualification"])
def test_no_change_takes_effect_before_the_record_it_changes(demo: Demo, kind: str) -> None:
    record = EXAMPLES[kind]["value"]
    first_day = date.fromisoformat(
        record.get("valid_from") or record.get("listed_on") or record["issued_on"]
    )
    issued = demo.issue(record)
    path = f"/v1/credentials/{issued['credential']['id']}/status"
    headers = demo.auth("issuer:CN-SH")
    before = demo.counts()
    for day, why in (
        (first_day - timedelta(days=1), f"precedes the record's first day, {first_day}"),
        (date(1, 1, 1), "must lie between 1900-01-01 and 9000-12-31"),
    ):
        change = _with(_REVOKE, "effective_on", day.isoformat())
        refused = demo.client.post(path, json=change, headers=headers)
        assert refused.status_code == 422, refused.text
        [error] = refused.json()["errors"]
        assert error["field"].endswith("effective_on")
        assert why in error["message"]
    assert demo.counts() == before  # nothing signed, logged or stored
    on_its_day = _with(_REVOKE, "effective_on", first_day.isoformat())
    assert demo.client.post(path, json=on_its_day, headers=headers).status_code == 201


@pytest.mark.parametrize(
    ("kind", "field"),
    [
        ("qualification", "issued_on"),
        ("registration", "valid_from"),
        ("continuing-education", "completed_on"),
        ("listing", "listed_on"),
    ],
)
@pytest.mark.parametrize("value", ["0001-01-01", "9999-12-31", 0, "1/1/2026", "2026-02-30"])
def test_a_day_outside_the_calendar_is_refused_by_name(
    demo: Demo, kind: str, field: str, value: object
) -> None:
    before = demo.counts()
    body = _with(EXAMPLES[kind]["value"], field, value)
    refused = demo.client.post("/v1/credentials", json=body, headers=demo.auth("issuer:CN-SH"))
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert any(e["field"].endswith(field) for e in refused.json()["errors"]), refused.text
    assert demo.counts() == before


def test_a_day_asked_about_is_written_as_a_day(demo: Demo) -> None:
    assert demo.client.get("/v1/recognition?date=2026-01-01").status_code == 200
    # The forms offices write are read too (registry.calendar.parse_day).
    assert demo.client.get("/v1/recognition?date=20260101").status_code == 200
    for value in ("0", "0001-01-01", "2026-02-30", "1/1/2026"):
        refused = demo.client.get(f"/v1/recognition?date={value}")
        assert refused.status_code == 422, value
        assert refused.json()["errors"][0]["field"] == "date"
