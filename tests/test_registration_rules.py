"""The rules issuing enforces across a person's registrations, through the API as an
issuing office meets them: a correction supersedes (it does not revoke), a revocation
bars a new registration for five years, one employer at a time, and a change
registration keeps the term."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlmodel import col

from api import create_app
from api.examples import record_examples, status_change_examples
from registry.calendar import add_years, china_today
from registry.credentials.status_list import StatusBits
from registry.demo import DEMO_ENGINEERS, credit_code
from registry.settings import Settings
from registry.storage.db import engine_scope, session_scope
from registry.storage.models import LogEntry, Record, StoredCredential
from registry.verification.log_audit import audit_log
from tests._support import seed_demo_node

TODAY = china_today()
EXAMPLES = record_examples(TODAY)
CHANGES = status_change_examples(TODAY)
REGISTRATION = EXAMPLES["registration"]["value"]  # 刘洋, not registered in the demo
WANG = next(e for e in DEMO_ENGINEERS if e.name == "王立新")  # registered SH-REG-1001
ZHANG = next(e for e in DEMO_ENGINEERS if e.name == "张伟")  # JS-REG-1004, suspended
# The demo registers its engineers in table order, 400 + 31 days a row back.
WANG_FROM = TODAY - timedelta(days=400)
WANG_LAST = add_years(WANG_FROM, 5) - timedelta(days=1)


class Node:
    """A demo node in-process: a client and one token per role."""

    def __init__(self, client: TestClient, tokens: dict[str, str], settings: Settings) -> None:
        self.client = client
        self.tokens = tokens
        self.settings = settings

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def post(self, body: dict[str, Any], role: str = "issuer:CN-SH") -> Any:
        return self.client.post("/v1/credentials", json=body, headers=self.auth(role))

    def issue(self, body: dict[str, Any], role: str = "issuer:CN-SH") -> dict[str, Any]:
        response = self.post(body, role)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    def change(self, credential_id: str, change: dict[str, Any], role: str) -> Any:
        return self.client.post(
            f"/v1/credentials/{credential_id}/status", json=change, headers=self.auth(role)
        )

    def read(self, credential_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.client.get(f"/v1/credentials/{credential_id}").json()
        return result

    def counts(self) -> tuple[int, int, int]:
        with engine_scope(self.settings.database_url) as engine, session_scope(engine) as s:
            return (
                s.scalar(select(func.count()).select_from(StoredCredential)) or 0,
                s.scalar(select(func.count()).select_from(LogEntry)) or 0,
                s.scalar(select(func.count()).select_from(Record)) or 0,
            )

    def record_id(self, number: str) -> str:
        with engine_scope(self.settings.database_url) as engine, session_scope(engine) as s:
            found = s.scalar(select(col(Record.credential_id)).where(col(Record.number) == number))
        assert found is not None
        return str(found)


@pytest.fixture
def node(settings: Settings) -> Iterator[Node]:
    tokens = seed_demo_node(settings)
    with TestClient(create_app(settings)) as client:
        yield Node(client, tokens, settings)


def _with(body: dict[str, Any], **fields: Any) -> dict[str, Any]:
    changed = copy.deepcopy(body)
    changed.update(fields)
    return changed


def _errors(response: Any) -> dict[str, str]:
    assert response.status_code == 422, response.text
    return {e["field"]: e["message"] for e in response.json()["errors"]}


def _revocation_bit(node: Node, credential: dict[str, Any]) -> bool:
    entries = credential["credentialStatus"]
    entry = next(e for e in entries if e["statusPurpose"] == "revocation")
    status_list = node.client.get(entry["statusListCredential"]).json()
    bits = StatusBits.decode(status_list["credentialSubject"]["encodedList"])
    return bits.get(int(entry["statusListIndex"]))


# -- 1. a correction is not a revocation ----------------------------------------------


def test_a_corrected_registration_is_superseded_not_revoked(node: Node) -> None:
    """《注册安全工程师职业资格制度规定》 tells 撤销注册, a decision, apart from correcting
    a record: the corrected registration is superseded, permanently invalid on the status
    list, and shown nowhere as revoked."""
    first = node.issue(REGISTRATION)
    corrected = _with(
        REGISTRATION, registration_number="SH-REG-2026-0416", replaces=first["credential"]["id"]
    )
    second = node.issue(corrected)
    old = node.read(first["credential"]["id"])
    assert old["state"] == "superseded"
    assert [(c["action"], c["state_after"]) for c in old["changes"]] == [
        ("supersede", "superseded")
    ]
    assert _revocation_bit(node, first["credential"])
    assert not _revocation_bit(node, second["credential"])
    # The person's verification says superseded, never revoked.
    answer = node.client.post(
        "/v1/verify/engineer",
        json={"id_number": corrected["holder"]["id_number"], "region": "CN-SH"},
        headers=node.auth("verifier"),
    )
    assert answer.status_code == 200, answer.text
    assert "已撤销" not in answer.text
    assert "revoked" not in answer.text


def test_supersede_is_never_a_status_change_anyone_asks_for(node: Node) -> None:
    """A correction is no decision: nobody supersedes a record by the status-change
    endpoint (《注册安全工程师职业资格制度规定》: corrections must not look like sanctions,
    nor sanctions like corrections)."""
    issued = node.issue(REGISTRATION)
    before = node.counts()
    supersede = _with(CHANGES["suspend"]["value"], action="supersede")
    errors = _errors(node.change(issued["credential"]["id"], supersede, "issuer:CN-SH"))
    assert "correction (replaces)" in errors["action"]
    assert node.counts() == before
    assert node.read(issued["credential"]["id"])["state"] == "active"


# -- 2. a revocation bars a new registration for five years ----------------------------


def test_a_revocation_bars_a_new_registration_for_five_years(node: Node) -> None:
    """《注册安全工程师管理规定》 (原国家安全生产监督管理总局令第11号), the registration
    rules' five years: a registration obtained by deception or bribery is revoked, and
    the person is not registered again within five years, by any authority."""
    issued = node.issue(REGISTRATION)
    revoke = _with(
        CHANGES["suspend"]["value"], action="revoke", reason="以欺骗手段取得注册，撤销注册"
    )
    revoke.pop("decision_number")
    refused = node.change(issued["credential"]["id"], revoke, "issuer:CN-SH")
    assert "decision_number" in _errors(refused)  # a revocation is a decision
    revoke["decision_number"] = "沪应急注撤〔2026〕3号"
    done = node.change(issued["credential"]["id"], revoke, "issuer:CN-SH")
    assert done.status_code == 201, done.text
    # The five years run from the day after the revocation to its fifth anniversary
    # (民法典第二百零一条、第二百零二条): the day after that is the first one free.
    earliest = add_years(TODAY, 5) + timedelta(days=1)
    before = node.counts()
    for authority, role in (("CN-SH", "issuer:CN-SH"), ("CN-JS", "issuer:CN-JS")):
        again = _with(
            REGISTRATION,
            authority=authority,
            registration_number="REG-AGAIN-1",
            valid_from=(earliest - timedelta(days=1)).isoformat(),
            valid_until=(earliest + timedelta(days=400)).isoformat(),
        )
        message = _errors(node.post(again, role))["valid_from"]
        assert message == (
            f"registration SH-REG-2026-0415 (CN-SH) was revoked on {TODAY.isoformat()} by "
            f"decision 沪应急注撤〔2026〕3号: a new registration may take effect from "
            f"{earliest.isoformat()} at the earliest"
        )
    assert node.counts() == before
    # Chinese too, where the client asks for it.
    zh = node.client.post(
        "/v1/credentials",
        json=again,
        headers={**node.auth("issuer:CN-JS"), "Accept-Language": "zh"},
    )
    assert "撤销" in zh.text
    on_the_day = _with(
        again,
        valid_from=earliest.isoformat(),
        valid_until=(earliest + timedelta(days=400)).isoformat(),
    )
    assert node.post(on_the_day, "issuer:CN-JS").status_code == 201
    # A registration that began and ended before the revocation, entered late, is no
    # new registration after it: not barred.
    earlier = _with(
        REGISTRATION,
        registration_number="REG-EARLIER-1",
        valid_from=(TODAY - timedelta(days=1080)).isoformat(),
        valid_until=(TODAY - timedelta(days=1000)).isoformat(),
    )
    assert node.post(earlier).status_code == 201, node.post(earlier).text


def test_a_correction_bars_nothing(node: Node) -> None:
    """The five years of 《注册安全工程师管理规定》 follow a revocation (a decision), never a
    correction: after a correction the person is registered as before."""
    first = node.issue(REGISTRATION)
    node.issue(_with(REGISTRATION, replaces=first["credential"]["id"]))
    later = _with(
        REGISTRATION,
        registration_number="SH-REG-2031-0001",
        valid_from=(TODAY + timedelta(days=5 * 365 + 2)).isoformat(),
        valid_until=(TODAY + timedelta(days=6 * 365)).isoformat(),
    )
    assert node.post(later).status_code == 201


# -- 3. one employer at a time -------------------------------------------------------------


def test_one_registration_in_force_at_a_time(node: Node) -> None:
    """不得同时受聘于两个或两个以上单位 (《注册安全工程师职业资格制度规定》,
    《注册安全工程师分类管理办法》): a registration overlapping another in force, of any
    authority, is refused, naming the other's number, issuer and term, never an ID number."""
    before = node.counts()
    wang = {"name": WANG.name, "id_number": WANG.id_number}
    elsewhere = _with(
        REGISTRATION,
        authority="CN-JS",
        holder=wang,
        registration_number="JS-REG-9001",
        qualification=WANG.certificate_number,
        category=WANG.category,
        employer={"name": "南京某化工有限公司", "credit_code": credit_code("91320100MA1XY0021")},
        valid_from=WANG_LAST.isoformat(),
        valid_until=(WANG_LAST + timedelta(days=30)).isoformat(),
    )
    message = _errors(node.post(elsewhere, "issuer:CN-JS"))["valid_from"]
    assert message == (
        f"overlaps registration SH-REG-1001 of CN-SH, {WANG_FROM.isoformat()} to "
        f"{WANG_LAST.isoformat()}, in force on {WANG_LAST.isoformat()}: an engineer is "
        "registered with one employer at a time"
    )
    assert WANG.id_number not in message
    # From the day after its last day, the term is free.
    free = _with(
        elsewhere,
        valid_from=(WANG_LAST + timedelta(days=1)).isoformat(),
        valid_until=(WANG_LAST + timedelta(days=30)).isoformat(),
    )
    assert node.post(free, "issuer:CN-JS").status_code == 201
    # A suspended engineer still holds the post.
    zhang = _with(
        REGISTRATION,
        authority="CN-JS",
        holder={"name": ZHANG.name, "id_number": ZHANG.id_number},
        registration_number="JS-REG-9002",
        qualification=ZHANG.certificate_number,
        category=ZHANG.category,
    )
    assert "JS-REG-1004 of CN-JS" in _errors(node.post(zhang, "issuer:CN-JS"))["valid_from"]
    assert node.counts()[2] == before[2] + 1


