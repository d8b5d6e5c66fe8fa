"""The employer's desk in a real browser against a real node: verifying one engineer
(by ID number, by registration number and name; qualified, listed, not found), the
report printed with its QR code, the company's history, lists uploaded as CSV and
XLSX (2,000 rows with their progress, a bad file with every problem), the results
downloaded; other roles and forms without their token refused; axe-core's check on
each page, and nothing fetched from anywhere but the node."""

from __future__ import annotations

import datetime as dt
import io
import re
import sqlite3
from pathlib import Path

import httpx
import openpyxl
import pytest
from playwright.sync_api import Browser, FilePayload, Page, Route, expect
from pypdf import PdfReader
from sqlmodel import select

from registry.accounts import create_user
from registry.demo.records import DEMO_ENGINEERS, DEMO_LISTED_ENGINEER
from registry.demo.synthetic import credit_code, resident_id
from registry.storage.db import make_engine, session_scope
from registry.storage.models import UserAccount
from registry.verification.history import keep_report, start_batch
from tests._browser import (
    Visit,
    checked,
    demo_users,
    module_node,
    new_visit,
    screenshot,
    sign_in,
    sign_in_as,
)
from tests._servers import Server

ENGINEER = DEMO_ENGINEERS[0]  # 王立新: Shanghai qualification and registration
LISTED = next(e for e in DEMO_ENGINEERS if e.name == DEMO_LISTED_ENGINEER[0])  # 赵强
UNKNOWN_ID = resident_id("310101", "19990909", "123")  # well formed, held by no one
REGISTRATION = "SH-REG-1001"  # 王立新's
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DESK_PAGES = ("/desk/verify", "/desk/verify-list", "/desk/history")


node = module_node("desk")


def _database(data_dir: Path) -> sqlite3.Connection:
    return sqlite3.connect(data_dir / "registry.sqlite3")


def _employer(page: Page, data_dir: Path, next_path: str = "/desk/verify") -> None:
    sign_in_as(page, data_dir, "verifier", next_path)


def _verify_by_id(page: Page, id_number: str, region: str) -> None:
    page.goto("/desk/verify")
    page.get_by_label("身份证号", exact=True).fill(id_number)
    page.get_by_label("执业地区").select_option(label=region)
    page.get_by_role("button", name="核验", exact=True).click()


def _saved_kinds(data_dir: Path) -> list[tuple[str, str | None, str | None]]:
    with _database(data_dir) as db:
        return list(db.execute("SELECT kind, name, verdict FROM desk_verification ORDER BY id"))


def test_verifying_by_id_number_answers_green_and_never_shows_the_number(
    visit: Visit, node: tuple[Server, Path], tmp_path: Path
) -> None:
    _, data_dir = node
    page = visit.page()
    _employer(page, data_dir)
    expect(page.get_by_role("heading", level=1)).to_have_text("核验一名工程师")
    checked(page, visit)
    screenshot(page, "desk-verify", tmp_path)
    _verify_by_id(page, ENGINEER.id_number, "上海市")
    expect(page).to_have_url(re.compile(r"/desk/reports/\d+$"))
    verdict = page.locator("#verdict")
    expect(verdict).to_have_class(re.compile(r"\bgood\b"))
    expect(verdict).to_contain_text("合格：可以执业")
    expect(page.locator("#report-facts")).to_contain_text(ENGINEER.name)
    expect(page.locator("#report-facts")).to_contain_text("3101**********0217")
    expect(page.get_by_text("SH-2019-C-0001").first).to_be_visible()
    expect(page.get_by_role("heading", name="继续教育")).to_be_visible()
    assert ENGINEER.id_number not in page.content()
    checked(page, visit)
    screenshot(page, "desk-verify-result", tmp_path)
    # The reasons carry both languages: English with the switch.
    page.get_by_role("link", name="English").click()
    expect(page.locator("#verdict")).to_contain_text("Qualified: may practise")
    expect(page.locator("ul.reasons").first).to_contain_text("qualification SH-2019-C-0001")
    checked(page, visit)
    page.get_by_role("link", name="中文").click()
    # The access audit names the person, by their account's own token row.
    with _database(data_dir) as db:
        audited = db.execute(
            "SELECT a.action, u.username FROM access_audit a "
            "JOIN user_account u ON u.token_id = a.token_id ORDER BY a.id DESC LIMIT 1"
        ).fetchone()
        kept = db.execute(
            "SELECT document, name, verdict, company_code FROM desk_verification "
            "ORDER BY id DESC LIMIT 1"
        ).fetchone()
    assert audited == ("engineer-verification", demo_users(data_dir)["verifier"]["username"])
    assert kept[1:3] == (ENGINEER.name, "qualified")
    assert ENGINEER.employer is not None
    assert kept[3] == ENGINEER.employer[1]
    assert '"type":["VerifiableCredential","VerificationReport"]' in kept[0]
    assert ENGINEER.id_number not in kept[0]


