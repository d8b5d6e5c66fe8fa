"""The authority's console, importing, in a real browser against a real node: the
template downloaded; a file with bad rows checked in the background, then answered
with every problem and nothing issued; the file fixed, uploaded again, its check
watched, confirmed (once: a second confirmation issues nothing), its progress watched,
its receipt read and downloaded as XLSX and CSV, the rejected and the finished imports
found in the history; the upload page on a phone; another authority's official
refused the import (404); an import failing after its confirmation, saying why; axe-core's
check on each page, nothing fetched elsewhere."""

from __future__ import annotations

import csv
import io
import re
import sqlite3
from datetime import timedelta
from pathlib import Path

import openpyxl
from playwright.sync_api import Browser, FilePayload, Page, Route, expect

from registry.accounts import create_user
from registry.bulk import template_rows
from registry.calendar import china_today
from registry.credentials import CredentialType
from registry.demo import DEMO_ENGINEERS, credit_code
from registry.storage.db import make_engine, session_scope
from tests._browser import (
    checked,
    module_node,
    new_visit,
    screenshot,
    sign_in,
    sign_in_as,
)
from tests._servers import Server

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADER = template_rows(CredentialType.CE_CREDIT)
PROVIDER = credit_code("12310000MB0P10008")
TODAY = china_today()
ROWS = 2_010  # three log appends: the progress moves between them; a short last page


node = module_node("import")


def _official(page: Page, data_dir: Path, next_path: str = "/console/import") -> None:
    sign_in_as(page, data_dir, "issuer:CN-SH", next_path)


def _row(number: int, **changes: str) -> list[str]:
    engineer = DEMO_ENGINEERS[number % len(DEMO_ENGINEERS)]
    values = {
        "姓名": engineer.name,
        "身份证号": engineer.id_number,
        "课程名称": f"网页导入专题培训第{number}期",
        "培训机构": "上海市安全生产科学研究所",
        "培训机构统一社会信用代码": PROVIDER,
        "学时": "2",
        "学时类型": "专业",
        "完成日期": (TODAY - timedelta(days=number % 300 + 1)).isoformat(),
    } | changes
    return [values.get(h, "") for h in HEADER]


