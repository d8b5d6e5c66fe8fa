"""What the verdict decides and what it only reports, each rule with its source.

Every test asks through the API, as an employer's system does, and checks the signed
report offline, as ``registry verify`` does. docs/verification.md has the table of
reasons these tests exercise.
"""

from __future__ import annotations

import copy
import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import TypeAdapter
from sqlmodel import Session, col, select

from api import create_app
from registry.calendar import add_years, china_today
from registry.credentials.records import RecordIn
from registry.crypto.eddsa_jcs_2022 import add_proof
from registry.demo import DEMO_ENGINEERS, DEMO_RENEWING, credit_code
from registry.errors import InvalidInput
from registry.issuing import IssuingContext, issue_records
from registry.settings import Settings
from registry.storage.db import engine_scope, session_scope
from registry.storage.models import Record, StoredCredential
from registry.trust.document import digest_of
from registry.trust.store import stored_versions
from registry.verification import EngineerVerifier
from registry.verification.offline import check_file
from tests._support import seed_demo_node

ENGINEERS = {e.name: e for e in DEMO_ENGINEERS}
SHIPPED = Path(__file__).parent.parent / "registry/ce/policies"


def _official(directory: Path, authority: str, extra: str = "") -> None:
    """Copy the shipped rules into ``directory``, ``authority``'s made official (as a
    province publishing its own rule does), with ``extra`` fields."""
    directory.mkdir(exist_ok=True)
    for path in SHIPPED.glob("*.toml"):
        text = path.read_text(encoding="utf-8")
        if path.stem == authority:
            text = text.replace(
                'standing = "provisional"', f'standing = "official"\n{extra}'
            ).replace(
                'source = """\n',
                f'source = """\n{authority} 继续教育实施办法（测试用规定）；\n',
            )
        (directory / path.name).write_text(text, encoding="utf-8")


class Node:
    """A seeded demo node answering through its API."""

    def __init__(self, settings: Settings, client: TestClient, tokens: dict[str, str]) -> None:
        self.settings = settings
        self.client = client
        self.tokens = tokens

    def verify(self, **body: Any) -> dict[str, Any]:
        response = self.client.post(
            "/v1/verify/engineer",
            json=body,
            headers={"Authorization": f"Bearer {self.tokens['verifier']}"},
        )
        assert response.status_code == 200, response.text
        report: dict[str, Any] = response.json()
        return report

    def checks_offline(self, report: dict[str, Any]) -> bool:
        with engine_scope(self.settings.database_url) as engine, session_scope(engine) as s:
            chain = _chain(s)
        return check_file(report, trust_lists=chain, genesis=digest_of(chain[0]), demo=True).holds


def _chain(session: Session) -> list[dict[str, Any]]:
    return [json.loads(row.canonical) for row in stored_versions(session)]


@pytest.fixture
def node_with(settings: Settings) -> Iterator[Any]:
    """Start a seeded node, with the CE rules of a directory if given."""
    tokens = seed_demo_node(settings)
    clients: list[TestClient] = []

    def start(rules: Path | None = None) -> Node:
        configured = settings.model_copy(update={"ce_rules_dir": rules})
        client = TestClient(create_app(configured))
        client.__enter__()
        clients.append(client)
        return Node(configured, client, tokens)

    yield start
    for client in clients:
        client.__exit__(None, None, None)


def _forged(node: Node, report: dict[str, Any], code: str) -> dict[str, Any]:
    """The report turned qualified, the deciding reason ``code`` said to hold, and
    signed again by the node's own key: what a dishonest node could send."""
    forged = copy.deepcopy({k: v for k, v in report.items() if k != "proof"})
    forged["credentialSubject"]["verdict"] = "qualified"
    for reason in forged["credentialSubject"]["reasons"]:
        if reason["code"] == code:
            reason["holds"] = True
    context = IssuingContext.for_node(node.settings)
    verifier = EngineerVerifier(key_store=context.key_store, lookup=context.lookup)
    now = datetime.now(UTC).replace(microsecond=0)
    with engine_scope(node.settings.database_url) as engine, session_scope(engine) as s:
        _, signer = verifier.node_signer(s, at=now)
    signed: dict[str, Any] = add_proof(forged, signer, created=now)
    return signed