def test_the_report_prints_on_a_clean_page_with_its_qr_code(
    visit: Visit, node: tuple[Server, Path], tmp_path: Path
) -> None:
    _, data_dir = node
    page = visit.page()
    _employer(page, data_dir)
    _verify_by_id(page, ENGINEER.id_number, "上海市")
    expect(page).to_have_url(re.compile(r"/desk/reports/\d+$"))
    own = page.url
    expect(page.locator(".print-card")).to_contain_text(own)
    expect(page.get_by_role("button", name="打印")).to_be_visible()  # its script ran
    page.emulate_media(media="print")
    expect(page.get_by_role("img", name="本报告页面地址的二维码")).to_be_visible()
    expect(page.locator(".qr svg")).to_be_visible()
    expect(page.get_by_role("navigation", name="主导航")).to_be_hidden()
    expect(page.locator("header.site")).to_be_hidden()
    expect(page.locator(".actions.no-print")).to_be_hidden()
    expect(page.locator("#verdict")).to_be_visible()
    screenshot(page, "desk-verify-print", tmp_path)
    page.emulate_media(media="screen")
    expect(page.locator("header.site")).to_be_visible()


def test_the_report_downloads_as_a_pdf_whose_chinese_is_text(
    visit: Visit, node: tuple[Server, Path], tmp_path: Path
) -> None:
    _, data_dir = node
    page = visit.page()
    _employer(page, data_dir)
    _verify_by_id(page, ENGINEER.id_number, "上海市")
    expect(page).to_have_url(re.compile(r"/desk/reports/\d+$"))
    own = page.url
    with page.expect_download() as download:
        page.get_by_role("link", name="下载 PDF").click()
    path = tmp_path / "report.pdf"
    download.value.save_as(path)
    text = "".join(p.extract_text() for p in PdfReader(path).pages)
    assert "工程师核验报告" in text
    assert ENGINEER.name in text
    assert "3101**********0217" in text
    assert own in text.replace("\n", "")
    assert ENGINEER.id_number not in text
    # Its address answers the PDF itself, never cached.
    direct = visit.context.request.get(own + "/report.pdf")
    assert direct.status == 200
    assert direct.headers["content-type"] == "application/pdf"
    assert direct.headers["cache-control"] == "no-store"


def test_verifying_by_registration_number_and_name(visit: Visit, node: tuple[Server, Path]) -> None:
    _, data_dir = node
    page = visit.page()
    _employer(page, data_dir)
    page.get_by_label("按注册编号和姓名").check()
    page.get_by_label("注册编号", exact=True).fill(REGISTRATION)
    page.get_by_label("姓名", exact=True).fill(ENGINEER.name)
    page.get_by_label("执业地区").select_option("CN-SH")
    page.get_by_role("button", name="核验", exact=True).click()
    expect(page.locator("#verdict")).to_have_class(re.compile(r"\bgood\b"))
    expect(page.locator("#report-facts")).to_contain_text(REGISTRATION)
    checked(page, visit)


def test_a_record_of_another_province_counts_by_the_agreement_named(
    visit: Visit, node: tuple[Server, Path]
) -> None:
    _, data_dir = node
    chen = next(e for e in DEMO_ENGINEERS if e.name == "陈静")  # Jiangsu qualification
    page = visit.page()
    _employer(page, data_dir)
    _verify_by_id(page, chen.id_number, "上海市")
    expect(page.locator("#verdict")).to_have_class(re.compile(r"\bgood\b"))
    expect(page.get_by_role("heading", name="所依据的互认协议")).to_be_visible()
    expect(page.locator("ul.reasons").first).to_contain_text("依据互认协议")
    checked(page, visit)