def _xlsx(rows: list[list[str]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "数据"
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _upload(page: Page, name: str, body: bytes) -> None:
    page.goto("/console/import")
    page.get_by_label("记录类型").select_option(label="继续教育学时")
    chosen: FilePayload = {"name": name, "mimeType": XLSX, "buffer": body}
    page.get_by_label("文件（.csv 或 .xlsx）").set_input_files(files=[chosen])
    page.get_by_role("button", name="上传并检查").click()


def _counts(data_dir: Path) -> tuple[int, ...]:
    with sqlite3.connect(data_dir / "registry.sqlite3") as db:
        return tuple(
            db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608 (names above)
            for table in ("credential", "log_entry", "receipt", "staged_import")
        )


def test_an_official_imports_a_file_with_bad_rows_fixes_it_and_imports_it(
    browser: Browser, node: tuple[Server, Path], tmp_path: Path
) -> None:
    server, data_dir = node
    visit = new_visit(browser, server.base)
    page = visit.page()
    _official(page, data_dir)
    expect(page.get_by_role("heading", level=1)).to_have_text("导入表格")
    checked(page, visit)
    # The template, in Chinese, as `registry import --template` writes it.
    with page.expect_download() as download:
        page.get_by_role("link", name="继续教育学时（XLSX）").click()
    saved = tmp_path / "template.xlsx"
    download.value.save_as(saved)
    book = openpyxl.load_workbook(saved)
    assert book.sheetnames[0] == "数据"
    assert [c.value for c in book["数据"][1]] == HEADER

    # A file with bad rows: checked in the background, then every problem at once,
    # nothing issued, the file not kept.
    before = _counts(data_dir)
    statuses: list[dict[str, object]] = []

    def status(route: Route) -> None:
        answer = route.fetch()
        statuses.append(answer.json())
        route.fulfill(response=answer)

    page.route(re.compile(r"/console/import/imp-[0-9a-f]+/status$"), status)
    bad = [_row(n) for n in range(ROWS)]
    bad[3] = _row(3, 身份证号="310101198503120210")  # check character wrong: row 5
    bad[10] = _row(10, 学时="0", 学时类型="选修")  # row 12, two columns
    bad[1500] = _row(1500, 完成日期="明天")  # row 1502
    _upload(page, "学时.xlsx", _xlsx(bad))
    expect(page).to_have_url(re.compile(r"/console/import/imp-[0-9a-f]{32}$"))
    rejected = page.url
    expect(page.locator("#import-problems")).to_contain_text(
        "4 处问题：未签发任何记录", timeout=30_000
    )
    problems = [
        (row.locator("td").nth(0).inner_text(), row.locator("td").nth(1).inner_text())
        for row in page.locator("#problems tbody tr").all()
    ]
    assert problems == [("5", "身份证号"), ("12", "学时"), ("12", "学时类型"), ("1502", "完成日期")]
    assert "310101198503120210" not in page.content()
    upload_again = page.get_by_role("link", name="重新上传文件")
    expect(upload_again).to_have_attribute("href", "/console/import?type=continuing-education")
    # While it was checked, the page said how far (if it was still checking when shown).
    # The page said how far the check was, then opened its problems (2,010 rows take
    # longer to check than the page to load).
    assert statuses, "the page asked how far the check was"
    assert statuses[-1]["state"] == "rejected"
    assert all(s["state"] == "checking" for s in statuses[:-1])
    assert all(0 <= int(str(s["done"])) <= int(str(s["rows"])) <= ROWS for s in statuses[:-1])
    after_rejection = _counts(data_dir)
    assert after_rejection == (*before[:3], before[3] + 1)  # only the import's own state
    identifier = rejected.rsplit("/", 1)[1]
    assert not list((data_dir / "imports" / identifier).glob("*.xlsx"))  # not kept
    checked(page, visit)
    screenshot(page, "console-import-problems", tmp_path)

    # Fixed: its check watched, what will be signed, then confirmed once, watched, and
    # its receipt.
    good = [_row(n) for n in range(ROWS)]
    # The page as it is while the check runs: its script kept from the answer here.
    page.route(re.compile(r"/console/import/imp-[0-9a-f]+/status$"), lambda r: r.abort())
    _upload(page, "学时.xlsx", _xlsx(good))
    expect(page).to_have_url(re.compile(r"/console/import/imp-[0-9a-f]{32}$"))
    staged = page.url
    expect(page.get_by_role("heading", name="正在检查文件")).to_be_visible()
    expect(page.locator("#progress")).to_contain_text("已检查行数")
    checked(page, visit)
    screenshot(page, "console-import-checking", tmp_path)
    page.unroute(re.compile(r"/console/import/imp-[0-9a-f]+/status$"))
    page.route(re.compile(r"/console/import/imp-[0-9a-f]+/status$"), status)
    statuses.clear()
    page.reload()
    expect(page.locator("#rows")).to_have_text(str(ROWS), timeout=30_000)
    expect(page.locator("#rows")).to_have_text(str(ROWS))
    expect(page.get_by_text("上海市", exact=False).first).to_be_visible()
    checked(page, visit)
    screenshot(page, "console-import-confirm", tmp_path)
    assert _counts(data_dir)[:3] == before[:3]
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    statuses.clear()
    page.get_by_role("button", name=f"确认并签发 {ROWS} 条记录").click()
    expect(page).to_have_url(re.compile(r"/console/imports/rcpt-[0-9a-f]{32}$"), timeout=60_000)
    receipt = page.url
    assert statuses, "the progress page asked how far the import was"
    assert all(s["rows"] == ROWS for s in statuses)
    assert statuses[-1].get("state") == "done"
    expect(page.locator("#receipt tbody tr")).to_have_count(200)  # a page of them
    expect(page.locator("#receipt tbody tr").first.locator("td").first).to_have_text("2")
    expect(page.locator("dl.facts")).to_contain_text("上海市应急管理局 李明（sh.official）")
    checked(page, visit)
    page.get_by_role("navigation", name="分页").get_by_role("link", name="下一页").click()
    page.goto(f"{receipt}?page=11")
    expect(page.get_by_role("navigation", name="分页")).to_contain_text("第 11 / 11 页")
    expect(page.locator("#receipt tbody tr")).to_have_count(10)
    expect(page.locator("#receipt tbody tr").last.locator("td").first).to_have_text(str(ROWS + 1))
    screenshot(page, "console-import-receipt", tmp_path)
    after = _counts(data_dir)
    assert after == (before[0] + ROWS, before[1] + ROWS, before[2] + 1, before[3] + 2)

    # A second confirmation (the back button, a retry) issues nothing more.
    again = page.request.post(f"{staged}/confirm", form={"csrf_token": token or ""})
    assert again.ok
    assert again.url == receipt
    assert _counts(data_dir) == after

    # The receipt, as XLSX and CSV.
    with page.expect_download() as download:
        page.get_by_role("link", name="下载回执（XLSX）").click()
    download.value.save_as(tmp_path / "receipt.xlsx")
    sheet = openpyxl.load_workbook(tmp_path / "receipt.xlsx").active
    assert sheet is not None
    table = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert table[0] == ["行号", "凭证编号", "类型", "类型名称", "日志序号"]
    assert len(table) == ROWS + 1
    assert table[1][0] in (2, "2")
    with page.expect_download() as download:
        page.get_by_role("link", name="下载回执（CSV）").click()
    download.value.save_as(tmp_path / "receipt.csv")
    with (tmp_path / "receipt.csv").open(encoding="utf-8-sig") as handle:
        lines = list(csv.reader(handle))
    assert len(lines) == ROWS + 1
    assert {line[3] for line in lines[1:]} == {"继续教育学时"}

    # The history lists it, newest first, with who imported it, and the rejected one.
    page.goto("/console/imports")
    first = page.locator("#imports tbody tr").first
    expect(first).to_contain_text("学时.xlsx")
    expect(first).to_contain_text("上海市应急管理局 李明")  # the person, by their account
    expect(first).to_contain_text(str(ROWS))
    expect(first).to_contain_text("已导入")
    second = page.locator("#imports tbody tr").nth(1)
    expect(second).to_contain_text("学时.xlsx")
    expect(second).to_contain_text("未通过检查：4 处问题")
    expect(second.get_by_role("link")).to_have_attribute("href", f"/console/import/{identifier}")
    checked(page, visit)
    screenshot(page, "console-imports", tmp_path)
    first.get_by_role("link").click()
    expect(page).to_have_url(receipt)
    visit.context.close()

    # Another authority's official sees none of it.
    engine = make_engine(f"sqlite:///{data_dir / 'registry.sqlite3'}")
    with session_scope(engine) as session:
        _, password = create_user(session, "js.official", role="issuer:CN-JS", display_name="苏")
    engine.dispose()
    other = new_visit(browser, server.base)
    page = other.page()
    sign_in(page, "js.official", password, next_path="/console/imports")
    expect(page).to_have_url(re.compile("/console/imports$"))
    assert "学时.xlsx" not in page.content()
    for path in (receipt, f"{receipt}/receipt.csv", staged, rejected):
        answer = page.goto(path)
        assert answer is not None
        assert answer.status == 404, path
    expect(page.get_by_role("heading", level=1)).to_have_text("没有这次导入")
    checked(page, other)
    other.context.close()


def test_the_upload_page_fits_a_phone_and_an_empty_form_is_answered_beside_its_fields(
    browser: Browser, node: tuple[Server, Path], tmp_path: Path
) -> None:
    server, data_dir = node
    phone = new_visit(browser, server.base, phone=True)
    page = phone.page()
    _official(page, data_dir)
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], "the upload page scrolls sideways on a phone"
    checked(page, phone)
    before = _counts(data_dir)
    page.get_by_role("button", name="上传并检查").click()
    expect(page.locator("#error-type")).to_have_text("请选择记录类型。")
    expect(page.locator("#error-file")).to_have_text("请选择要上传的文件。")
    expect(page.get_by_label("记录类型")).to_have_attribute("aria-invalid", "true")
    assert _counts(data_dir) == before
    checked(page, phone)
    phone.context.close()


def test_an_import_that_fails_after_its_confirmation_says_why_and_issues_nothing(
    browser: Browser, node: tuple[Server, Path]
) -> None:
    server, data_dir = node
    visit = new_visit(browser, server.base)
    page = visit.page()
    _official(page, data_dir)
    rows = [_row(n, 课程名称=f"改动后的文件第{n}期") for n in range(5)]
    _upload(page, "改动.xlsx", _xlsx(rows))
    expect(page).to_have_url(re.compile(r"/console/import/imp-[0-9a-f]{32}$"))
    identifier = page.url.rsplit("/", 1)[1]
    confirm = page.get_by_role("button", name="确认并签发 5 条记录")
    expect(confirm).to_be_visible(timeout=30_000)  # checked
    # The file kept on the node changes after its check (a disk fault, a hand):
    (kept,) = (data_dir / "imports" / identifier).glob("*.xlsx")
    kept.write_bytes(_xlsx(rows[:4]))
    before = _counts(data_dir)
    confirm.click()
    expect(page.locator("#failed")).to_contain_text("导入失败：未签发任何记录。", timeout=30_000)
    expect(page.locator("#failed")).to_contain_text("文件在检查后被改动")
    assert _counts(data_dir)[:3] == before[:3]
    assert not kept.exists()  # the file with its ID numbers is not kept
    checked(page, visit)
    page.get_by_role("link", name="English").click()
    expect(page.locator("#failed")).to_contain_text("the file changed after it was checked")
    visit.context.close()
