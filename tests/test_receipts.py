"""The same CE credit is issued once; every import and batch has a receipt; an
issuing office finds its own records. Through the API and `registry import`, on
PostgreSQL and SQLite."""

from __future__ import annotations

import copy
import csv
import io
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select
from sqlmodel import col

from api import create_app
from api.examples import record_examples
from registry.calendar import china_today
from registry.datadir import DataDir
from registry.demo import credit_code, resident_id
from registry.settings import Settings
from registry.storage.db import engine_scope, session_scope
from registry.storage.models import AccessAudit, LogEntry, Record, StoredCredential
from tests._support import run_import, seed_demo_node

TODAY = china_today()
PROBLEM = "application/problem+json"
PROVIDER = credit_code("12310000MB0P10008")
ZHOU = resident_id("310104", "19880723", "031")
SUN = resident_id("310110", "19910204", "052")
CE_HEADER = ["姓名", "身份证号", "课程名称", "培训机构", "培训机构统一社会信用代码",
             "学时", "学时类型", "完成日期"]  # fmt: skip


_REVOKE = {
    "action": "revoke",
    "reason": "issued in error",
    "decision_number": "沪应急继教〔2026〕1号",
    "effective_on": TODAY.isoformat(),
}


def _credit(
    id_number: str = ZHOU,
    *,
    name: str = "周明轩",
    title: str = "危险化学品重大危险源管理",
    authority: str = "CN-SH",
    days_ago: int = 10,
) -> dict[str, Any]:
    return {
        "type": "ContinuingEducationCredit",
        "authority": authority,
        "holder": {"name": name, "id_number": id_number},
        "course_title": title,
        "provider": {"name": "上海市安全生产科学研究所", "credit_code": PROVIDER},
        "hours": 8,
        "kind": "professional",
        "completed_on": (TODAY - timedelta(days=days_ago)).isoformat(),
    }


class Node:
    """A demo node in-process: a client and one token per role."""

    def __init__(self, client: TestClient, tokens: dict[str, str], settings: Settings) -> None:
        self.client = client
        self.tokens = tokens
        self.settings = settings

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def issue(self, body: dict[str, Any], role: str = "issuer:CN-SH") -> dict[str, Any]:
        response = self.client.post("/v1/credentials", json=body, headers=self.auth(role))
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    def batch(self, items: list[dict[str, Any]], role: str = "issuer:CN-SH") -> Any:
        return self.client.post(
            "/v1/credentials/batch", json={"items": items}, headers=self.auth(role)
        )

    def search(self, role: str = "issuer:CN-SH", **criteria: Any) -> Any:
        return self.client.post("/v1/records/search", json=criteria, headers=self.auth(role))

    def found(self, role: str = "issuer:CN-SH", **criteria: Any) -> list[str]:
        response = self.search(role, **criteria)
        assert response.status_code == 200, response.text
        return [r["credential_id"] for r in response.json()["records"]]

    def counts(self) -> tuple[int, int, int]:
        return _counts(self.settings)


def _counts(settings: Settings) -> tuple[int, int, int]:
    with engine_scope(settings.database_url) as engine, session_scope(engine) as session:
        return (
            session.scalar(select(func.count()).select_from(StoredCredential)) or 0,
            session.scalar(select(func.count()).select_from(LogEntry)) or 0,
            session.scalar(select(func.count()).select_from(Record)) or 0,
        )


@pytest.fixture
def node(settings: Settings) -> Iterator[Node]:
    tokens = seed_demo_node(settings)
    with TestClient(create_app(settings)) as client:
        yield Node(client, tokens, settings)


# -- the same CE credit, once -----------------------------------------------------------