def test_a_listed_engineer_is_answered_with_the_listing(
    visit: Visit, node: tuple[Server, Path], tmp_path: Path
) -> None:
    _, data_dir = node
    page = visit.page()
    _employer(page, data_dir)
    _verify_by_id(page, LISTED.id_number, "浙江省")
    verdict = page.locator("#verdict")
    expect(verdict).to_have_class(re.compile(r"\b(warn|bad)\b"))
    listings = page.locator("ul.listing-list")
    expect(listings).to_contain_text("浙应急失信")
    expect(listings).to_contain_text("安全生产严重失信主体名单")
    assert LISTED.id_number not in page.content()
    checked(page, visit)
    screenshot(page, "desk-verify-listed", tmp_path)


def test_someone_unknown_is_answered_not_found(
    visit: Visit, node: tuple[Server, Path], tmp_path: Path
) -> None:
    _, data_dir = node
    page = visit.page()
    _employer(page, data_dir)
    _verify_by_id(page, UNKNOWN_ID, "江苏省")
    verdict = page.locator("#verdict")
    expect(verdict).to_have_class(re.compile(r"\bbad\b"))
    expect(verdict).to_contain_text("未查到此人的记录")
    expect(page.locator("#report-facts")).to_contain_text("3101**********")
    assert UNKNOWN_ID not in page.content()
    checked(page, visit)
    screenshot(page, "desk-verify-not-found", tmp_path)
    assert _saved_kinds(data_dir)[-1] == ("engineer", None, "not-found")


def test_a_wrong_question_is_answered_in_chinese_without_the_number_typed(
    visit: Visit, node: tuple[Server, Path]
) -> None:
    _, data_dir = node
    page = visit.page()
    _employer(page, data_dir)
    before = len(_saved_kinds(data_dir))
    wrong = ENGINEER.id_number[:-1] + ("1" if ENGINEER.id_number[-1] != "1" else "2")
    _verify_by_id(page, wrong, "上海市")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("请更正以下问题")
    expect(alert).to_contain_text("校验")
    assert wrong not in page.content()
    expect(page.get_by_label("身份证号", exact=True)).to_have_value("")
    checked(page, visit)
    assert len(_saved_kinds(data_dir)) == before


def test_the_history_lists_the_verifications_and_reopens_one(
    visit: Visit, node: tuple[Server, Path], tmp_path: Path
) -> None:
    _, data_dir = node
    page = visit.page()
    _employer(page, data_dir)
    _verify_by_id(page, LISTED.id_number, "浙江省")
    expect(page).to_have_url(re.compile(r"/desk/reports/\d+$"))
    newest = page.url
    page.goto("/desk/history")
    expect(page.get_by_role("heading", level=1)).to_have_text("核验记录")
    rows = page.locator("table tbody tr")
    expect(rows.first).to_contain_text(LISTED.name)  # newest first
    expect(rows.first).to_contain_text("人事 王芳")
    checked(page, visit)
    screenshot(page, "desk-history", tmp_path)
    rows.first.get_by_role("link", name=re.compile("打开")).click()
    assert page.url == newest
    expect(page.locator("#verdict")).to_be_visible()
    # Another company's account gets the same answer as for no such report.
    server, _ = node
    engine = make_engine(f"sqlite:///{data_dir / 'registry.sqlite3'}")
    with session_scope(engine) as session:
        _, password = create_user(
            session,
            "hr.other",
            role="verifier",
            display_name="人事 赵六",
            company_code=credit_code("91310000MA1FL0999"),
            company_name="上海另一家化工有限公司",
        )
    engine.dispose()
    other = new_visit(page.context.browser or pytest.fail("no browser"), server.base)
    elsewhere = other.page()
    sign_in(elsewhere, "hr.other", password, next_path="/desk/history")
    expect(elsewhere.get_by_text("还没有核验记录")).to_be_visible()
    answer = elsewhere.goto(newest)
    assert answer is not None
    assert answer.status == 404
    expect(elsewhere.get_by_role("alert")).to_contain_text("本单位没有这条核验记录")
    assert (elsewhere.goto("/desk/reports/999999") or pytest.fail("no answer")).status == 404
    other.context.close()


