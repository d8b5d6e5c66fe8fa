"""Text the registry takes: each kind of field holds only the characters it allows, a
value with another is refused at the door naming the field, and every export still
writes what was stored before the rules."""

from __future__ import annotations

import copy
import csv
import io
import json
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import func, select
from sqlmodel import col

from api import create_app
from api.examples import record_examples, status_change_examples
from registry.calendar import china_today
from registry.credentials.records import ListingIn, QualificationIn, RecordIn
from registry.demo import (
    DEMO_ENGINEERS,
    credit_code,
    resident_id,
    seed_demo,
)
from registry.issuing import IssuingContext, issue_records
from registry.settings import Settings
from registry.spreadsheets import csv_text
from registry.storage.db import engine_scope, session_scope
from registry.storage.models import (
    AgreementProposal,
    Authority,
    LogEntry,
    RecognitionAgreementRow,
    Record,
    SigningKey,
    StoredCredential,
    TrustListProposal,
)
from registry.text import (
    REPLACEMENT,
    OrganisationName,
    PersonName,
    Printable,
    Reference,
    Text,
    export_cell,
)
from registry.trust.store import NodeProfile
from tests._support import run_command, seed_demo_node

TODAY = china_today()
EXAMPLES = record_examples(TODAY)
CHANGES = status_change_examples(TODAY)
REGIONS = ("CN-SH", "CN-JS", "CN-ZJ", "CN-AH")

REFUSED: dict[str, tuple[str, ...]] = {
    "C0 control": ("\x00", "\x07", "\x1b"),
    "DEL": ("\x7f",),
    "C1 control": ("\x85", "\x9b"),
    "bidi control": ("\u202a", "\u202e", "\u2066", "\u2069", "\u200e", "\u200f", "\u061c"),
    "zero-width": ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"),
    "private use": ("\ue000", "\U000f0000"),
    "unassigned": ("\u0378", "\U000e0080"),
    "lone surrogate": ("\ud800", "\udfff"),
    "line break": ("\n", "\r", "\u2028", "\u2029"),
}
EVERY_REFUSED = [char for chars in REFUSED.values() for char in chars]

GOOD_PEOPLE = (
    "阿卜杜拉·买买提",
    "王立新",
    "欧阳 娜娜",
    "王　伟",
    "Jean-Luc O'Neil",
    "José Müller",
    "玛丽・居里",
)
GOOD_ORGANISATIONS = (
    "上海某建材（集团）有限公司",
    "江苏盐城某化工有限公司(二分厂)",
    "阿卜杜拉·买买提商贸有限责任公司",
    "Smith & Sons (Shanghai) Co., Ltd.",
    "安徽省第3建筑工程有限公司【合肥】",
)


# -- the kinds, one by one ------------------------------------------------------------


@pytest.mark.parametrize("char", EVERY_REFUSED, ids=ascii)
@pytest.mark.parametrize("kind", [Printable, Text, PersonName, OrganisationName, Reference])
def test_every_kind_refuses_each_class_of_character(kind: Any, char: str) -> None:
    with pytest.raises(ValidationError, match=f"U\\+{ord(char):04X}"):
        TypeAdapter(kind).validate_python(f"Wang{char}Wei")


@pytest.mark.parametrize("name", GOOD_PEOPLE)
def test_good_names_of_people_are_taken(name: str) -> None:
    assert TypeAdapter(PersonName).validate_python(name) == name
    assert TypeAdapter(OrganisationName).validate_python(name) == name


@pytest.mark.parametrize("name", GOOD_ORGANISATIONS)
def test_good_names_of_organisations_are_taken(name: str) -> None:
    assert TypeAdapter(OrganisationName).validate_python(name) == name


@pytest.mark.parametrize("name", ["王5", "张@伟", "=HYPERLINK(1)", "·", "--", "王_伟"])
def test_a_person_s_name_holds_letters_and_the_marks_of_names(name: str) -> None:
    with pytest.raises(ValidationError, match="a person's name"):
        TypeAdapter(PersonName).validate_python(name)