def test_two_registrations_of_one_person_in_one_batch_overlap(node: Node) -> None:
    """One employer at a time (《注册安全工程师职业资格制度规定》) holds within a batch too:
    nothing of it is issued."""
    before = node.counts()
    second = _with(REGISTRATION, registration_number="SH-REG-2026-0417")
    response = node.client.post(
        "/v1/credentials/batch",
        json={"items": [REGISTRATION, second]},
        headers=node.auth("issuer:CN-SH"),
    )
    errors = _errors(response)
    assert list(errors) == ["items[1].valid_from"]
    assert "SH-REG-2026-0415 of CN-SH (items[0])" in errors["items[1].valid_from"]
    assert node.counts() == before
    # Many of one person's registrations: one problem an item, not one a pair.
    many = [_with(REGISTRATION, registration_number=f"SH-REG-2026-5{n:03d}") for n in range(40)]
    response = node.client.post(
        "/v1/credentials/batch", json={"items": many}, headers=node.auth("issuer:CN-SH")
    )
    assert response.status_code == 422
    problems = response.json()["errors"]
    assert [p["field"] for p in problems] == [f"items[{n}].valid_from" for n in range(1, 40)]
    assert node.counts() == before


def test_a_cancelled_registration_leaves_the_term_free(node: Node) -> None:
    """One employer at a time counts registrations in force: a cancelled (注销) one
    no longer holds the post (《注册安全工程师职业资格制度规定》)."""
    issued = node.issue(REGISTRATION)
    cancel = node.change(issued["credential"]["id"], CHANGES["cancel"]["value"], "issuer:CN-SH")
    assert cancel.status_code == 201, cancel.text
    anew = _with(REGISTRATION, registration_number="SH-REG-2026-0418")
    assert node.post(anew).status_code == 201