def test_other_roles_are_refused_every_desk_page_and_post(
    visit: Visit, node: tuple[Server, Path]
) -> None:
    _, data_dir = node
    inspector = demo_users(data_dir)["enforcement"]
    page = visit.page()
    sign_in(page, inspector["username"], inspector["password"])
    expect(page).to_have_url(re.compile(r"/desk$"))
    for path in (
        *DESK_PAGES,
        "/desk/reports/1",
        "/desk/verify-list/1",
        "/desk/verify-list/1/status",
    ):
        answer = page.goto(path)
        assert answer is not None
        assert answer.status == 403, path
    expect(page.get_by_role("alert")).to_contain_text("没有打开此页面的权限")
    checked(page, visit)
    before = _saved_kinds(data_dir)
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    assert token
    statuses = page.evaluate(
        """async ([token, idNumber]) => {
            const one = new URLSearchParams({csrf_token: token, way: 'id',
                                             id_number: idNumber, region: 'CN-SH'});
            const list = new FormData();
            list.append('csrf_token', token);
            list.append('file', new Blob(['身份证号,地区\\n' + idNumber + ',CN-SH\\n'],
                                         {type: 'text/csv'}), 'list.csv');
            const a = await fetch('/desk/verify', {method: 'POST', body: one});
            const b = await fetch('/desk/verify-list', {method: 'POST', body: list});
            return [a.status, b.status];
        }""",
        [token, ENGINEER.id_number],
    )
    assert statuses == [403, 403]
    assert _saved_kinds(data_dir) == before


def test_a_form_without_its_token_is_refused(visit: Visit, node: tuple[Server, Path]) -> None:
    server, data_dir = node
    page = visit.page()
    _employer(page, data_dir)
    before = _saved_kinds(data_dir)
    status = page.evaluate(
        """async (idNumber) => {
            const body = new URLSearchParams({way: 'id', id_number: idNumber, region: 'CN-SH'});
            const answer = await fetch('/desk/verify', {method: 'POST', body, redirect: 'manual'});
            return answer.status;
        }""",
        ENGINEER.id_number,
    )
    assert status == 403
    # Not signed in at all: sent to sign in, nothing verified.
    answer = httpx.post(
        f"{server.base}/desk/verify",
        data={"way": "id", "id_number": ENGINEER.id_number, "region": "CN-SH"},
    )
    assert answer.status_code in (303, 403)
    assert _saved_kinds(data_dir) == before