def _refused_offline(node: Node, report: dict[str, Any]) -> list[str]:
    with engine_scope(node.settings.database_url) as engine, session_scope(engine) as s:
        chain = _chain(s)
    check = check_file(report, trust_lists=chain, genesis=digest_of(chain[0]), demo=True)
    assert not check.holds
    found: list[str] = []
    pending = [check]
    while pending:
        node_check = pending.pop()
        if node_check.ok is False:
            found.append(node_check.detail)
        pending.extend(node_check.children)
    return found


def _said(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["code"]: r for r in report["credentialSubject"]["reasons"]}


def test_a_renewal_short_of_hours_under_an_official_rule_still_stands(
    node_with: Any, tmp_path: Path
) -> None:
    """A registration the authority granted stands until it ends or a signed decision
    ends it; continuing education is a condition the registering authority checks
    when it grants a renewal (延续注册). So a shortfall the registry counts, under the
    province's official rule, is reported beside the verdict and decides nothing
    (《注册安全工程师职业资格制度规定》, 2019; hours: 《注册安全工程师管理规定》)."""
    _official(tmp_path / "rules", "CN-ZJ")
    node = node_with(tmp_path / "rules")
    report = node.verify(id_number=ENGINEERS[DEMO_RENEWING].id_number, region="CN-ZJ")
    subject = report["credentialSubject"]
    assert subject["verdict"] == "qualified"
    said = _said(report)["ce-previous-shortfall"]
    assert (said["holds"], said["decides"]) == (False, False)
    assert "仅供参考" in said["zh"]
    previous = subject["continuingEducation"]["previousPeriod"]
    assert previous["rule"]["standing"] == "official"
    assert previous["met"] is False
    assert previous["required"]["hours"] == 48
    assert previous["counted"] == {"general": 0, "professional": 32.5, "total": 32.5}
    assert [r["code"] for r in previous["shortfalls"]] == ["too-few-hours"]
    assert node.checks_offline(report)


def test_a_rule_that_says_a_shortfall_ends_practice_decides(node_with: Any, tmp_path: Path) -> None:
    """Only a province's official rule file saying, with its source, that a shortfall
    itself ends the right to practise makes the hours decide; the reason says so."""
    _official(tmp_path / "rules", "CN-ZJ", "shortfall_ends_practice = true")
    node = node_with(tmp_path / "rules")
    report = node.verify(id_number=ENGINEERS[DEMO_RENEWING].id_number, region="CN-ZJ")
    assert report["credentialSubject"]["verdict"] == "not-qualified"
    said = _said(report)["ce-previous-shortfall-ends-practice"]
    assert (said["holds"], said["decides"]) == (False, True)
    assert node.checks_offline(report)
    # Offline, a node's report may not call such a renewal qualified.
    forged = _forged(node, report, "ce-previous-shortfall-ends-practice")
    assert any("previous term fell short" in d for d in _refused_offline(node, forged))


def test_a_provisional_rule_states_no_requirement(node_with: Any) -> None:
    """A rule that is a default, not a province's published rule, is provisional: the
    report says the hours were not assessed under an official rule and states no
    requirement (the shipped rules; 《注册安全工程师管理规定》 gives their 48 hours)."""
    node = node_with()
    report = node.verify(id_number=ENGINEERS[DEMO_RENEWING].id_number, region="CN-ZJ")
    ce = report["credentialSubject"]["continuingEducation"]
    for term in (ce, ce["previousPeriod"]):
        assert term["rule"]["standing"] == "provisional"
        assert "注册安全工程师管理规定" in term["rule"]["source"]
        assert not {"required", "met", "shortfalls"} & set(term)
    said = _said(report)
    assert "not assessed under an official rule" in said["ce-previous-hours"]["en"]
    assert said["ce-term-hours"]["decides"] is False
    assert node.checks_offline(report)
    # As `make run` suggests asking, by registration number and name.
    asked = node.verify(registration_number="ZJ-REG-1010", name="黄磊", region="CN-ZJ")
    assert asked["credentialSubject"]["verdict"] == "qualified"
    assert asked["credentialSubject"]["registration"]["kind"] == "renewal"
    listed = node.verify(registration_number="ZJ-REG-1006", name="赵强", region="CN-ZJ")
    assert [r["code"] for r in listed["credentialSubject"]["reasons"]][-1] == "listed-untrustworthy"