def test_names_and_text_are_stored_in_nfc() -> None:
    decomposed = "Jose\u0301"
    assert TypeAdapter(PersonName).validate_python(decomposed) == "José"
    assert TypeAdapter(Text).validate_python("第六条\u3000e\u0301") == "第六条\u3000é"


def test_free_text_takes_chinese_punctuation_and_symbols() -> None:
    text = "《安全生产严重失信主体名单管理办法》第六条：“重大事故”；罚款 ¥50,000（五万元）—— =2+5"
    assert TypeAdapter(Text).validate_python(text) == text


def test_every_record_the_demo_and_the_examples_issue_is_still_taken() -> None:
    adapter: TypeAdapter[Any] = TypeAdapter(RecordIn)
    for example in EXAMPLES.values():
        adapter.validate_python(example["value"])
    for engineer in DEMO_ENGINEERS:
        TypeAdapter(PersonName).validate_python(engineer.name)


def test_an_export_cell_shows_each_refused_character_as_a_replacement() -> None:
    assert export_cell("王立新") == "王立新"
    shown = f"上海{REPLACEMENT}某{REPLACEMENT}公司{REPLACEMENT}"
    assert export_cell("上海\x00某\u202e公司\u200b") == shown
    text = csv_text(["名称"], [["a\x00b"], ["=\u202e1"]])
    assert "\x00" not in text
    assert "\u202e" not in text
    assert list(csv.reader(io.StringIO(text.lstrip("\ufeff")))) == [
        ["名称"],
        [f"a{REPLACEMENT}b"],
        [f"'={REPLACEMENT}1"],
    ]


# -- through the API ------------------------------------------------------------------


class Node:
    """A demo node in-process: a client and one token per role."""

    def __init__(self, client: TestClient, tokens: dict[str, str], settings: Settings) -> None:
        self.client = client
        self.tokens = tokens
        self.settings = settings

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def post(self, path: str, body: dict[str, Any], role: str) -> Any:
        # As JSON escapes (ensure_ascii): a lone surrogate travels as \\ud800.
        headers = {**self.auth(role), "Content-Type": "application/json"}
        return self.client.post(path, content=json.dumps(body), headers=headers)

    def counts(self) -> tuple[int, int, int]:
        with engine_scope(self.settings.database_url) as engine, session_scope(engine) as s:
            return (
                s.scalar(select(func.count()).select_from(StoredCredential)) or 0,
                s.scalar(select(func.count()).select_from(LogEntry)) or 0,
                s.scalar(select(func.count()).select_from(Record)) or 0,
            )


@pytest.fixture
def node(settings: Settings) -> Iterator[Node]:
    tokens = seed_demo_node(settings)
    # Each refused character is a request of its own, hundreds from one token: the rate
    # limits (which have tests of their own) are raised out of the way.
    unlimited = settings.model_copy(
        update={
            "verifications_per_minute": 100_000,
            "batches_per_minute": 100_000,
            "searches_per_minute": 100_000,
        }
    )
    with TestClient(create_app(unlimited)) as client:
        yield Node(client, tokens, unlimited)


def _with(body: dict[str, Any], path: tuple[str | int, ...], value: str) -> dict[str, Any]:
    changed = copy.deepcopy(body)
    target: Any = changed
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return changed


def _surrogate(char: str) -> bool:
    return "\ud800" <= char <= "\udfff"


def _names(char: str, message: str) -> bool:
    """Whether a refusal names the character (pydantic refuses a lone surrogate before
    any check of ours, in its own words)."""
    if _surrogate(char):
        return "unicode" in message
    return f"U+{ord(char):04X}" in message


def _spoiled(value: str, char: str) -> str:
    return value[:1] + char + value[1:]