# -- 4. a change registration keeps the term -----------------------------------------------


def _change_of_wang(**fields: Any) -> dict[str, Any]:
    body = {
        "holder": {"name": WANG.name, "id_number": WANG.id_number},
        "registration_number": "SH-REG-2026-0501",
        "qualification": WANG.certificate_number,
        "category": WANG.category,
        "employer": {
            "name": "上海某新材料有限公司",
            "credit_code": credit_code("91310000MA1FL0031"),
        },
        "kind": "change",
        "changes": "SH-REG-1001",
        "valid_from": TODAY.isoformat(),
        "valid_until": WANG_LAST.isoformat(),
    }
    return _with(REGISTRATION, **{**body, **fields})


def test_a_change_registration_keeps_the_term_and_supersedes(node: Node) -> None:
    """变更注册 (《注册安全工程师管理规定》): a change of employer keeps the registration's
    term; the registration it changes is superseded in the same signed act."""
    old_id = node.record_id("SH-REG-1001")
    headers = {**node.auth("issuer:CN-SH"), "Idempotency-Key": "change-wang-1"}
    response = node.client.post("/v1/credentials", json=_change_of_wang(), headers=headers)
    assert response.status_code == 201, response.text
    issued = response.json()
    # Asked again with the same key: the same answer, the superseding change named.
    again = node.client.post("/v1/credentials", json=_change_of_wang(), headers=headers)
    assert again.json()["status_change"] == issued["status_change"]
    subject = issued["credential"]["credentialSubject"]
    assert subject["changes"] == old_id
    assert subject["termStartsOn"] == WANG_FROM.isoformat()
    old = node.read(old_id)
    assert old["state"] == "superseded"
    assert old["changes"][-1]["id"] == issued["status_change"]
    assert old["changes"][-1]["action"] == "supersede"
    assert old["changes"][-1]["effective_on"] == TODAY.isoformat()
    change = node.read(issued["status_change"])["credential"]["credentialSubject"]
    assert change["replacedBy"] == issued["credential"]["id"]