def test_the_same_credit_is_refused_singly_and_in_a_batch(node: Node) -> None:
    first = node.issue(_credit())["credential"]["id"]
    before = node.counts()
    again = node.client.post("/v1/credentials", json=_credit(), headers=node.auth("issuer:CN-SH"))
    assert again.status_code == 409
    assert again.headers["content-type"] == PROBLEM
    assert first in again.json()["detail"]
    assert node.counts() == before
    # The title as another keyboard typed it (full width, spaces, case) is the same course.
    hse = node.issue(_credit(title="HSE 管理体系 培训"))["credential"]["id"]
    typed = node.client.post(
        "/v1/credentials",
        json=_credit(title="ｈｓｅ　管理体系   培训"),
        headers=node.auth("issuer:CN-SH"),
    )
    assert typed.status_code == 409, typed.text
    assert hse in typed.json()["detail"]
    before = node.counts()
    # In a batch: the duplicate of a held credit and the repeat of an earlier item,
    # each named, and nothing written.
    other = _credit(title="有限空间作业安全")
    response = node.batch([other, _credit(), copy.deepcopy(other)])
    assert response.status_code == 422, response.text
    errors = {e["field"]: e["message"] for e in response.json()["errors"]}
    assert set(errors) == {"items[1].course_title", "items[2].course_title"}
    assert first in errors["items[1].course_title"]
    assert "items[0]" in errors["items[2].course_title"]
    assert node.counts() == before
    # Another person, another day or another provider is another credit.
    fine = node.batch(
        [other, _credit(SUN, name="孙丽"), _credit(days_ago=11)],
    )
    assert fine.status_code == 201, fine.text


def test_a_revoked_credit_may_be_issued_again_and_a_correction_is_no_duplicate(
    node: Node,
) -> None:
    first = node.issue(_credit())["credential"]["id"]
    corrected = {**_credit(), "hours": 6, "replaces": first}
    second = node.issue(corrected)["credential"]["id"]
    assert node.client.get(f"/v1/credentials/{first}").json()["state"] == "superseded"
    revoked = node.client.post(
        f"/v1/credentials/{second}/status",
        json=_REVOKE,
        headers=node.auth("issuer:CN-SH"),
    )
    assert revoked.status_code == 201, revoked.text
    node.issue(_credit())


def test_a_credit_keyed_under_an_older_secret_is_still_the_same(settings: Settings) -> None:
    tokens = seed_demo_node(settings, records=False)
    headers = {"Authorization": f"Bearer {tokens['issuer:CN-SH']}"}
    with TestClient(create_app(settings)) as client:
        first = client.post("/v1/credentials", json=_credit(), headers=headers)
        assert first.status_code == 201
    data_dir = DataDir(settings)
    data_dir.replace_lookup_secrets(data_dir.lookup_secrets().rotated())
    with TestClient(create_app(settings)) as client:
        again = client.post("/v1/credentials", json=_credit(), headers=headers)
        assert again.status_code == 409, again.text
        assert first.json()["credential"]["id"] in again.json()["detail"]
        batch = client.post("/v1/credentials/batch", json={"items": [_credit()]}, headers=headers)
        assert batch.status_code == 422
        assert batch.json()["errors"][0]["field"] == "items[0].course_title"


# -- receipts of batches ----------------------------------------------------------------