def test_hours_count_under_the_registering_authority_s_rule(node_with: Any) -> None:
    """Continuing education is the registering authority's condition: the rule applied
    is that of the authority that registered the engineer, not of the region asked
    about, over the registration's own term."""
    node = node_with()
    wang = ENGINEERS["王立新"]  # registered in Shanghai, asked about in Anhui
    report = node.verify(id_number=wang.id_number, region="CN-AH")
    subject = report["credentialSubject"]
    assert subject["verdict"] == "qualified"
    ce = subject["continuingEducation"]
    assert ce["rule"]["authority"] == "CN-SH"
    assert ce["registration"] == subject["registration"]["id"]
    assert ce["period"] == {
        "from": subject["registration"]["validFrom"],
        "until": subject["registration"]["validUntil"],
    }
    assert node.checks_offline(report)


def test_an_employer_asks_whether_the_engineer_is_registered_to_it(node_with: Any) -> None:
    """An engineer practises for the one employer registered (不得同时受聘于两个或两个
    以上单位, 《注册安全工程师分类管理办法》, 2017): asked for by that employer the
    answer holds; asked for by another, the engineer is not qualified to practise
    there until a change of registration (变更注册)."""
    node = node_with()
    wang = ENGINEERS["王立新"]
    assert wang.employer is not None
    own = node.verify(id_number=wang.id_number, region="CN-SH", employer=wang.employer[1])
    assert own["credentialSubject"]["verdict"] == "qualified"
    assert own["credentialSubject"]["query"]["employer"] == wang.employer[1]
    assert _said(own)["registered-to-employer"]["holds"] is True
    assert node.checks_offline(own)
    chen = ENGINEERS["陈静"]
    assert chen.employer is not None
    other = node.verify(id_number=wang.id_number, region="CN-SH", employer=chen.employer[1])
    assert other["credentialSubject"]["verdict"] == "not-qualified"
    said = _said(other)["registered-to-other-employer"]
    assert (said["holds"], said["decides"]) == (False, True)
    assert "变更注册" in said["zh"]
    assert node.checks_offline(other)
    # A credit code that is not one is refused, as any other bad field.
    response = node.client.post(
        "/v1/verify/engineer",
        json={"id_number": wang.id_number, "region": "CN-SH", "employer": "12345"},
        headers={"Authorization": f"Bearer {node.tokens['verifier']}"},
    )
    assert response.status_code == 422
    assert "employer" in response.text


def test_a_listing_whose_measures_do_not_restrict_practice_is_reported(node_with: Any) -> None:
    """A listing decides only what its decision says: no rule makes an
    untrustworthiness listing as such end or suspend a registration, so one whose
    measures do not restrict practice is reported with them beside the verdict
    (《安全生产严重失信主体名单管理办法》, 应急管理部令第11号, 2023)."""
    node = node_with()
    report = node.verify(id_number=ENGINEERS["赵强"].id_number, region="CN-ZJ")
    subject = report["credentialSubject"]
    assert subject["verdict"] == "qualified"
    said = _said(report)["listed-untrustworthy"]
    assert (said["holds"], said["decides"]) == (False, False)
    assert "列为重点监管对象" in said["zh"]
    (listing,) = subject["listings"]
    assert listing["role"] == "directly-responsible"
    assert node.checks_offline(report)


def test_a_batch_asks_for_an_employer_by_its_column(node_with: Any) -> None:
    """An HR desk checks a list against its own credit code: the column
    聘用单位统一社会信用代码 asks, and the answer table echoes it beside the reason
    (one employer at a time, 《注册安全工程师分类管理办法》)."""
    node = node_with()
    wang, chen = ENGINEERS["王立新"], ENGINEERS["陈静"]
    assert wang.employer is not None
    assert chen.employer is not None
    text = "身份证号,地区,聘用单位统一社会信用代码\n" + "\n".join(
        [
            f"{wang.id_number},CN-SH,{wang.employer[1]}",
            f"{wang.id_number},CN-SH,{chen.employer[1]}",
        ]
    )
    answer = node.client.post(
        "/v1/verify/batch",
        content=text.encode(),
        headers={
            "Authorization": f"Bearer {node.tokens['verifier']}",
            "content-type": "text/csv",
        },
    )
    assert answer.status_code == 200, answer.text
    rows = list(csv.DictReader(io.StringIO(answer.text.lstrip("\ufeff"))))
    assert [r["结论代码"] for r in rows] == ["qualified", "not-qualified"]
    assert [r["聘用单位统一社会信用代码"] for r in rows] == [wang.employer[1], chen.employer[1]]
    assert "变更注册" in rows[1]["原因"]


