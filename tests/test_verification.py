"""Verifying engineers: the verdicts and their reasons, the signed report checked
offline and by an outside verifier, tampering caught by name, batches, QR codes."""

from __future__ import annotations

import copy
import csv
import io
import json
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api import create_app
from api.examples import verify_batch_examples, verify_examples
from api.schemas.verification import VerifyBatchOut
from registry.calendar import china_today
from registry.credentials.lifecycle import Action, StatusChangeIn
from registry.demo import (
    DEMO_ENGINEERS,
    credit_code,
    resident_id,
)
from registry.demo.agreements import DEMO_AGREEMENTS
from registry.issuing import change_status
from registry.settings import Settings
from registry.trust.document import digest_of
from registry.verification import EngineerQuery
from registry.verification.offline import Check, check_file
from registry.verification.qr import parse_qr_payload
from tests._outside import (
    inclusion_root,
    issuing_key,
    leaf_hash,
    log_verifier_key,
    note_signed_by,
    verify_eddsa_jcs_2022,
)
from tests._support import seed_demo_node
from tests._verifying import Node
from tests._verifying import failures as _failures
from tests._verifying import resigned as _resigned
from tests._witnessing import cosign_node

TODAY = china_today()
ENGINEERS = {e.name: e for e in DEMO_ENGINEERS}


@pytest.fixture
def node(settings: Settings) -> Iterator[Node]:
    tokens = seed_demo_node(settings)
    with TestClient(create_app(settings)) as client:
        yield Node(settings, client, tokens)


def _codes(report: dict[str, Any]) -> list[tuple[bool, str]]:
    return [(r["holds"], r["code"]) for r in report["credentialSubject"]["reasons"]]


def _genesis(chain: list[dict[str, Any]]) -> str:
    return digest_of(chain[0])


def _unchecked(check: Check) -> list[str]:
    found = [check.name] if check.ok is None and "not checked" in check.detail else []
    for child in check.children:
        found += _unchecked(child)
    return found