def test_a_province_whose_rule_says_a_change_starts_a_new_term(
    settings: Settings, tmp_path: Path
) -> None:
    """Where a province's official rule says a change of employer starts a new term,
    its rule file says so with its source (``change_keeps_term = false``): the change
    then runs its own term, and continuing education counts from its first day."""
    rules = tmp_path / "rules"
    rules.mkdir()
    shipped = Path(__file__).parent.parent / "registry/ce/policies"
    for path in shipped.glob("*.toml"):
        text = path.read_text(encoding="utf-8")
        if path.stem == "CN-SH":
            text = text.replace(
                'standing = "provisional"', 'standing = "official"\nchange_keeps_term = false'
            )
            source = "沪应急规（测试用）：变更注册重新计算有效期；"
            text = text.replace('source = """\n', f'source = """\n{source}\n')
        (rules / path.name).write_text(text, encoding="utf-8")
    configured = settings.model_copy(update={"ce_rules_dir": rules})
    tokens = seed_demo_node(configured)
    with TestClient(create_app(configured)) as client:
        node = Node(client, tokens, configured)
        own_term = add_years(TODAY, 5) - timedelta(days=1)
        issued = node.issue(_change_of_wang(valid_until=own_term.isoformat()))
        subject = issued["credential"]["credentialSubject"]
        assert subject["termStartsOn"] == TODAY.isoformat()
        assert node.read(node.record_id("SH-REG-1001"))["state"] == "superseded"
        report = client.post(
            "/v1/verify/engineer",
            json={"id_number": WANG.id_number, "region": "CN-SH"},
            headers=node.auth("verifier"),
        ).json()["credentialSubject"]
        assert report["verdict"] == "qualified"
        assert report["continuingEducation"]["period"] == {
            "from": TODAY.isoformat(),
            "until": own_term.isoformat(),
        }


def test_a_change_registration_dated_ahead_supersedes_on_its_day(node: Node) -> None:
    """变更注册 from a later day: the changed registration stays in force until that
    day (one employer at a time, 《注册安全工程师职业资格制度规定》), superseded from it."""
    old_id = node.record_id("SH-REG-1001")
    ahead = TODAY + timedelta(days=10)
    issued = node.issue(_change_of_wang(valid_from=ahead.isoformat()))
    old = node.read(old_id)
    assert old["state"] == "active"
    assert old["scheduled_change"] == issued["status_change"]
    assert old["changes"][-1]["action"] == "supersede"
    assert old["changes"][-1]["effective_on"] == ahead.isoformat()
    # Cancelled alone, the supersession would leave both registrations in force.
    refused = node.change(old_id, CHANGES["cancel-scheduled"]["value"], "issuer:CN-SH")
    assert refused.status_code == 409, refused.text
    assert "two registrations in force" in refused.json()["detail"]
    assert node.read(old_id)["scheduled_change"] == issued["status_change"]