def test_a_listing_decides_through_a_measure_that_restricts_practice(
    node_with: Any, settings: Settings
) -> None:
    """A listing makes the engineer not qualified only through its decision's coded
    measure restricting practice, and the reason says so (《安全生产严重失信主体名单
    管理办法》, 应急管理部令第11号: the measures are the deciding authority's)."""
    node = node_with()
    wang = ENGINEERS["王立新"]
    listed_on = china_today() - timedelta(days=5)
    listing = {
        "type": "UntrustworthinessListing",
        "authority": "CN-JS",
        "listed": {
            "kind": "organisation",
            "name": "江苏某危化品运输有限公司",
            "credit_code": credit_code("91320900MA1Q50099"),
        },
        "related_persons": [
            {"name": wang.name, "id_number": wang.id_number, "role": "directly-responsible"}
        ],
        "legal_basis": "《安全生产严重失信主体名单管理办法》第六条",
        "penalty_decision_number": "苏应急罚〔2026〕99号",
        "listing_decision_number": "苏应急失信〔2026〕9号",
        "listed_on": listed_on.isoformat(),
        "measures": ["依法限制其从事注册安全工程师执业"],
        "measure_codes": ["restrict-practice"],
    }
    context = IssuingContext.for_node(settings)
    with engine_scope(settings.database_url) as engine, session_scope(engine) as session:
        issue_records(session, context, [TypeAdapter(RecordIn).validate_python(listing)])
    report = node.verify(id_number=wang.id_number, region="CN-SH")
    subject = report["credentialSubject"]
    assert subject["verdict"] == "not-qualified"
    said = _said(report)["listing-restricts-practice"]
    assert (said["holds"], said["decides"]) == (False, True)
    assert "限制其执业" in said["zh"]
    (found,) = subject["listings"]
    assert found["measureCodes"] == ["restrict-practice"]
    assert found["restrictsPractice"] is True
    assert node.checks_offline(report)
    # Offline, a node's report may not pass over a listing that restricts practice.
    forged = _forged(node, report, "listing-restricts-practice")
    assert any("restricts practice" in d for d in _refused_offline(node, forged))
    # The day before the listing, the same question is answered qualified.
    before = (listed_on - timedelta(days=1)).isoformat()
    assert node.verify(id_number=wang.id_number, region="CN-SH", date=before)["credentialSubject"][
        "verdict"
    ] == ("qualified")