EXPECTED = {
    "recognised": ("qualified", [(True, "recognised"), (True, "own-region")]),
    "by-registration-number": ("qualified", [(True, "recognised"), (True, "recognised")]),
    "registered-elsewhere": ("not-qualified", [(True, "recognised"), (False, "kind-not-covered")]),
    "suspended": ("not-qualified", [(True, "own-region"), (False, "registration-suspended")]),
    "not-registered": ("not-qualified", [(True, "own-region"), (False, "not-registered")]),
    "renewal-hours-information": (
        "qualified",
        [(True, "own-region"), (True, "own-region"), (True, "ce-term-hours")],
    ),
    "listed-engineer": ("qualified", [(True, "own-region"), (True, "own-region")]),
    "other-employer": (
        "not-qualified",
        [(True, "own-region"), (True, "own-region"), (False, "registered-to-other-employer")],
    ),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_documented_examples_give_their_verdicts(node: Node, name: str) -> None:
    report = node.verify(**verify_examples()[name]["value"])
    subject = report["credentialSubject"]
    verdict, reasons = EXPECTED[name]
    assert subject["verdict"] == verdict
    assert _codes(report)[: len(reasons)] == reasons
    assert all(r["zh"] and r["en"] for r in subject["reasons"])
    assert report["type"] == ["VerifiableCredential", "VerificationReport"]
    assert check_file(
        report, trust_lists=node.chain(), genesis=_genesis(node.chain()), demo=True
    ).holds


def test_chen_jing_counts_in_shanghai_through_the_agreement(node: Node) -> None:
    report = node.verify(id_number=ENGINEERS["陈静"].id_number, region="CN-SH")
    subject = report["credentialSubject"]
    assert subject["holder"]["name"] == "陈静"
    assert subject["qualification"]["issuer"] == "CN-JS"
    assert subject["qualification"]["agreement"] == subject["agreements"][0]["id"]
    ce = subject["continuingEducation"]
    foreign = [c for c in ce["credits"] if c["issuer"] == "CN-ZJ"]
    assert foreign
    assert all(c["counts"] and c["agreement"] for c in foreign)
    assert ce["counted"]["total"] == 44.5
    # Shanghai's shipped rule is provisional: the hours are reported, no requirement.
    assert ce["rule"]["standing"] == "provisional"
    assert "required" not in ce
    assert "met" not in ce
    # No ID number in clear anywhere in the report.
    assert ENGINEERS["陈静"].id_number not in str(report)


def test_one_course_counts_once_though_two_authorities_issued_it(node: Node) -> None:
    chen = ENGINEERS["陈静"]
    before = node.verify(id_number=chen.id_number, region="CN-SH")["credentialSubject"]
    ce = before["continuingEducation"]
    assert ce["duplicates"] == []
    counted = next(c for c in ce["credits"] if c["counts"] and c["issuer"] == "CN-ZJ")
    subject = node.client.get(f"/v1/credentials/{counted['id']}").json()["credential"][
        "credentialSubject"
    ]
    # Anhui issues the very same course again (its title typed in full width): a second
    # credential of one course, which issuing cannot refuse across authorities.
    again = {
        "type": "ContinuingEducationCredit",
        "authority": "CN-AH",
        "holder": {"name": chen.name, "id_number": chen.id_number},
        "course_title": "　" + subject["course"]["title"].upper() + " ",
        "provider": {
            "name": subject["provider"]["name"],
            "credit_code": subject["provider"]["creditCode"],
        },
        "hours": subject["hours"],
        "kind": subject["kind"],
        "completed_on": subject["completedOn"],
    }
    issued = node.client.post(
        "/v1/credentials",
        json=again,
        headers={"Authorization": f"Bearer {node.tokens['issuer:CN-AH']}"},
    )
    assert issued.status_code == 201, issued.text
    second = issued.json()["credential"]["id"]
    report = node.verify(id_number=chen.id_number, region="CN-SH")
    after = report["credentialSubject"]["continuingEducation"]
    assert after["counted"] == ce["counted"]
    (duplicate,) = after["duplicates"]
    assert {duplicate["id"], duplicate["sameAs"]} == {counted["id"], second}
    (set_aside,) = [c for c in after["credits"] if c["id"] == duplicate["id"]]
    assert set_aside["counts"] is False
    assert set_aside["reason"]["code"] == "duplicate-course"
    assert set_aside["duplicateOf"] == duplicate["sameAs"]
    assert check_file(
        report, trust_lists=node.chain(), genesis=_genesis(node.chain()), demo=True
    ).holds


def test_a_report_verifies_with_an_outside_verifier(node: Node) -> None:
    report = node.verify(id_number=ENGINEERS["陈静"].id_number, region="CN-SH")
    trust = node.client.get("/v1/trust-list").json()
    verify_eddsa_jcs_2022(report, issuing_key(trust, report["proof"]["verificationMethod"]))
    evidence = report["credentialSubject"]["evidence"]
    roots = {}
    for item in evidence["checkpoints"]:
        _, size, root = note_signed_by(
            item["checkpoint"], log_verifier_key(trust, item["authority"])
        )
        roots[item["authority"]] = (size, root)
    relied = {c["credential"]["id"] for c in evidence["credentials"]}
    subject = report["credentialSubject"]
    assert {subject["qualification"]["id"], subject["registration"]["id"]} <= relied
    for item in evidence["credentials"]:
        size, root = roots[item["authority"]]
        assert item["treeSize"] == size
        computed = inclusion_root(
            leaf_hash(item["credential"]), item["leafIndex"], size, item["inclusionProof"]
        )
        assert computed == root


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("credentialSubject", "verdict"), "qualified"),
        (("credentialSubject", "query", "region"), "CN-AH"),
        (("credentialSubject", "query", "date"), "2020-01-01"),
        (("credentialSubject", "reasons", 1, "holds"), True),
        (("credentialSubject", "registration", "state"), "active"),
        (("credentialSubject", "holder", "name"), "王立新"),
        (("credentialSubject", "evidence", "credentials", 0, "leafIndex"), 3),
        (("issuer",), "urn:yrd-registry:authority:CN-JS"),
        (("validFrom",), "2030-01-01T00:00:00Z"),
    ],
)
def test_any_field_changed_is_rejected_at_the_signature(
    node: Node, path: tuple[Any, ...], value: Any
) -> None:
    report = node.verify(id_number=ENGINEERS["张伟"].id_number, region="CN-JS")
    assert check_file(
        report, trust_lists=node.chain(), genesis=_genesis(node.chain()), demo=True
    ).holds
    changed = copy.deepcopy(report)
    target = changed
    for step in path[:-1]:
        target = target[step]
    assert target[path[-1]] != value
    target[path[-1]] = value
    failures = _failures(
        check_file(changed, trust_lists=node.chain(), genesis=_genesis(node.chain()), demo=True)
    )
    assert len(failures) == 1
    assert "report > report signature" in failures[0]


