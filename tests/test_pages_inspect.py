"""The inspector's desk in a real browser against a real node: a listing found by a
word of the company's name (possible matches apart from matches), its file opened,
printed and its check exported; the company followed, a new listing of it issued and
seen on the recent changes page as new; a list of companies checked and downloaded;
the follow cancelled after its confirmation; the search on a phone. axe-core's check
on each page, and nothing fetched from anywhere but the node."""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
from pathlib import Path

import httpx
import openpyxl
from playwright.sync_api import Browser, FilePayload, Page, expect
from pypdf import PdfReader

from registry.calendar import china_today
from registry.demo import DEMO_LISTED_ORGANISATIONS
from registry.demo.records import DEMO_ENGINEERS, DEMO_LISTED_ENGINEER
from registry.demo.synthetic import credit_code
from registry.enforcement.listing_file import CHECK_TYPE
from tests._browser import (
    checked,
    demo_users,
    module_node,
    new_visit,
    screenshot,
    sign_in_as,
)
from tests._servers import Server

AH_NAME, AH_CODE = DEMO_LISTED_ORGANISATIONS["CN-AH"]  # 安徽淮北某矿业有限公司
ZJ_MINE = DEMO_LISTED_ENGINEER[1]  # 浙江丽水某矿业有限公司
CLEAN = credit_code("91310115MA1H80021")  # a company no listing names
LISTED = next(e for e in DEMO_ENGINEERS if e.name == DEMO_LISTED_ENGINEER[0])  # 赵强


node = module_node("inspect")


def _inspector(page: Page, data_dir: Path, next_path: str = "/inspect/search") -> None:
    sign_in_as(page, data_dir, "enforcement", next_path)


def _issue_listing(server: Server, data_dir: Path) -> str:
    """A new listing of the followed company, by Shanghai, through the API."""
    tokens = json.loads((data_dir / "secrets" / "demo-tokens.json").read_text(encoding="utf-8"))
    today = china_today(dt.datetime.now(dt.UTC))
    answer = httpx.post(
        f"{server.base}/v1/credentials",
        json={
            "type": "UntrustworthinessListing",
            "authority": "CN-SH",
            "listed": {"kind": "organisation", "name": AH_NAME, "credit_code": AH_CODE},
            "legal_basis": "《安全生产严重失信主体名单管理办法》（应急管理部令第11号）第六条",
            "penalty_decision_number": f"沪应急罚〔{today.year}〕77号",
            "listing_decision_number": f"沪应急失信〔{today.year}〕77号",
            "listed_on": today.isoformat(),
            "measures": ["依法依规实施联合惩戒"],
        },
        headers={"Authorization": f"Bearer {tokens['issuer:CN-SH']}"},
        timeout=30,
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["credential"]["id"])


def _audited(data_dir: Path) -> list[str]:
    with sqlite3.connect(data_dir / "registry.sqlite3") as db:
        rows = db.execute(
            "SELECT a.action FROM access_audit a JOIN user_account u ON u.token_id = a.token_id "
            "WHERE u.role = 'enforcement' ORDER BY a.id"
        ).fetchall()
    return [action for (action,) in rows]