# (example, path in the body, the field the problem names)
ISSUED_FIELDS = (
    ("qualification", ("holder", "name"), "holder.name"),
    ("qualification", ("replaces",), "replaces"),
    ("registration", ("employer", "name"), "employer.name"),
    ("registration", ("qualification",), "qualification"),
    ("continuing-education", ("course_title",), "course_title"),
    ("continuing-education", ("provider", "name"), "provider.name"),
    ("listing", ("listed", "name"), "listed.organisation.name"),
    ("listing", ("related_persons", 0, "name"), "related_persons[0].name"),
    ("listing", ("legal_basis",), "legal_basis"),
    ("listing", ("penalty_decision_number",), "penalty_decision_number"),
    ("listing", ("listing_decision_number",), "listing_decision_number"),
    ("listing", ("measures", 1), "measures[1]"),
)


def test_each_class_of_character_is_refused_when_issuing(node: Node) -> None:
    before = node.counts()
    headers = node.auth("issuer:CN-SH")
    for example, path, field in ISSUED_FIELDS:
        body = EXAMPLES[example]["value"]
        original: Any = body
        for part in path:
            original = original.get(part, "urn:uuid:x") if part == "replaces" else original[part]
        for char in EVERY_REFUSED:
            spoiled = _with(body, path, _spoiled(str(original), char))
            answer = node.post("/v1/credentials", spoiled, "issuer:CN-SH")
            assert answer.status_code == 422, (field, ascii(char), answer.text)
            assert answer.headers["content-type"] == "application/problem+json"
            problems = answer.json()["errors"]
            assert [p["field"] for p in problems] == [field], (ascii(char), problems)
            assert _names(char, problems[0]["message"]), problems
        batch = {"items": [EXAMPLES["qualification"]["value"], _with(body, path, "\u202e")]}
        answer = node.client.post("/v1/credentials/batch", json=batch, headers=headers)
        assert answer.status_code == 422, answer.text
        assert [p["field"] for p in answer.json()["errors"]] == [f"items[1].{field}"]
    assert node.counts() == before


def test_each_class_of_character_is_refused_in_a_state_change(node: Node) -> None:
    issued = node.client.post(
        "/v1/credentials", json=EXAMPLES["registration"]["value"], headers=node.auth("issuer:CN-SH")
    )
    assert issued.status_code == 201, issued.text
    path = f"/v1/credentials/{issued.json()['credential']['id']}/status"
    before = node.counts()
    for field in ("reason", "decision_number"):
        for char in EVERY_REFUSED:
            body = CHANGES["suspend"]["value"]
            spoiled = _with(body, (field,), _spoiled(body[field], char))
            answer = node.post(path, spoiled, "issuer:CN-SH")
            assert answer.status_code == 422, (field, ascii(char), answer.text)
            assert [p["field"] for p in answer.json()["errors"]] == [field]
    assert node.counts() == before
    state = node.client.get(path.removesuffix("/status")).json()["state"]
    assert state == "active"


def test_each_class_of_character_is_refused_in_searches_checks_and_subscriptions(
    node: Node,
) -> None:
    code = credit_code("91310000MA1FL0001")
    asked: tuple[tuple[str, str, dict[str, Any], tuple[str | int, ...], str], ...] = (
        ("enforcement", "/v1/blacklist/search", {"name": "上海某建材有限公司"}, ("name",), "name"),
        ("enforcement", "/v1/blacklist/search", {"credit_code": code}, ("credit_code",),
         "credit_code"),
        ("enforcement", "/v1/blacklist/search", {"name": "张三", "region": "CN-SH"}, ("region",),
         "region"),
        ("enforcement", "/v1/blacklist/check", {"rows": [{"credit_code": code}],
                                                "region": "CN-SH"}, ("region",), "region"),
        ("verifier", "/v1/verify/engineer",
         {"registration_number": "SH-REG-1001", "name": "王立新", "region": "CN-AH"},
         ("name",), "name"),
        ("verifier", "/v1/verify/engineer",
         {"registration_number": "SH-REG-1001", "name": "王立新", "region": "CN-AH"},
         ("registration_number",), "registration_number"),
        ("enforcement", "/v1/subscriptions", {"url": "https://127.0.0.1/y", "credit_codes": [code]},
         ("url",), "url"),
        ("enforcement", "/v1/subscriptions", {"url": "https://127.0.0.1/y", "credit_codes": [code]},
         ("credit_codes", 0), "credit_codes[0]"),
    )  # fmt: skip
    for role, path, body, where, field in asked:
        value: Any = body
        for part in where:
            value = value[part]
        for char in EVERY_REFUSED:
            spoiled = _with(body, where, _spoiled(str(value), char))
            answer = node.post(path, spoiled, role)
            assert answer.status_code == 422, (path, field, ascii(char), answer.text)
            if _surrogate(char):  # some routes read raw JSON, which cannot hold one
                continue  # refused as the body's error, not the field's
            assert [p["field"] for p in answer.json()["errors"]] == [field], answer.text
    # A bulk check answers a spoiled row as that row's error, the rest as asked.
    answer = node.client.post(
        "/v1/blacklist/check",
        json={"rows": [{"credit_code": code}, {"credit_code": _spoiled(code, "\u200b")}]},
        headers=node.auth("enforcement"),
    )
    assert answer.status_code == 200, answer.text
    first, second = answer.json()["results"]
    assert "error" not in first
    assert "U+200B" in second["error"]