def test_the_demos_agreements_count_only_on_a_node_running_the_demo(node: Node) -> None:
    """The demo's recognition agreements cite synthetic documents: a node running the
    demo relies on them; the same data served by a node not running it does not, and
    a record from another province is then not recognised."""
    asked = verify_examples()["recognised"]["value"]
    report = node.verify(**asked)
    assert _codes(report)[:1] == [(True, "recognised")]
    [relied] = report["credentialSubject"]["agreements"]
    assert relied["id"] in {a.id for _, a in DEMO_AGREEMENTS}
    off = node.settings.model_copy(update={"demo": False})
    with TestClient(create_app(off)) as client:
        answer = client.post(
            "/v1/verify/engineer",
            json=asked,
            headers={"Authorization": f"Bearer {node.tokens['verifier']}"},
        )
    assert answer.status_code == 200, answer.text
    subject = answer.json()["credentialSubject"]
    assert subject["verdict"] == "not-qualified"
    assert _codes(answer.json())[:1] == [(False, "no-agreement")]
    assert subject["agreements"] == []


def test_a_report_whose_evidence_does_not_hold_names_the_check(node: Node) -> None:
    report = node.verify(id_number=ENGINEERS["陈静"].id_number, region="CN-SH")
    chain = node.chain()
    assert check_file(
        _resigned(node, report), trust_lists=chain, genesis=_genesis(chain), demo=True
    ).holds

    def fails(change: Any, expected: str) -> None:
        changed = copy.deepcopy(report)
        change(changed["credentialSubject"])
        failures = _failures(
            check_file(
                _resigned(node, changed), trust_lists=chain, genesis=_genesis(chain), demo=True
            )
        )
        assert failures, expected
        assert expected in failures[0], failures

    def credential(subject: dict[str, Any], kind: str) -> dict[str, Any]:
        items = subject["evidence"]["credentials"]
        found: dict[str, Any] = next(i for i in items if kind in i["credential"]["type"])
        return found

    def edit_credential(subject: dict[str, Any]) -> None:
        credential(subject, "SafetyEngineerQualification")["credential"]["credentialSubject"][
            "category"
        ] = "chemical"

    def edit_proof(subject: dict[str, Any]) -> None:
        item = credential(subject, "SafetyEngineerRegistration")
        item["inclusionProof"][0] = item["inclusionProof"][-1][::-1]

    def drop_agreement(subject: dict[str, Any]) -> None:
        items = subject["evidence"]["credentials"]
        subject["evidence"]["credentials"] = [
            i for i in items if "RecognitionAgreement" not in i["credential"]["type"]
        ]

    def edit_checkpoint(subject: dict[str, Any]) -> None:
        (jiangsu,) = (c for c in subject["evidence"]["checkpoints"] if c["authority"] == "CN-JS")
        jiangsu["checkpoint"] = jiangsu["checkpoint"].replace("\n", "\n1", 1)

    def claim_other_issuer(subject: dict[str, Any]) -> None:
        subject["qualification"]["issuer"] = "CN-SH"

    fails(edit_credential, "signature and key")
    fails(edit_proof, "inclusion in its log")
    fails(drop_agreement, "not in the verified evidence")
    fails(edit_checkpoint, "checkpoint of CN-JS")
    fails(claim_other_issuer, "the report says CN-SH, the credential CN-JS")

    def flip_verdict(subject: dict[str, Any]) -> None:
        subject["verdict"] = "not-qualified"

    def pass_over_the_employer(subject: dict[str, Any]) -> None:
        subject["query"]["employer"] = credit_code("91320100MA1MX0003")

    def make_a_note_decide(subject: dict[str, Any]) -> None:
        subject["reasons"][-1]["decides"] = True
        subject["reasons"][-1]["holds"] = False

    fails(flip_verdict, "its deciding reasons differ")
    fails(pass_over_the_employer, "yet the registration is to")
    fails(make_a_note_decide, "its deciding reasons differ")