def test_a_batch_has_a_receipt_its_authority_reads(node: Node) -> None:
    examples = record_examples(TODAY)
    items = [examples["qualification"]["value"], _credit(), _credit(SUN, name="孙丽")]
    response = node.batch(items)
    assert response.status_code == 201, response.text
    answer = response.json()
    receipt_id = answer["receipt_id"]
    assert receipt_id.startswith("rcpt-")
    receipt = node.client.get(f"/v1/imports/{receipt_id}", headers=node.auth("issuer:CN-SH"))
    assert receipt.status_code == 200
    body = receipt.json()
    assert body["kind"] == "batch"
    assert body["authority"] == "CN-SH"
    assert body["type"] is None  # the batch mixed types
    assert body["issued_by"] == "demo issuer:CN-SH"
    assert body["rows"] == 3
    assert [
        (line["row"], line["credential_id"], line["type"], line["leaf_index"])
        for line in body["lines"]
    ] == [
        (i, item["credential"]["id"], item["credential"]["type"][-1], item["leaf_index"])
        for i, item in enumerate(answer["items"])
    ]
    listed = node.client.get("/v1/imports", headers=node.auth("issuer:CN-SH")).json()
    assert listed["receipts"][0]["id"] == receipt_id
    assert listed["total"] == 1
    # Admin reads every authority's; another authority and other roles read none.
    assert node.client.get("/v1/imports", headers=node.auth("admin")).json()["total"] == 1
    assert node.client.get("/v1/imports", headers=node.auth("issuer:CN-JS")).json()["total"] == 0
    other = node.client.get(f"/v1/imports/{receipt_id}", headers=node.auth("issuer:CN-JS"))
    assert other.status_code == 403
    for role in ("verifier", "enforcement"):
        assert node.client.get("/v1/imports", headers=node.auth(role)).status_code == 403
    assert node.client.get("/v1/imports/rcpt-none", headers=node.auth("admin")).status_code == 404
    typo = node.client.get("/v1/imports?limt=1", headers=node.auth("issuer:CN-SH"))
    assert typo.status_code == 422
    assert [e["field"] for e in typo.json()["errors"]] == ["limt"]
    # A retry with the same key answers the same receipt.
    key = {**node.auth("issuer:CN-SH"), "Idempotency-Key": "receipt-retry"}
    more = [_credit(title=f"第{n}期") for n in range(2)]
    one = node.client.post("/v1/credentials/batch", json={"items": more}, headers=key)
    two = node.client.post("/v1/credentials/batch", json={"items": more}, headers=key)
    assert one.json()["receipt_id"] == two.json()["receipt_id"]
    assert node.client.get("/v1/imports", headers=node.auth("admin")).json()["total"] == 2


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_a_receipt_as_a_file(node: Node, kind: str) -> None:
    response = node.batch([_credit(), _credit(SUN, name="孙丽")])
    answer = response.json()
    path = f"/v1/imports/{answer['receipt_id']}/receipt?format={kind}"
    got = node.client.get(path, headers=node.auth("issuer:CN-SH"))
    assert got.status_code == 200
    assert got.headers["cache-control"] == "no-store"
    if kind == "csv":
        assert got.content.startswith(b"\xef\xbb\xbf")
        rows = list(csv.reader(io.StringIO(got.content.decode("utf-8-sig"))))
    else:
        sheet = load_workbook(io.BytesIO(got.content)).active
        assert sheet is not None
        assert sheet.freeze_panes == "A2"
        rows = [[str(c) for c in row] for row in sheet.iter_rows(values_only=True)]
    assert rows[0] == ["行号", "凭证编号", "类型", "类型名称", "日志序号"]
    assert rows[1:] == [
        [str(i), item["credential"]["id"], "ContinuingEducationCredit", "继续教育学时",
         str(item["leaf_index"])]
        for i, item in enumerate(answer["items"])
    ]  # fmt: skip
    assert ZHOU not in got.content.decode("utf-8", errors="replace")
    bad = node.client.get(
        f"/v1/imports/{answer['receipt_id']}/receipt?format=pdf", headers=node.auth("admin")
    )
    assert bad.status_code == 422


# -- `registry import`: receipts, and a re-import issues nothing --------------------------


def _rows(people: list[tuple[str, str]], title: str = "安全生产法规专题") -> list[list[str]]:
    day = (TODAY - timedelta(days=3)).isoformat()
    return [CE_HEADER] + [
        [name, number, title, "上海市安全生产科学研究所", PROVIDER, "8", "professional", day]
        for name, number in people
    ]