def test_good_names_are_issued_as_written(node: Node) -> None:
    headers = node.auth("issuer:CN-SH")
    for name in GOOD_PEOPLE:
        body = _with(EXAMPLES["qualification"]["value"], ("holder", "name"), name)
        body["certificate_number"] = f"SH-T-{GOOD_PEOPLE.index(name)}"
        answer = node.client.post("/v1/credentials", json=body, headers=headers)
        assert answer.status_code == 201, answer.text
        assert answer.json()["credential"]["credentialSubject"]["holder"]["name"] == name
    for number, name in enumerate(GOOD_ORGANISATIONS):
        body = _with(EXAMPLES["listing"]["value"], ("listed", "name"), name)
        body["listing_decision_number"] = f"沪应急失信〔{TODAY.year}〕{90 + number}号"
        answer = node.client.post("/v1/credentials", json=body, headers=headers)
        assert answer.status_code == 201, answer.text
        assert answer.json()["credential"]["credentialSubject"]["listed"]["name"] == name


# -- what was stored before the rules still exports -----------------------------------

# PostgreSQL's text columns cannot hold a NUL, so old data has one only where the
# signed JSON alone carries it (escaped): the legal basis and the measures. ESC is as
# much a control character to openpyxl, and a column may hold it.
BAD = "\x1b\u202e\u200b\x7f\ufeff"
NUL = "\x00"


def _stored_without_the_door(settings: Settings) -> list[str]:
    """A listing in force for each authority whose text holds refused characters,
    signed and logged as a listing issued before the rules would have been."""
    context = IssuingContext.for_node(settings)
    template = ListingIn.model_validate(EXAMPLES["listing"]["value"])
    names = []
    with engine_scope(settings.database_url) as engine, session_scope(engine) as session:
        for number, authority in enumerate(REGIONS):
            name = f"{authority}某{BAD}化工有限公司"
            code = credit_code(f"9131000{number}MA1FL0009")
            person = template.related_persons[0].model_copy(update={"name": f"马{BAD}某"})
            listing = template.model_copy(
                update={
                    "authority": authority,
                    "listed": template.listed.model_copy(
                        update={
                            "name": name,
                            "credit_code": code,
                        }
                    ),
                    "related_persons": [person],
                    "legal_basis": f"第六条{NUL}{BAD}",
                    "listing_decision_number": f"失信{BAD}〔{TODAY.year}〕{number}号",
                    "measures": [f"联合惩戒{BAD}", f"重点{NUL}监管"],
                    "listed_on": TODAY - timedelta(days=10),
                }
            )
            issue_records(session, context, [listing])
            names.append(name)
    return names