def test_a_report_needs_the_trust_list_and_its_genesis(node: Node) -> None:
    report = node.verify(id_number=ENGINEERS["王立新"].id_number, region="CN-SH")
    assert not check_file(report, trust_lists=[], demo=True).holds
    failures = _failures(check_file(report, trust_lists=node.chain(), genesis="00" * 32, demo=True))
    assert "trust list" in failures[0]
    # No pinned genesis: nothing holds, unless the file's own genesis is taken, and
    # then the check says it was not pinned.
    unpinned = check_file(report, trust_lists=node.chain(), demo=True)
    assert not unpinned.holds
    assert "no genesis digest pinned" in _failures(unpinned)[0]
    taken = check_file(report, trust_lists=node.chain(), unsafe_genesis_from_file=True, demo=True)
    assert taken.holds
    genesis = taken.children[0].children[0]
    assert (genesis.name, genesis.ok) == ("genesis", None)
    assert "NOT PINNED" in genesis.detail


def test_state_on_the_day_asked_about(node: Node) -> None:
    # 张伟's registration was suspended 20 days ago: a month ago he was registered.
    zhang = ENGINEERS["张伟"].id_number
    before = (TODAY - timedelta(days=30)).isoformat()
    assert node.verify(id_number=zhang, region="CN-JS")["credentialSubject"]["verdict"] == (
        "not-qualified"
    )
    then = node.verify(id_number=zhang, region="CN-JS", date=before)["credentialSubject"]
    assert then["verdict"] == "qualified"
    assert then["registration"]["state"] == "active"


def test_a_revoked_registration(node: Node) -> None:
    zhou = ENGINEERS["周涛"]
    report = node.verify(id_number=zhou.id_number, region="CN-AH")
    registration = report["credentialSubject"]["registration"]["id"]
    for session in node.session():
        change_status(
            session,
            node.context,
            registration,
            StatusChangeIn(
                action=Action.REVOKE,
                reason="以欺骗手段取得注册",
                decision_number="皖应急注〔2026〕9号",
                effective_on=TODAY,
            ),
        )
    after = node.verify(id_number=zhou.id_number, region="CN-AH")
    assert after["credentialSubject"]["verdict"] == "not-qualified"
    assert (False, "registration-revoked") in _codes(after)
    yesterday = (TODAY - timedelta(days=1)).isoformat()
    assert node.verify(id_number=zhou.id_number, region="CN-AH", date=yesterday)[
        "credentialSubject"
    ]["verdict"] == ("qualified")