@pytest.mark.parametrize(
    ("fields", "field", "says"),
    [
        ({"changes": None}, "changes", "is required for a change registration"),
        ({"kind": "renewal"}, "changes", "is only for a change registration"),
        ({"changes": "SH-REG-1002"}, "changes", "belongs to someone else"),
        ({"changes": "SH-REG-0000"}, "changes", "no registration SH-REG-0000"),
        (
            {"valid_until": (WANG_LAST - timedelta(days=1)).isoformat()},
            "valid_until",
            f"keeps the term: it ends on {WANG_LAST.isoformat()}",
        ),
        (
            {"valid_from": (WANG_FROM - timedelta(days=1)).isoformat()},
            "valid_from",
            "within the term of registration SH-REG-1001",
        ),
    ],
)
def test_a_change_registration_names_what_it_changes(
    node: Node, fields: dict[str, Any], field: str, says: str
) -> None:
    """变更注册 (《注册安全工程师管理规定》) changes the same person's registration in force
    and keeps its term: anything else is refused, and nothing is written."""
    before = node.counts()
    body = _change_of_wang(**fields)
    if body["changes"] is None:
        del body["changes"]
    errors = _errors(node.post(body))
    assert says in errors[field], errors
    assert node.counts() == before
    assert node.read(node.record_id("SH-REG-1001"))["state"] == "active"


def test_the_log_audit_replays_supersessions(node: Node) -> None:
    """What a correction and a change registration sign (supersede, scheduled or at
    once) replays from the log to the stored states: a supersession is a transition
    the rules allow (《注册安全工程师职业资格制度规定》: a correction is no revocation)."""
    first = node.issue(EXAMPLES["qualification"]["value"])
    node.issue(_with(EXAMPLES["qualification"]["value"], replaces=first["credential"]["id"]))
    node.issue(_change_of_wang())
    chen = next(e for e in DEMO_ENGINEERS if e.name == "陈静")  # SH-REG-1002
    chen_from = TODAY - timedelta(days=400 + 31)
    chen_last = add_years(chen_from, 5) - timedelta(days=1)
    node.issue(
        _change_of_wang(
            holder={"name": chen.name, "id_number": chen.id_number},
            registration_number="SH-REG-2026-0502",
            qualification=chen.certificate_number,
            category=chen.category,
            changes="SH-REG-1002",
            valid_from=(TODAY + timedelta(days=3)).isoformat(),
            valid_until=chen_last.isoformat(),
        )
    )
    with engine_scope(node.settings.database_url) as engine, session_scope(engine) as session:
        report = audit_log(session, "CN-SH")
    assert report.holds, report.findings
    assert report.rows["status_change"] >= 3


def test_a_change_registration_can_be_corrected(node: Node) -> None:
    """A correction of a 变更注册 names the same changed registration; that one stays
    superseded once (《注册安全工程师职业资格制度规定》: a correction is no decision),
    and the corrected change is superseded in turn."""
    old_id = node.record_id("SH-REG-1001")
    first = node.issue(_change_of_wang())
    corrected = node.issue(
        _change_of_wang(
            employer={
                "name": "上海某新材料股份有限公司",
                "credit_code": credit_code("91310000MA1FL0031"),
            },
            replaces=first["credential"]["id"],
        )
    )
    assert corrected["credential"]["credentialSubject"]["changes"] == old_id
    assert node.read(first["credential"]["id"])["state"] == "superseded"
    old = node.read(old_id)
    assert old["state"] == "superseded"
    assert [c["action"] for c in old["changes"]] == ["supersede"]
    # Naming another registration than the one the corrected change changed is refused.
    other = _change_of_wang(changes="SH-REG-1002", replaces=corrected["credential"]["id"])
    assert "changes" in _errors(node.post(other))


def test_an_invalid_item_also_hears_about_changes(node: Node) -> None:
    """A batch reports every problem at once: an item whose day is malformed also hears
    that only a change registration (变更注册) names a registration it changes."""
    item = _with(REGISTRATION, changes="SH-REG-1001", valid_from="2026-13-45")
    response = node.client.post(
        "/v1/credentials/batch", json={"items": [item]}, headers=node.auth("issuer:CN-SH")
    )
    errors = _errors(response)
    assert "items[0].valid_from" in errors
    assert errors["items[0].changes"] == "is only for a change registration (kind change)"