def test_a_stored_listing_with_refused_characters_still_exports(node: Node) -> None:
    names = _stored_without_the_door(node.settings)
    shown = {name: name.replace(BAD, REPLACEMENT * len(BAD)) for name in names}
    for region in (None, *REGIONS):
        query = f"&region={region}" if region else ""
        as_csv = node.client.get(f"/v1/blacklist/public?format=csv{query}")
        assert as_csv.status_code == 200, (region, as_csv.text)
        text = as_csv.content.decode("utf-8-sig")
        assert not any(char in text for char in BAD + NUL)
        rows = list(csv.reader(io.StringIO(text)))
        as_xlsx = node.client.get(f"/v1/blacklist/public?format=xlsx{query}")
        assert as_xlsx.status_code == 200, (region, as_xlsx.text)
        sheet = load_workbook(io.BytesIO(as_xlsx.content))["失信主体名单"]
        cells = [str(cell.value) for row in sheet.iter_rows() for cell in row if cell.value]
        expected = [shown[n] for n in names if region is None or n.startswith(region)]
        for name in expected:
            assert name in [row[2] for row in rows], region
            assert name in cells, region
        assert not any(char in cell for cell in cells for char in BAD + NUL)
        assert f"第六条{REPLACEMENT * (1 + len(BAD))}" in cells
        as_json = node.client.get(f"/v1/blacklist/public?format=json{query}").json()
        assert {e["name"] for e in as_json["entries"]} >= {
            n for n in names if region is None or n.startswith(region)
        }  # the JSON answer carries the signed text exactly


def test_a_stored_name_with_refused_characters_still_exports_in_batch_verification(
    node: Node,
) -> None:
    context = IssuingContext.for_node(node.settings)
    number = resident_id("310115", "19940618", "036")
    qualification = QualificationIn.model_validate(EXAMPLES["qualification"]["value"])
    spoiled = qualification.model_copy(
        update={"holder": qualification.holder.model_copy(update={"name": f"黄{BAD}海"})}
    )
    with engine_scope(node.settings.database_url) as engine, session_scope(engine) as session:
        issue_records(session, context, [spoiled])
    answer = node.client.post(
        "/v1/verify/batch",
        content=f"id_number,region\n{number},CN-SH\n".encode(),
        headers={**node.auth("verifier"), "Content-Type": "text/csv", "Accept": "text/csv"},
    )
    assert answer.status_code == 200, answer.text
    text = answer.content.decode("utf-8-sig")
    assert f"黄{REPLACEMENT * len(BAD)}海" in text
    assert not any(char in text for char in BAD)


# -- registry import --------------------------------------------------------------------


def test_import_refuses_a_row_with_a_refused_character(settings: Settings, tmp_path: Path) -> None:
    context = IssuingContext.for_node(settings)
    with engine_scope(settings.database_url) as engine, session_scope(engine) as session:
        seed_demo(session, context.key_store, profile=NodeProfile.from_settings(settings))
    header = ["姓名", "身份证号", "课程名称", "培训机构", "培训机构统一社会信用代码",
              "学时", "学时类型", "完成日期"]  # fmt: skip
    provider = credit_code("12310000MB0P10008")
    day = (TODAY - timedelta(days=2)).isoformat()

    def row(name: str, title: str) -> list[str]:
        engineer = DEMO_ENGINEERS[0]
        return [name, engineer.id_number, title, "上海市安全生产科学研究所", provider, "8",
                "professional", day]  # fmt: skip

    path = tmp_path / "credits.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle).writerows([
            header,
            row("阿卜杜拉·买买提", "安全生产专题培训"),
            row("王\u202e立新", "安全生产专题培训"),
            row("王立新", "安全\x00生产\u200b专题培训"),
        ])  # fmt: skip
    with engine_scope(settings.database_url) as engine, session_scope(engine) as session:
        before = session.scalar(select(func.count()).select_from(StoredCredential))
    env = {
        "REGISTRY_DATABASE_URL": settings.database_url,
        "REGISTRY_DATA_DIR": str(settings.data_dir),
        "COLUMNS": "200",
    }
    args = ["import", str(path), "--type", "continuing-education", "--authority", "CN-SH"]
    result = run_command([*args, "--lang", "en"], env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "2 problem(s)" in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert any(" 3 " in line and "姓名" in line and "U+202E" in line for line in lines), lines
    assert any(" 4 " in line and "课程名称" in line and "U+0000" in line for line in lines), lines
    with engine_scope(settings.database_url) as engine, session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(StoredCredential)) == before