def test_a_listing_in_another_province_is_reported_here(node: Node) -> None:
    """A listing in any province is reported beside the verdict with its measures;
    it decides only through a measure restricting practice, which this one lacks
    (《安全生产严重失信主体名单管理办法》, 应急管理部令第11号)."""
    wang = ENGINEERS["王立新"]
    listed_on = TODAY - timedelta(days=40)
    (listing,) = node.issue(
        [
            {
                "type": "UntrustworthinessListing",
                "authority": "CN-JS",
                "listed": {
                    "kind": "organisation",
                    "name": "江苏某危化品运输有限公司",
                    "credit_code": credit_code("91320900MA1Q50099"),
                },
                "related_persons": [
                    {"name": wang.name, "id_number": wang.id_number, "role": "responsible"}
                ],
                "legal_basis": "《安全生产严重失信主体名单管理办法》第六条",
                "penalty_decision_number": "苏应急罚〔2026〕88号",
                "listing_decision_number": "苏应急失信〔2026〕8号",
                "listed_on": listed_on.isoformat(),
                "measures": ["依法依规实施联合惩戒"],
            }
        ]
    )
    report = node.verify(id_number=wang.id_number, region="CN-SH")
    subject = report["credentialSubject"]
    assert subject["verdict"] == "qualified"
    assert (False, "listed-untrustworthy") in _codes(report)
    (listed,) = [r for r in subject["reasons"] if r["code"] == "listed-untrustworthy"]
    assert listed["decides"] is False
    assert [(x["id"], x["issuer"], x["role"]) for x in subject["listings"]] == [
        (listing, "CN-JS", "responsible")
    ]
    assert "苏应急失信〔2026〕8号" in listed["zh"]
    assert "依法依规实施联合惩戒" in listed["zh"]
    # Just issued: Jiangsu's newest checkpoint is not witnessed yet, and the report
    # says so beside the verdict, proving the listing at that checkpoint.
    (waiting,) = [r for r in subject["reasons"] if r["code"] == "not-yet-witnessed"]
    assert waiting["decides"] is False
    assert "江苏" in waiting["zh"]
    assert "Jiangsu" in waiting["en"]
    witnessed = {log["authority"]: log["witnessed"] for log in subject["logs"]}
    assert witnessed == {"CN-AH": True, "CN-JS": False, "CN-SH": True, "CN-ZJ": True}
    assert check_file(
        report, trust_lists=node.chain(), genesis=_genesis(node.chain()), demo=True
    ).holds
    cosign_node(node.settings, logs=["CN-JS"])
    again = node.verify(id_number=wang.id_number, region="CN-SH")["credentialSubject"]
    assert "not-yet-witnessed" not in [r["code"] for r in again["reasons"]]
    assert all(log["witnessed"] for log in again["logs"])
    before = (listed_on - timedelta(days=1)).isoformat()
    earlier = node.verify(id_number=wang.id_number, region="CN-SH", date=before)
    assert earlier["credentialSubject"]["verdict"] == "qualified"
    assert earlier["credentialSubject"]["listings"] == []
    assert "listed-untrustworthy" not in [c for _, c in _codes(earlier)]


def test_a_renewal_stands_whatever_hours_the_registry_holds(node: Node) -> None:
    """A registration the authority granted stands until it ends or a signed decision
    ends it; continuing education is a condition the registering authority checks
    when it grants a renewal (延续注册), so the registry's own count is information
    (《注册安全工程师职业资格制度规定》; 《注册安全工程师管理规定》 for the hours)."""
    huang = ENGINEERS["黄磊"]
    report = node.verify(id_number=huang.id_number, region="CN-ZJ")
    subject = report["credentialSubject"]
    assert subject["verdict"] == "qualified"
    assert subject["registration"]["kind"] == "renewal"
    previous = subject["continuingEducation"]["previousPeriod"]
    assert previous["counted"]["total"] == 32.5
    assert previous["rule"] == {**previous["rule"], "authority": "CN-ZJ", "standing": "provisional"}
    assert "met" not in previous
    assert "required" not in previous
    said = {r["code"]: r for r in subject["reasons"]}
    assert said["ce-previous-hours"]["decides"] is False
    assert "未按正式规定评估" in said["ce-previous-hours"]["zh"]
    # The earlier registration the hours were counted over is in the evidence.
    assert previous["registration"] in {
        c["credential"]["id"] for c in subject["evidence"]["credentials"]
    }
    assert check_file(
        report, trust_lists=node.chain(), genesis=_genesis(node.chain()), demo=True
    ).holds

    # 刘洋 renews without an earlier registration in the registry: it stands too.
    liu = ENGINEERS["刘洋"]
    start = TODAY - timedelta(days=10)
    node.issue(
        [
            {
                "type": "SafetyEngineerRegistration",
                "authority": "CN-SH",
                "holder": {"name": liu.name, "id_number": liu.id_number},
                "registration_number": "SH-REG-7001",
                "qualification": liu.certificate_number,
                "category": liu.category,
                "employer": {
                    "name": "上海申安检测技术有限公司",
                    "credit_code": credit_code("91310104MA1FR0014"),
                },
                "kind": "renewal",
                "valid_from": start.isoformat(),
                "valid_until": (start + timedelta(days=1500)).isoformat(),
            }
        ]
    )
    report = node.verify(id_number=liu.id_number, region="CN-SH")
    subject = report["credentialSubject"]
    assert subject["verdict"] == "qualified"
    assert (True, "ce-previous-term-not-held") in _codes(report)
    assert "previousPeriod" not in subject["continuingEducation"]
    assert check_file(
        report, trust_lists=node.chain(), genesis=_genesis(node.chain()), demo=True
    ).holds