def test_an_inspector_finds_follows_checks_and_is_told_of_a_new_listing(
    browser: Browser, node: tuple[Server, Path], tmp_path: Path
) -> None:
    server, data_dir = node
    visit = new_visit(browser, server.base)
    page = visit.page()
    _inspector(page, data_dir)
    expect(page.get_by_role("heading", level=1)).to_have_text("查询失信名单")
    expect(page.get_by_role("navigation", name="执法检查工作台")).to_be_visible()
    # A word of the name: possible matches only, none among the matches.
    page.get_by_label("单位或个人名称").fill("矿业")
    page.get_by_role("button", name="查询", exact=True).click()
    expect(page.locator("#possible")).to_contain_text(AH_NAME)
    expect(page.locator("#possible")).to_contain_text(ZJ_MINE)
    expect(page.locator("#possible article")).to_have_count(2)
    expect(page.locator("#matches")).to_have_count(0)
    expect(page.get_by_role("heading", name="可能匹配（2 条）")).to_be_visible()
    checked(page, visit)
    screenshot(page, "inspect-search", tmp_path)
    # Nothing asked: the form says why, beside it.
    page.get_by_label("单位或个人名称").fill("")
    page.get_by_role("button", name="查询", exact=True).click()
    expect(page.locator("#way-error")).to_contain_text("只填写一项")
    # By credit code: a match.
    page.get_by_label("统一社会信用代码").fill(AH_CODE)
    page.get_by_role("button", name="查询", exact=True).click()
    expect(page.locator("#matches article")).to_have_count(1)
    page.locator("#matches").get_by_role("link", name="查看列入档案").click()
    # The listing's file.
    expect(page).to_have_url(re.compile(r"/inspect/listings/urn:uuid:"))
    listing_url = page.url
    expect(page.get_by_role("heading", level=1)).to_have_text(AH_NAME)
    expect(page.locator("#listing-status")).to_contain_text("有效（列入中）")
    expect(page.locator("#decision")).to_contain_text(AH_CODE)
    expect(page.locator("#decision")).to_contain_text("安徽省应急管理厅")
    expect(page.locator("#proof")).to_contain_text("registry.yrd.example/CN-AH")
    expect(page.get_by_role("link", name=re.compile("打开其公开页面"))).to_have_attribute(
        "href", re.compile(r"^/c/urn:uuid:")
    )
    expect(page.get_by_role("button", name="打印")).to_be_visible()  # its script ran
    checked(page, visit)
    screenshot(page, "inspect-listing", tmp_path)
    page.emulate_media(media="print")
    expect(page.get_by_role("navigation", name="主导航")).to_be_hidden()
    expect(page.get_by_role("button", name="打印")).to_be_hidden()
    expect(page.locator("#checked")).to_be_visible()
    page.emulate_media(media="screen")
    with page.expect_download() as download:
        page.get_by_role("link", name="下载核查记录（JSON，可验证）").click()
    check = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert check["type"] == CHECK_TYPE
    assert check["checkedBy"]["account"] == demo_users(data_dir)["enforcement"]["username"]
    assert check["status"]["status"] == "in-force"
    assert check["credential"]["credentialSubject"]["listed"]["creditCode"] == AH_CODE
    assert check["proof"]["checkpoint"].startswith("registry.yrd.example/CN-AH\n")
    assert listing_url.endswith(check["listingId"])
    with page.expect_download() as download:
        page.get_by_role("link", name="下载核查记录（PDF）").click()
    saved_pdf = tmp_path / "check.pdf"
    download.value.save_as(saved_pdf)
    text = "".join(p.extract_text() for p in PdfReader(saved_pdf).pages)
    assert "严重失信主体名单核查记录" in text
    assert AH_NAME in text
    assert "有效（列入中）" in text
    assert AH_CODE in text
    assert "执法人员 张伟" in text
    assert check["listingId"] in text.replace("\n", "")

    # Follow the company from its file; then a new listing of it is issued.
    page.get_by_role("button", name="关注该企业").click()
    expect(page).to_have_url(re.compile(r"/inspect/following\?followed=1$"))
    expect(page.get_by_role("status")).to_contain_text("已关注该企业")
    expect(page.locator("#follows tbody tr")).to_have_count(1)
    expect(page.locator("#follows tbody tr")).to_contain_text(AH_NAME)
    # The same company again, from the form: refused beside its field, nothing added.
    page.get_by_label("统一社会信用代码").fill(AH_CODE)
    page.get_by_label("备注（可选）").fill("年度复查")
    page.get_by_role("button", name="关注", exact=True).click()
    expect(page.locator("#follow-credit_code-error")).to_have_text("已关注该企业")
    expect(page.locator("#follows tbody tr")).to_have_count(1)
    checked(page, visit)
    screenshot(page, "inspect-following", tmp_path)
    page.goto("/inspect/changes")
    expect(page.locator("#changes tbody tr")).to_have_count(1)
    expect(page.locator("#changes tr.new")).to_have_count(0)
    new_id = _issue_listing(server, data_dir)
    page.reload()
    expect(page.locator("#changes tbody tr")).to_have_count(2)
    first = page.locator("#changes tbody tr").first
    expect(first).to_have_class("new")
    expect(first).to_contain_text("新")
    expect(first).to_contain_text("上海市应急管理局")
    expect(first.get_by_role("link")).to_have_attribute("href", f"/inspect/listings/{new_id}")
    expect(page.locator("#changes-status")).to_contain_text("此后新增 1 条")
    checked(page, visit)
    screenshot(page, "inspect-changes", tmp_path)
    page.reload()  # read: no longer new
    expect(page.locator("#changes tr.new")).to_have_count(0)

    # A list of companies: listed first, then possible, invalid, clear.
    page.goto("/inspect/check-list")
    body = (
        f"统一社会信用代码,单位名称\n{CLEAN},上海某清白公司\n123,错误代码公司\n"
        f"{CLEAN},{ZJ_MINE}\n{AH_CODE},{AH_NAME}\n"
    ).encode()
    chosen: FilePayload = {"name": "companies.csv", "mimeType": "text/csv", "buffer": body}
    page.get_by_label("名单文件（.csv 或 .xlsx）").set_input_files(files=[chosen])
    page.get_by_role("button", name="上传并检查").click()
    expect(page).to_have_url(re.compile(r"/inspect/check-list/\d+$"))
    rows = page.locator("#results tbody tr")
    expect(rows).to_have_count(4)
    expect(rows.nth(0)).to_contain_text("已列入")
    expect(rows.nth(0)).to_contain_text(AH_CODE)
    expect(rows.nth(1)).to_contain_text("可能已列入")
    expect(rows.nth(2)).to_contain_text("行有误")
    expect(rows.nth(3)).to_contain_text("未列入")
    checked(page, visit)
    screenshot(page, "inspect-check-list", tmp_path)
    with page.expect_download() as download:
        page.get_by_role("link", name="下载结果（XLSX）").click()
    saved = tmp_path / "results.xlsx"
    download.value.save_as(saved)
    sheet = openpyxl.load_workbook(saved).active
    assert sheet is not None
    table = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert table[0][:4] == ["行号", "统一社会信用代码", "单位名称", "查询结果"]
    assert [row[3] for row in table[1:]] == ["已列入", "可能已列入", "行有误", "未列入"]

    # Stop following, after the confirmation: its changes are shown no more.
    page.goto("/inspect/following")
    page.get_by_role("link", name=f"取消关注 {AH_CODE}").click()
    expect(page.get_by_role("alert")).to_contain_text(AH_CODE)
    checked(page, visit)
    page.get_by_role("button", name="取消关注").click()
    expect(page.get_by_role("status")).to_contain_text("已取消关注该企业")
    expect(page.locator("#follows")).to_have_count(0)
    page.goto("/inspect/changes")
    expect(page.locator("#changes")).to_have_count(0)
    expect(page.get_by_text("您尚未关注任何企业。")).to_be_visible()
    # Every search and the check, in the access audit under the inspector's account.
    assert _audited(data_dir) == ["blacklist-search"] * 2 + ["blacklist-check"]
    visit.context.close()


def test_the_search_works_on_a_phone_and_by_id_number(
    browser: Browser, node: tuple[Server, Path], tmp_path: Path
) -> None:
    server, data_dir = node
    visit = new_visit(browser, server.base, phone=True)
    page = visit.page()
    _inspector(page, data_dir, f"/inspect/search?credit_code={DEMO_LISTED_ENGINEER[2]}")
    expect(page.locator("#matches article")).to_have_count(1)
    expect(page.locator("#matches")).to_contain_text(ZJ_MINE)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    checked(page, visit)
    screenshot(page, "inspect-search-phone", tmp_path)
    # By ID number: the person's listing is a match; the number is never shown back.
    page.get_by_label("统一社会信用代码").fill("")
    page.get_by_label("身份证号").fill(LISTED.id_number)
    page.get_by_role("button", name="查询", exact=True).click()
    expect(page.locator("#matches article")).to_have_count(1)
    expect(page.locator("#matches")).to_contain_text(ZJ_MINE)
    expect(page.locator("#matches")).to_contain_text(LISTED.name)
    expect(page.get_by_label("身份证号")).to_have_value("")
    assert LISTED.id_number not in page.content()
    assert page.url.endswith("/inspect/search")
    visit.context.close()