def test_another_registration_in_force_is_reported(
    node_with: Any, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One employer at a time (不得同时受聘于两个或两个以上单位, 《注册安全工程师分类管理
    办法》): issuing refuses an overlapping registration, but records issued before
    the rule, or by a node that did not check, may still overlap. The report then
    names the other registration in force, for the employer to check, beside a
    verdict it does not change."""
    node = node_with()
    wang = ENGINEERS["王立新"]
    # Issued as if the rule were not there (the overlap check switched off).
    monkeypatch.setattr("registry.issuing.registrations._overlaps", lambda *_, **__: [])
    today = china_today()
    second = {
        "type": "SafetyEngineerRegistration",
        "authority": "CN-JS",
        "holder": {"name": wang.name, "id_number": wang.id_number},
        "registration_number": "JS-REG-9001",
        "qualification": wang.certificate_number,
        "category": "chemical",
        "employer": {"name": "南京某化工有限公司", "credit_code": credit_code("91320100MA1MX0093")},
        "kind": "initial",
        "valid_from": (today - timedelta(days=30)).isoformat(),
        "valid_until": (today + timedelta(days=700)).isoformat(),
    }
    context = IssuingContext.for_node(settings)
    with engine_scope(settings.database_url) as engine, session_scope(engine) as session:
        issue_records(session, context, [TypeAdapter(RecordIn).validate_python(second)])
    report = node.verify(id_number=wang.id_number, region="CN-SH")
    subject = report["credentialSubject"]
    assert subject["verdict"] == "qualified"
    assert subject["registration"]["registrationNumber"] == "SH-REG-1001"
    said = _said(report)["other-active-registration"]
    assert (said["holds"], said["decides"]) == (False, False)
    assert "JS-REG-9001" in said["zh"]
    assert [r["registrationNumber"] for r in subject["otherRegistrations"]] == ["JS-REG-9001"]
    assert node.checks_offline(report)


def _issue(settings: Settings, item: dict[str, Any]) -> str:
    context = IssuingContext.for_node(settings)
    with engine_scope(settings.database_url) as engine, session_scope(engine) as session:
        try:
            result = issue_records(session, context, [TypeAdapter(RecordIn).validate_python(item)])
        except InvalidInput as exc:
            raise AssertionError(exc.errors) from exc
        return result.records[0].credential.id


def _registration_of(settings: Settings, number: str) -> dict[str, Any]:
    with engine_scope(settings.database_url) as engine, session_scope(engine) as session:
        record = session.exec(select(Record).where(col(Record.number) == number)).one()
        stored = session.get(StoredCredential, record.credential_id)
        assert stored is not None
        document: dict[str, Any] = json.loads(stored.canonical)
        return document


NEW_EMPLOYER = credit_code("91330206MA2J80028")


def test_the_term_before_a_renewal_is_the_registration_that_stood(
    node_with: Any, settings: Settings, tmp_path: Path
) -> None:
    """The term before a renewal is the registration that stood, not one a correction
    superseded; and a change of employer (变更注册) keeps the renewal's term, so the
    renewing authority's rule on that term still applies to it
    (《注册安全工程师职业资格制度规定》; 《注册安全工程师管理规定》 for the hours)."""
    huang = ENGINEERS[DEMO_RENEWING]
    assert huang.employer is not None
    earlier = _registration_of(settings, "ZJ-REG-01010")
    subject = earlier["credentialSubject"]
    last = china_today() - timedelta(days=231)
    corrected = _issue(
        settings,
        {
            "type": "SafetyEngineerRegistration",
            "authority": "CN-ZJ",
            "replaces": earlier["id"],
            "holder": {"name": huang.name, "id_number": huang.id_number},
            "registration_number": "ZJ-REG-01010",
            "qualification": huang.certificate_number,
            "category": subject["category"],
            "employer": {"name": huang.employer[0], "credit_code": huang.employer[1]},
            "kind": "initial",
            "valid_from": (china_today() - timedelta(days=1500)).isoformat(),
            "valid_until": last.isoformat(),
        },
    )
    renewal = _registration_of(settings, "ZJ-REG-1010")
    _issue(
        settings,
        {
            "type": "SafetyEngineerRegistration",
            "authority": "CN-ZJ",
            "holder": {"name": huang.name, "id_number": huang.id_number},
            "registration_number": "ZJ-REG-2010",
            "qualification": huang.certificate_number,
            "category": subject["category"],
            "employer": {
                "name": "宁波某化工有限公司",
                "credit_code": credit_code("91330206MA2J80028"),
            },
            "kind": "change",
            "changes": renewal["id"],
            "valid_from": china_today().isoformat(),
            # The renewal's last day: the demo's term of five years less a day.
            "valid_until": (
                add_years(china_today() - timedelta(days=200), 5) - timedelta(days=1)
            ).isoformat(),
        },
    )
    _official(tmp_path / "rules", "CN-ZJ", "shortfall_ends_practice = true")
    node = node_with(tmp_path / "rules")
    report = node.verify(id_number=huang.id_number, region="CN-ZJ")
    found = report["credentialSubject"]
    assert found["registration"]["registrationNumber"] == "ZJ-REG-2010"
    assert found["registration"]["kind"] == "change"
    previous = found["continuingEducation"]["previousPeriod"]
    assert previous["registration"] == corrected
    assert previous["period"]["until"] == last.isoformat()
    assert found["verdict"] == "not-qualified"
    assert _said(report)["ce-previous-shortfall-ends-practice"]["decides"] is True
    assert node.checks_offline(report)