def test_a_reimport_issues_nothing_and_names_what_exists(
    settings: Settings, tmp_path: Path
) -> None:
    tokens = seed_demo_node(settings, records=False)
    people = [("周明轩", ZHOU), ("孙丽", SUN), ("钱进", resident_id("310115", "19790611", "013"))]
    path = tmp_path / "培训学时.csv"
    with path.open("w", encoding="gb18030", newline="") as handle:
        csv.writer(handle).writerows(_rows(people))
    args = (str(path), "--type", "continuing-education", "--authority", "CN-SH")
    first = run_import(settings, *args)
    assert first.returncode == 0, first.stdout + first.stderr
    written = tmp_path / "培训学时.receipt.csv"
    assert "receipt rcpt-" in first.stdout
    assert str(written) in first.stdout.replace("\n", "")
    rows = list(csv.reader(io.StringIO(written.read_text(encoding="utf-8-sig"))))
    assert rows[0][:3] == ["行号", "凭证编号", "类型"]
    assert [row[0] for row in rows[1:]] == ["2", "3", "4"]
    ids = [row[1] for row in rows[1:]]
    before = _counts(settings)
    # The same file again: every row is a problem naming its credential; nothing issued.
    again = run_import(settings, *args)
    assert again.returncode == 1
    assert "3 problem(s)" in again.stderr
    for row, credential_id in zip((2, 3, 4), ids, strict=True):
        assert any(
            f" {row} " in line and credential_id in line for line in again.stderr.splitlines()
        ), again.stderr
    assert _counts(settings) == before
    # A row that repeats an earlier one of the same file is named too.
    twice = tmp_path / "twice.csv"
    with twice.open("w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle).writerows(_rows([("周明轩", ZHOU), ("周明轩", ZHOU)], "新课程"))
    result = run_import(
        settings, str(twice), "--type", "continuing-education", "--authority", "CN-SH"
    )
    assert result.returncode == 1
    assert "row 2" in result.stderr
    assert _counts(settings) == before
    # The receipt is the node's too: the authority reads it, file name and all.
    with TestClient(create_app(settings)) as client:
        listed = client.get(
            "/v1/imports", headers={"Authorization": f"Bearer {tokens['issuer:CN-SH']}"}
        ).json()
    (summary,) = listed["receipts"]
    assert (summary["kind"], summary["file_name"], summary["rows"], summary["issued_by"]) == (
        "import",
        "培训学时.csv",
        3,
        "cli",
    )


def test_an_import_writes_its_receipt_where_asked(settings: Settings, tmp_path: Path) -> None:
    seed_demo_node(settings, records=False)
    path = tmp_path / "credits.xlsx"
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in _rows([("周明轩", ZHOU), ("孙丽", SUN)]):
        sheet.append(row)
    book.save(path)
    receipt = tmp_path / "out" / "receipt.xlsx"
    receipt.parent.mkdir()
    args = ("--type", "continuing-education", "--authority", "310000")
    result = run_import(settings, str(path), *args, "--receipt", str(receipt))
    assert result.returncode == 0, result.stdout + result.stderr
    sheet = load_workbook(receipt).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("行号", "凭证编号", "类型", "类型名称", "日志序号")
    assert [r[0] for r in rows[1:]] == [2, 3]
    assert all(str(r[1]).startswith("urn:uuid:") for r in rows[1:])
    refused = run_import(settings, str(path), *args, "--receipt", str(tmp_path / "r.pdf"))
    assert refused.returncode == 2
    assert "--receipt" in refused.stderr
    # A receipt that cannot be written: nothing is issued (the same rows, new courses).
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in _rows([("周明轩", ZHOU)], "另一门课程"):
        sheet.append(row)
    book.save(path)
    before = _counts(settings)
    nowhere = run_import(settings, str(path), *args, "--receipt", str(tmp_path / "none" / "r.csv"))
    assert nowhere.returncode == 1
    assert "cannot write the receipt" in nowhere.stderr
    assert _counts(settings) == before


# -- finding an authority's own records ---------------------------------------------------


def test_an_office_finds_its_own_records_by_each_criterion(node: Node) -> None:
    examples = record_examples(TODAY)
    qualification = {
        **examples["qualification"]["value"],
        "holder": {"name": "周明轩", "id_number": ZHOU},
        "certificate_number": "SH-2026-Q-7001",
    }
    batch = node.batch([qualification, _credit(), _credit(SUN, name="孙丽")]).json()
    q_id, zhou_ce, sun_ce = (item["credential"]["id"] for item in batch["items"])
    # Jiangsu holds a record of the same person: Shanghai never sees it.
    js = node.issue(_credit(authority="CN-JS"), role="issuer:CN-JS")["credential"]["id"]
    assert set(node.found(id_number=ZHOU)) == {q_id, zhou_ce}
    assert node.found("issuer:CN-JS", id_number=ZHOU) == [js]
    assert set(node.found(name="周 明轩")) == {q_id, zhou_ce}
    assert node.found(number="SH-2026-Q-7001") == [q_id]
    assert set(node.found(import_id=batch["receipt_id"])) == {q_id, zhou_ce, sun_ce}
    assert node.found("issuer:CN-JS", import_id=batch["receipt_id"]) == []
    assert set(node.found(import_id=batch["receipt_id"], type="ContinuingEducationCredit")) == {
        zhou_ce,
        sun_ce,
    }
    yesterday = (TODAY - timedelta(days=1)).isoformat()
    assert node.found(import_id=batch["receipt_id"], issued_until=yesterday) == []
    assert len(node.found(import_id=batch["receipt_id"], issued_from=TODAY.isoformat())) == 3
    # Each result says its state, whom it is about (masked) and its history.
    node.client.post(
        f"/v1/credentials/{sun_ce}/status",
        json=_REVOKE,
        headers=node.auth("issuer:CN-SH"),
    )
    response = node.search(import_id=batch["receipt_id"], state="revoked")
    (record,) = response.json()["records"]
    assert response.headers["cache-control"] == "no-store"
    assert record["credential_id"] == sun_ce
    assert record["state"] == "revoked"
    assert record["name"] == "孙丽"
    assert record["masked"].endswith(SUN[-4:])
    assert SUN not in response.text
    assert [c["action"] for c in record["changes"]] == ["revoke"]
    assert record["import_id"] == batch["receipt_id"]
    # Paged.
    page = node.search(import_id=batch["receipt_id"], limit=2).json()
    assert len(page["records"]) == 2
    assert page["next_offset"] == 2
    rest = node.search(import_id=batch["receipt_id"], limit=2, offset=2).json()
    assert len(rest["records"]) == 1
    assert rest["next_offset"] is None


def test_the_search_is_for_issuers_and_audited_when_it_names_someone(node: Node) -> None:
    node.issue(_credit())
    for role in ("verifier", "enforcement", "admin"):
        assert node.search(role, id_number=ZHOU).status_code == 403
    for bad, field in (
        ({"id_number": ZHOU[:-1] + ("0" if ZHOU[-1] != "0" else "1")}, "id_number"),
        ({"limit": 201, "name": "周明轩"}, "limit"),
        ({"name": "周明轩", "issued_from": "2026-02-30"}, "issued_from"),
    ):
        response = node.search(**bad)
        assert response.status_code == 422, (bad, response.text)
        if field:
            assert field in [e["field"] for e in response.json()["errors"]], response.text

    def audited() -> int:
        with engine_scope(node.settings.database_url) as engine, session_scope(engine) as s:
            return (
                s.scalar(
                    select(func.count())
                    .select_from(AccessAudit)
                    .where(col(AccessAudit.action) == "records-search")
                )
                or 0
            )

    assert audited() == 0
    # No criterion: every record of the authority, newest first.
    everything = node.search()
    assert everything.status_code == 200
    assert len(everything.json()["records"]) > 1
    assert audited() == 0
    # A look-up of a person, by name or by ID number, is recorded.
    assert node.found(name="周明轩")
    assert audited() == 1
    assert node.found(id_number=ZHOU)
    assert audited() == 2