def _csv(rows: list[tuple[str, str, str, str]]) -> bytes:
    lines = ["身份证号,注册编号,姓名,地区", *(",".join(row) for row in rows)]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _xlsx(rows: list[tuple[str, str, str, str]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["身份证号", "注册编号", "姓名", "地区"])
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


_FEW = [
    (ENGINEER.id_number, "", "", "上海"),
    (UNKNOWN_ID, "", "", "上海"),
    ("", REGISTRATION, ENGINEER.name, "CN-SH"),
    (LISTED.id_number, "", "", "浙江"),
]


def _upload(page: Page, name: str, body: bytes, media: str) -> None:
    page.goto("/desk/verify-list")
    chosen: FilePayload = {"name": name, "mimeType": media, "buffer": body}
    page.get_by_label("名单文件").set_input_files(files=[chosen])
    page.get_by_role("button", name="上传并核验").click()


def _results(page: Page) -> None:
    expect(page).to_have_url(re.compile(r"/desk/verify-list/\d+$"), timeout=60_000)
    expect(page.locator("#results")).to_be_visible(timeout=60_000)


def test_a_csv_list_is_verified_failures_first_and_downloads_as_xlsx(
    visit: Visit, node: tuple[Server, Path], tmp_path: Path
) -> None:
    _, data_dir = node
    page = visit.page()
    _employer(page, data_dir, "/desk/verify-list")
    checked(page, visit)
    screenshot(page, "desk-verify-list", tmp_path)
    _upload(page, "engineers.csv", _csv(_FEW), "text/csv")
    _results(page)
    rows = page.locator("#results tbody tr")
    expect(rows).to_have_count(4)
    expect(rows.first).to_contain_text("未查到")  # the failure first
    expect(rows.first).to_contain_text("3101**********")
    expect(rows.last).to_contain_text("合格")
    assert ENGINEER.id_number not in page.content()
    assert UNKNOWN_ID not in page.content()
    checked(page, visit)
    screenshot(page, "desk-verify-list-results", tmp_path)
    with page.expect_download() as download:
        page.get_by_role("link", name="下载结果（XLSX）").click()
    saved = tmp_path / "results.xlsx"
    download.value.save_as(saved)
    sheet = openpyxl.load_workbook(saved).active
    assert sheet is not None
    table = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert table[0][:3] == ["行号", "姓名", "身份证号（脱敏）"]
    assert "结论" in table[0]
    assert len(table) == 5
    label = table[0].index("结论")
    assert table[1][label] == "未查到"
    assert sorted(str(row[label]) for row in table[1:]).count("合格") == 3
    flat = " ".join(str(cell) for row in table for cell in row)
    assert ENGINEER.id_number not in flat
    assert _saved_kinds(data_dir)[-1][:2] == ("batch", "engineers.csv")


def test_an_xlsx_list_is_verified(visit: Visit, node: tuple[Server, Path]) -> None:
    _, data_dir = node
    page = visit.page()
    _employer(page, data_dir, "/desk/verify-list")
    _upload(page, "engineers.xlsx", _xlsx(_FEW[:2]), XLSX)
    _results(page)
    rows = page.locator("#results tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("未查到")
    expect(rows.last).to_contain_text(ENGINEER.name)
    checked(page, visit)


def test_a_list_of_2000_shows_its_progress_then_its_results(
    visit: Visit, node: tuple[Server, Path], tmp_path: Path
) -> None:
    _, data_dir = node
    page = visit.page()
    _employer(page, data_dir, "/desk/verify-list")
    many = [(ENGINEER.id_number, "", "", "CN-SH")] * 1999 + [(UNKNOWN_ID, "", "", "CN-SH")]
    statuses: list[dict[str, object]] = []

    def status(route: Route) -> None:
        answer = route.fetch()
        statuses.append(answer.json())
        route.fulfill(response=answer)

    page.route(re.compile(r"/desk/verify-list/\d+/status$"), status)
    _upload(page, "many.csv", _csv(many), "text/csv")
    progress = page.get_by_label("核验进度")
    expect(progress).to_have_attribute("max", "2000")
    checked(page, visit)
    screenshot(page, "desk-verify-list-progress", tmp_path)
    _results(page)
    assert statuses
    assert statuses[-1] == {"state": "done", "done": 2000, "rows": 2000}
    assert all(s["rows"] == 2000 for s in statuses)
    expect(page.locator("#results tbody tr").first).to_contain_text("未查到")
    expect(page.locator("#results tbody tr")).to_have_count(200)  # a page of them
    expect(page.get_by_text("第 1 / 10 页")).to_be_visible()
    checked(page, visit)
    with _database(data_dir) as db:
        audited = db.execute(
            "SELECT rows FROM access_audit WHERE action = 'engineer-verification-batch' "
            "ORDER BY id DESC LIMIT 1"
        ).fetchone()
    assert audited == (2000,)


def test_a_bad_file_answers_every_problem_and_verifies_nothing(
    visit: Visit, node: tuple[Server, Path], tmp_path: Path
) -> None:
    _, data_dir = node
    page = visit.page()
    _employer(page, data_dir, "/desk/verify-list")
    before = _saved_kinds(data_dir)
    with _database(data_dir) as db:
        audits = db.execute("SELECT count(*) FROM access_audit").fetchone()
    bad = [
        (ENGINEER.id_number, "", "", "CN-SH"),
        ("12345", "", "", "CN-SH"),
        ("", "", "", "CN-XX"),
        ("", REGISTRATION, "", "上海"),
    ]
    _upload(page, "bad.csv", _csv(bad), "text/csv")
    expect(page.get_by_role("alert")).to_contain_text("未核验任何人")
    problems = page.locator("#problems tbody tr")
    texts = problems.all_inner_texts()
    assert any(t.startswith("2\t身份证号") for t in texts), texts
    assert any(t.startswith("3\t地区") for t in texts), texts
    assert any(t.startswith("3\t") and "身份证号码" in t for t in texts), texts
    assert any(t.startswith("4\t") and "姓名" in t for t in texts), texts
    assert not any(t.startswith("1\t") for t in texts)
    assert "12345" not in "".join(texts)
    checked(page, visit)
    screenshot(page, "desk-verify-list-problems", tmp_path)
    # A file that is not a table at all.
    _upload(page, "notes.txt", b"hello", "text/plain")
    expect(page.get_by_role("alert")).to_contain_text("未核验任何人")
    expect(page.locator("#problems")).to_contain_text("CSV")
    expect(page.locator("#problems")).to_contain_text(".csv")
    assert _saved_kinds(data_dir) == before
    with _database(data_dir) as db:
        assert db.execute("SELECT count(*) FROM access_audit").fetchone() == audits


def test_a_list_cut_short_is_said_to_have_failed(visit: Visit, node: tuple[Server, Path]) -> None:
    # A list whose process stopped mid-way: still "running" in the database, but it
    # has not moved for longer than any list takes.
    _, data_dir = node
    hr = demo_users(data_dir)["verifier"]
    engine = make_engine(f"sqlite:///{data_dir / 'registry.sqlite3'}")
    an_hour_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    with session_scope(engine) as session:
        user = session.exec(select(UserAccount).where(UserAccount.username == hr["username"])).one()
        kept = start_batch(session, user, name="stopped.csv", rows=500, at=an_hour_ago)
    engine.dispose()
    page = visit.page()
    _employer(page, data_dir, f"/desk/verify-list/{kept.id}")
    expect(page.get_by_role("alert")).to_contain_text("未能核验完成")
    expect(page.get_by_label("核验进度")).to_have_count(0)
    checked(page, visit)
    status = page.request.get(f"/desk/verify-list/{kept.id}/status").json()
    assert status == {"state": "failed", "done": 0, "rows": 500}
    page.goto("/desk/history")
    expect(page.locator("table tbody tr", has_text="stopped.csv")).to_contain_text("未完成")


def test_the_history_goes_page_by_page_and_the_report_fits_a_phone(
    browser: Browser, node: tuple[Server, Path], tmp_path: Path
) -> None:
    server, data_dir = node
    hr = demo_users(data_dir)["verifier"]
    phone = new_visit(browser, server.base, phone=True)
    page = phone.page()
    _employer(page, data_dir)
    _verify_by_id(page, LISTED.id_number, "浙江省")
    expect(page).to_have_url(re.compile(r"/desk/reports/\d+$"))
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], "the report scrolls sideways on a phone"
    checked(page, phone)
    screenshot(page, "desk-verify-result-phone", tmp_path)
    # More than a page of verifications: the same report kept again and again.
    engine = make_engine(f"sqlite:///{data_dir / 'registry.sqlite3'}")
    with session_scope(engine) as session:
        user = session.exec(select(UserAccount).where(UserAccount.username == hr["username"])).one()
        with _database(data_dir) as db:
            (document,) = db.execute(
                "SELECT document FROM desk_verification WHERE kind = 'engineer' LIMIT 1"
            ).fetchone()
        for _ in range(25):
            keep_report(session, user, document.encode(), at=dt.datetime.now(dt.UTC))
    engine.dispose()
    page.goto("/desk/history")
    pager = page.get_by_role("navigation", name="分页")
    expect(pager).to_contain_text("第 1 / ")
    expect(page.locator("table tbody tr")).to_have_count(20)
    pager.get_by_role("link", name="下一页").click()
    expect(page).to_have_url(re.compile(r"/desk/history\?page=2$"))
    expect(page.get_by_role("navigation", name="分页")).to_contain_text("第 2 / ")
    expect(page.locator("table tbody tr").first).to_be_visible()
    checked(page, phone)
    phone.context.close()