def test_by_registration_number_the_name_must_match(node: Node) -> None:
    right = node.verify(registration_number="SH-REG-1001", name="王 立新", region="CN-SH")
    assert right["credentialSubject"]["verdict"] == "qualified"
    assert right["credentialSubject"]["query"]["by"] == "registration-number"
    wrong = node.verify(registration_number="SH-REG-1001", name="王力新", region="CN-SH")
    assert wrong["credentialSubject"]["verdict"] == "not-qualified"
    # The number exists: the answer says the name is wrong, and never whose it is.
    assert _codes(wrong) == [(False, "name-mismatch")]
    assert wrong["credentialSubject"]["reasons"][0]["en"] == (
        "the name does not match this registration"
    )
    assert "holder" not in wrong["credentialSubject"]
    assert "王立新" not in json.dumps(wrong["credentialSubject"], ensure_ascii=False)
    unknown = node.verify(registration_number="SH-REG-9999", name="王立新", region="CN-SH")
    assert _codes(unknown) == [(False, "no-records")]


@pytest.mark.parametrize(
    "body",
    [
        {"region": "CN-SH"},
        {"id_number": ENGINEERS["陈静"].id_number},
        {"id_number": "320106199007210460", "region": "CN-SH"},
        {"id_number": ENGINEERS["陈静"].id_number, "region": "CN-XX"},
        {"id_number": ENGINEERS["陈静"].id_number, "region": "CN-SH", "category": "nuclear"},
        {"registration_number": "SH-REG-1001", "region": "CN-SH"},
        {"id_number": ENGINEERS["陈静"].id_number, "region": "CN-SH", "extra": 1},
    ],
)
def test_bad_questions_are_refused_clearly(node: Node, body: dict[str, Any]) -> None:
    response = node.client.post(
        "/v1/verify/engineer",
        json=body,
        headers={"Authorization": f"Bearer {node.tokens['verifier']}"},
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "320106199007210460" not in response.text


def test_verification_needs_a_token_and_is_post_only(node: Node) -> None:
    body = verify_examples()["recognised"]["value"]
    assert node.client.post("/v1/verify/engineer", json=body).status_code == 401
    issuer = {"Authorization": f"Bearer {node.tokens['issuer:CN-SH']}"}
    assert node.client.post("/v1/verify/engineer", json=body, headers=issuer).status_code == 403
    assert node.client.get("/v1/verify/engineer").status_code == 405


def test_a_batch_answers_every_row_in_json_and_csv(node: Node) -> None:
    rows = verify_batch_examples()["mixed"]["value"]["rows"]
    auth = {"Authorization": f"Bearer {node.tokens['verifier']}"}
    response = node.client.post("/v1/verify/batch", json={"rows": rows}, headers=auth)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    # The answer is what the OpenAPI document says it is, field for field.
    VerifyBatchOut.model_validate(response.json())
    assert [r["row"] for r in results] == [1, 2, 3, 4, 5]
    assert [r.get("verdict") for r in results] == [
        "qualified",
        "not-qualified",
        "qualified",
        "not-qualified",
        None,
    ]
    assert "id_number" in results[4]["error"]
    # One answer per row, the same as one by one.
    single = node.verify(**rows[1])["credentialSubject"]
    assert results[1]["reasons"] == single["reasons"]

    text = "id_number,region,category\n" + "\n".join(
        [
            f"{ENGINEERS['王立新'].id_number},CN-SH,chemical",
            f"{ENGINEERS['王立新'].id_number},CN-SH,construction",
            "12345,CN-SH,",
            f"{ENGINEERS['周涛'].id_number},CN-QQ,",
        ]
    )
    answer = node.client.post(
        "/v1/verify/batch",
        content=text.encode(),
        headers={**auth, "content-type": "text/csv", "accept-language": "en"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(answer.text.lstrip("\ufeff"))))
    assert [r["verdict"] for r in table] == ["qualified", "not-qualified", "", ""]
    assert "in the chemical category, not construction" in table[1]["reasons_en"]
    assert "id_number" in table[2]["error"]
    assert "CN-QQ" in table[3]["error"]


def test_a_batch_over_the_limit_or_malformed_is_refused(node: Node) -> None:
    auth = {"Authorization": f"Bearer {node.tokens['verifier']}"}
    row = {"id_number": ENGINEERS["陈静"].id_number, "region": "CN-SH"}
    too_many = node.client.post("/v1/verify/batch", json={"rows": [row] * 10_001}, headers=auth)
    assert too_many.status_code == 422
    empty = node.client.post("/v1/verify/batch", json={"rows": []}, headers=auth)
    assert empty.status_code == 422
    columns = node.client.post(
        "/v1/verify/batch",
        content=b"idnumber,region\n1,CN-SH\n",
        headers={**auth, "content-type": "text/csv"},
    )
    assert columns.status_code == 422
    assert "idnumber" in columns.json()["detail"]


def test_qr_codes_name_the_credential_and_its_digest(node: Node) -> None:
    report = node.verify(id_number=ENGINEERS["陈静"].id_number, region="CN-SH")
    registration = report["credentialSubject"]["registration"]["id"]
    svg = node.client.get(f"/v1/credentials/{registration}/qr")
    assert svg.status_code == 200
    assert svg.headers["content-type"] == "image/svg+xml"
    assert svg.content.lstrip().startswith(b"<?xml")
    assert b"<svg" in svg.content
    png = node.client.get(f"/v1/credentials/{registration}/qr", params={"format": "png"})
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n")
    text = png.headers["x-qr-text"]
    # The address of the credential's page on this node, what it is checked against
    # in the fragment (never sent to a server).
    page, fragment = text.split("#")
    assert page == f"{node.settings.node_url}/c/{registration}"
    assert fragment.startswith("a=CN-SH&h=")
    assert len(fragment) == len("a=CN-SH&h=") + 43
    payload = parse_qr_payload(text)
    assert payload == parse_qr_payload(payload.text())  # the line printed before, still read
    assert (payload.authority, payload.credential_id) == ("CN-SH", registration)
    bundle = node.client.get(f"/v1/credentials/{registration}/proof").json()
    chain = node.chain()
    assert check_file(
        bundle, trust_lists=chain, genesis=_genesis(chain), qr=payload, demo=True
    ).holds
    other = node.client.get(
        f"/v1/credentials/{report['credentialSubject']['qualification']['id']}/proof"
    ).json()
    failures = _failures(
        check_file(other, trust_lists=chain, genesis=_genesis(chain), qr=payload, demo=True)
    )
    assert "QR code" in failures[0]
    assert node.client.get(f"/v1/credentials/{registration}/qr?format=gif").status_code == 422
    assert (
        node.client.get(
            "/v1/credentials/urn:uuid:00000000-0000-4000-8000-000000000000/qr"
        ).status_code
        == 404
    )


def test_someone_unknown_gets_a_signed_answer_saying_so(node: Node) -> None:
    report = node.verify(id_number=resident_id("310101", "19990101", "999"), region="CN-SH")
    assert _codes(report) == [(False, "no-records")]
    # Nothing found rests on every log the node holds: each is named, with its checkpoint.
    evidence = report["credentialSubject"]["evidence"]
    assert evidence["credentials"] == []
    named = ["CN-AH", "CN-JS", "CN-SH", "CN-ZJ"]
    assert [c["authority"] for c in evidence["checkpoints"]] == named
    assert [log["authority"] for log in report["credentialSubject"]["logs"]] == named
    assert check_file(
        report, trust_lists=node.chain(), genesis=_genesis(node.chain()), demo=True
    ).holds


def test_the_verifier_judges_in_process_the_same_as_the_api(node: Node) -> None:
    for session in node.session():
        verified = node.verifier.verify(
            session,
            EngineerQuery(
                region="CN-SH",
                id_number=ENGINEERS["陈静"].id_number,
                on=date.fromisoformat(TODAY.isoformat()),
            ),
        )
    assert verified.judgement.qualified
    assert len(verified.judgement.agreements) == 1


def test_status_lists_given_offline_decide_status(node: Node) -> None:
    zhang = node.verify(id_number=ENGINEERS["张伟"].id_number, region="CN-JS")
    suspended = zhang["credentialSubject"]["registration"]["id"]
    wang = node.verify(id_number=ENGINEERS["李娜"].id_number, region="CN-JS")
    active = wang["credentialSubject"]["registration"]["id"]
    lists = [
        node.client.get(f"/v1/status-lists/CN-JS/{purpose}").json()
        for purpose in ("revocation", "suspension")
    ]
    chain = node.chain()
    fine = node.client.get(f"/v1/credentials/{active}/proof").json()
    held = check_file(
        fine, trust_lists=chain, genesis=_genesis(chain), status_lists=lists, demo=True
    )
    assert held.holds
    assert not _unchecked(held)
    assert _unchecked(check_file(fine, trust_lists=chain, genesis=_genesis(chain), demo=True)) == [
        "status (revocation)",
        "status (suspension)",
    ]
    bundle = node.client.get(f"/v1/credentials/{suspended}/proof").json()
    without = check_file(bundle, trust_lists=chain, genesis=_genesis(chain), demo=True)
    assert without.holds  # status unchecked is said, not failed
    failures = _failures(
        check_file(
            bundle, trust_lists=chain, genesis=_genesis(chain), status_lists=lists, demo=True
        )
    )
    assert len(failures) == 1
    assert "status (suspension)" in failures[0]
    assert "suspended" in failures[0]
    forged = copy.deepcopy(lists[1])
    forged["credentialSubject"]["encodedList"] = lists[0]["credentialSubject"]["encodedList"]
    failures = _failures(
        check_file(
            bundle,
            trust_lists=chain,
            genesis=_genesis(chain),
            status_lists=[lists[0], forged],
            demo=True,
        )
    )
    assert "status (suspension)" in failures[0]
    assert "signature" in failures[0]


def test_a_proof_bundle_checks_offline_in_either_spelling(node: Node) -> None:
    registration = node.verify(id_number=ENGINEERS["王立新"].id_number, region="CN-SH")
    relied = registration["credentialSubject"]["evidence"]["credentials"][0]["credential"]
    bundle = node.client.get(f"/v1/credentials/{relied['id']}/proof").json()
    assert {"leafIndex", "treeSize", "inclusionProof"} <= set(bundle)
    assert check_file(
        bundle, trust_lists=node.chain(), genesis=_genesis(node.chain()), demo=True
    ).holds
    # As the API wrote it before it spelled proofs as reports do: still read.
    old = {k: v for k, v in bundle.items() if k not in ("leafIndex", "treeSize", "inclusionProof")}
    old |= {
        "leaf_index": bundle["leafIndex"],
        "tree_size": bundle["treeSize"],
        "hashes": bundle["inclusionProof"],
    }
    assert check_file(
        old, trust_lists=node.chain(), genesis=_genesis(node.chain()), demo=True
    ).holds
    wrong = {**bundle, "leafIndex": bundle["leafIndex"] + 1}
    assert (
        "inclusion in its log"
        in _failures(
            check_file(wrong, trust_lists=node.chain(), genesis=_genesis(node.chain()), demo=True)
        )[0]
    )


def test_a_csv_batch_reads_any_line_ending_and_refuses_a_giant_cell(node: Node) -> None:
    headers = {
        "Authorization": f"Bearer {node.tokens['verifier']}",
        "content-type": "text/csv",
        "accept": "application/json",
    }
    number = ENGINEERS["王立新"].id_number
    for ending in ("\r", "\n", "\r\n"):
        body = ending.join(["id_number,region", f"{number},CN-SH", "12345,CN-SH"]) + ending
        answer = node.client.post("/v1/verify/batch", content=body.encode(), headers=headers)
        assert answer.status_code == 200, (repr(ending), answer.text)
        results = answer.json()["results"]
        assert [r.get("verdict") for r in results] == ["qualified", None]
    giant = f"id_number,region\n{'1' * 200_000},CN-SH\n"
    refused = node.client.post("/v1/verify/batch", content=giant.encode(), headers=headers)
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