# -- the command's inputs: authorities, keys, trust proposals, agreements ---------------


# What this checks does not depend on the database: SQLite alone (the domain below the
# command is tested on both).
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_command_refuses_refused_characters_in_every_text_it_signs(
    settings: Settings, tmp_path: Path
) -> None:
    seed_demo_node(settings)
    with engine_scope(settings.database_url) as engine, session_scope(engine) as session:
        agreement = session.scalars(select(col(RecognitionAgreementRow.credential_id))).first()
        key = session.scalars(
            select(col(SigningKey.verification_method)).where(
                col(SigningKey.authority_code) == "CN-SH"
            )
        ).first()
    assert agreement is not None
    assert key is not None
    env = {
        "REGISTRY_DATABASE_URL": settings.database_url,
        "REGISTRY_DATA_DIR": str(settings.data_dir),
        "COLUMNS": "200",
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return run_command(args, env)

    created = run("authority", "create", "CN-FJ", "--name-zh", "福建省应急管理厅",
                  "--name-en", "Fujian Provincial Department of Emergency Management")  # fmt: skip
    assert created.returncode == 0, created.stderr
    entry = json.loads(run("authority", "export", "CN-FJ").stdout)
    entry["name"]["zh"] = "福建省\u202e应急管理厅"
    entry_path = tmp_path / "entry.json"
    entry_path.write_text(json.dumps(entry), encoding="utf-8")
    since = (TODAY - timedelta(days=1)).isoformat() + "T00:00:00+08:00"
    refused = {
        "U+202E": ("authority", "create", "CN-HB", "--name-zh", "湖北省\u202e应急管理厅",
                   "--name-en", "Hubei"),
        "U+200B": ("authority", "create", "CN-HB", "--name-zh", "湖北省应急管理厅",
                   "--name-en", "Hubei\u200b"),
        "U+001B": ("key", "revoke", key, "--compromised-since", since,
                   "--reason", "私钥\x1b泄露"),
        "U+2066": ("recognition", "propose", "--by", "CN-SH", "--parties", "CN-SH,CN-JS",
                   "--kinds", "qualification", "--effective-from", TODAY.isoformat(),
                   "--basis-number", "沪苏〔2026〕1号", "--basis-title", "互认\u2066协议"),
        "U+200D": ("recognition", "terminate", agreement, "--by", "CN-SH",
                   "--effective-on", (TODAY + timedelta(days=30)).isoformat(),
                   "--reason", "提前\u200d终止", "--decision-number", "沪应急〔2026〕5号"),
        "U+FEFF": ("recognition", "terminate", agreement, "--by", "CN-SH",
                   "--effective-on", (TODAY + timedelta(days=30)).isoformat(),
                   "--reason", "提前终止", "--decision-number", "沪应急\ufeff〔2026〕5号"),
        "U+202E ": ("trust", "propose", "--add-member-entry", str(entry_path)),
    }  # fmt: skip
    with engine_scope(settings.database_url) as engine, session_scope(engine) as session:
        before = (
            session.scalar(select(func.count()).select_from(StoredCredential)),
            session.scalar(select(func.count()).select_from(AgreementProposal)),
            session.scalar(select(func.count()).select_from(TrustListProposal)),
            session.get(SigningKey, key).compromised_since,  # type: ignore[union-attr]
        )
    taken = []
    for char, args in refused.items():
        result = run(*args)
        assert "Traceback" not in result.stderr
        if result.returncode != 1 or char.strip() not in result.stderr:
            taken.append((args[:2], char, result.stdout + result.stderr))
    assert taken == []
    with engine_scope(settings.database_url) as engine, session_scope(engine) as session:
        after = (
            session.scalar(select(func.count()).select_from(StoredCredential)),
            session.scalar(select(func.count()).select_from(AgreementProposal)),
            session.scalar(select(func.count()).select_from(TrustListProposal)),
            session.get(SigningKey, key).compromised_since,  # type: ignore[union-attr]
        )
        assert session.get(Authority, "CN-HB") is None
    assert after == before
