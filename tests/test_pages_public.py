"""The public pages in a real browser against a real node: looking up an engineer by
registration number and name (the state shown, a wrong pair not found, no ID number
anywhere, the limit per client address), and the public untrustworthiness list
(searched by a word of a name and by credit code, filtered by province, kind and
date, page 2, downloads as CSV and XLSX); Chinese first and English through the
switch, a phone's screen, the keyboard, axe-core's check on every page, nothing
fetched from anywhere but the node. Bad filters and forms are answered with a page
saying what to do, never a 500."""

from __future__ import annotations

import csv
import io
import re
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import openpyxl
import pytest
from playwright.sync_api import Browser, Page, expect

from api.rates import SlidingWindow
from registry.calendar import china_today
from registry.demo.records import (
    DEMO_ENGINEERS,
    DEMO_LISTED_ENGINEER,
    DEMO_LISTED_ORGANISATIONS,
    DEMO_LISTED_PERSON,
    DemoEngineer,
)
from registry.enforcement.public import COLUMNS
from registry.enforcement.public_search import PublicQuery
from registry.errors import InvalidInput
from registry.labels import (
    CATEGORY,
    LISTED_KIND,
    REGISTRATION_KIND,
    RELATED_ROLE,
    Enumeration,
)
from tests._browser import (
    Visit,
    checked,
    demo_node,
    new_visit,
    screenshot,
)
from tests._servers import Server
from web.i18n import translate
from web.render import templates

LOOKUPS_PER_MINUTE = 25
PAGE_SIZE = 3
"""The demo's list has four listings in force: two pages of three."""


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One demo node on SQLite for the module, with a low look-up limit and short pages."""
    settings = {
        "REGISTRY_PUBLIC_LOOKUPS_PER_MINUTE": str(LOOKUPS_PER_MINUTE),
        "REGISTRY_PUBLIC_LIST_PAGE_SIZE": str(PAGE_SIZE),
    }
    with demo_node(tmp_path_factory.mktemp("public-pages"), settings) as (server, _):
        yield server


def _fits(page: Page) -> None:
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], "the page scrolls sideways"


def _engineer(name: str) -> tuple[DemoEngineer, str]:
    """A demo engineer and their registration number (as the demo numbers them)."""
    for number, engineer in enumerate(DEMO_ENGINEERS):
        if engineer.name == name:
            assert engineer.registered_by is not None
            return engineer, f"{engineer.registered_by[3:]}-REG-{1001 + number}"
    raise AssertionError(name)


def _look_up(page: Page, number: str, name: str, *, english: bool = False) -> None:
    page.get_by_label("Registration number" if english else "注册编号").fill(number)
    page.get_by_label("Name" if english else "姓名", exact=True).fill(name)
    page.get_by_role("button", name="Look up" if english else "查询").click()


def _no_id_number(page: Page, engineer: DemoEngineer) -> None:
    text = page.content()
    assert engineer.id_number not in text
    # Nor the masked form the records carry.
    assert engineer.id_number[:4] + "**" not in text


# The look-up of an engineer.


def test_looking_up_an_engineer_shows_the_registration_and_its_state(
    visit: Visit, tmp_path: Path
) -> None:
    page = visit.page()
    page.goto("/")
    page.get_by_role("link", name="查询工程师").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("查询注册安全工程师")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    checked(page, visit)
    engineer, number = _engineer("王立新")
    _look_up(page, number, engineer.name)
    expect(page.locator("#verdict")).to_have_text("有效，可以执业")
    facts = page.locator("dl.facts")
    expect(facts).to_contain_text(number)
    expect(facts).to_contain_text("化工安全")
    expect(facts).to_contain_text("上海市应急管理局")
    expect(facts).to_contain_text("上海市")
    expect(facts).to_contain_text("上海华东化工有限公司")
    expect(facts).to_contain_text(re.compile(r"\d{4}年\d{1,2}月\d{1,2}日 至 \d{4}年"))
    _no_id_number(page, engineer)
    checked(page, visit)
    screenshot(page, "lookup", tmp_path)
    # 张伟's registration is suspended: the state says so, in words.
    suspended, number = _engineer("张伟")
    _look_up(page, number.lower(), suspended.name)
    expect(page.locator("#verdict")).to_have_text("暂停执业")
    expect(page.locator("#verdict")).to_have_class(re.compile(r"\bwarn\b"))
    expect(page.locator("dl.facts")).to_contain_text("江苏省应急管理厅")
    _no_id_number(page, suspended)
    checked(page, visit)


def _public_lookups(node: Server) -> list[tuple[str, str, int, int]]:
    database = node.log.parent / "data" / "registry.sqlite3"
    with sqlite3.connect(database) as db:
        rows = db.execute(
            "SELECT a.role, t.name, a.rows, a.results FROM access_audit a "
            "JOIN api_token t ON t.id = a.token_id WHERE a.action = 'public-lookup' "
            "ORDER BY a.id"
        ).fetchall()
    return [(str(r[0]), str(r[1]), int(r[2]), int(r[3])) for r in rows]


def test_a_wrong_name_or_number_is_not_found_without_saying_which(
    visit: Visit, node: Server
) -> None:
    before = len(_public_lookups(node))
    page = visit.page()
    page.goto("/lookup")
    engineer, number = _engineer("王立新")
    other, _ = _engineer("陈静")
    _look_up(page, number, other.name)
    answer = page.locator("#not-found")
    expect(answer).to_contain_text("未查到与该注册编号和姓名相符的注册")
    wrong_name = answer.inner_text()
    expect(page.locator("#verdict")).to_have_count(0)
    checked(page, visit)
    _look_up(page, "SH-REG-9999", engineer.name)
    expect(page.locator("#not-found")).to_have_text(wrong_name)
    # Nothing about whose the number is: not the holder's name, not the employer.
    main = page.locator("main").inner_text()
    assert "上海华东化工有限公司" not in main
    _look_up(page, number, "王立新新")
    expect(page.locator("#not-found")).to_have_text(wrong_name)
    # Every look-up of a person is in the access audit, the public's too; found nothing.
    assert _public_lookups(node)[before:] == [("public", "public pages", 1, 0)] * 3


def test_the_look_up_in_english_through_the_switch(visit: Visit, tmp_path: Path) -> None:
    page = visit.page()
    page.goto("/lookup")
    page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Look up a registered safety engineer"
    )
    engineer, number = _engineer("陈静")
    _look_up(page, number, engineer.name, english=True)
    expect(page.locator("#verdict")).to_have_text("In force: may practise")
    expect(page.locator("dl.facts")).to_contain_text("Construction safety")
    expect(page.locator("dl.facts")).to_contain_text("Shanghai")
    checked(page, visit)
    screenshot(page, "lookup-en", tmp_path)
    page.get_by_label("Registration number").fill("")
    page.get_by_label("Name", exact=True).fill("")
    # The browser's own check stops an empty form; the server's answers without it.
    page.evaluate("() => document.querySelector('form.stack').noValidate = true")
    page.get_by_role("button", name="Look up").click()
    expect(page.get_by_role("alert")).to_contain_text("Enter the registration number")
    expect(page.get_by_role("alert")).to_contain_text("Enter the holder's name")
    checked(page, visit)


def test_the_look_up_with_the_keyboard_alone_on_a_phone(
    browser: Browser, node: Server, tmp_path: Path
) -> None:
    phone = new_visit(browser, node.base, phone=True)
    page = phone.page()
    page.goto("/lookup")
    _fits(page)
    for _ in range(20):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.id") == "registration_number":
            break
    else:
        pytest.fail("the registration number cannot be reached with Tab")
    engineer, number = _engineer("黄磊")
    page.keyboard.type(number)
    page.keyboard.press("Tab")
    page.keyboard.type(engineer.name)
    page.keyboard.press("Enter")
    expect(page.locator("#verdict")).to_have_text("有效，可以执业")
    expect(page.locator("dl.facts")).to_contain_text("延续注册")
    _fits(page)
    checked(page, phone)
    screenshot(page, "lookup-phone", tmp_path)
    phone.context.close()


# The public untrustworthiness list.


def _names(page: Page) -> list[str]:
    return page.locator("ol.entries h3").all_inner_texts()


def test_searching_the_list_by_a_word_of_a_name_and_by_credit_code(
    visit: Visit, tmp_path: Path
) -> None:
    page = visit.page()
    page.goto("/")
    page.get_by_role("link", name="失信名单").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("安全生产严重失信主体名单")
    expect(page.locator("#result-count")).to_contain_text("共 4 条，第 1 / 2 页")
    checked(page, visit)
    company, code = DEMO_LISTED_ENGINEER[1], DEMO_LISTED_ENGINEER[2]
    page.get_by_label("单位名称或姓名").fill("矿业")
    page.keyboard.press("Enter")  # the keyboard alone sends the search
    expect(page).to_have_url(re.compile(r"/blacklist\?q=%E7%9F%BF%E4%B8%9A"))
    assert sorted(_names(page)) == sorted([company, DEMO_LISTED_ORGANISATIONS["CN-AH"][0]])
    entry = page.locator("article.entry").filter(has_text=company)
    expect(entry).to_contain_text(code)
    expect(entry).to_contain_text("浙江省应急管理厅")
    expect(entry).to_contain_text("应急管理部令第11号")
    expect(entry).to_contain_text("浙应急失信")
    expect(entry).to_contain_text("依法依规实施联合惩戒")
    expect(entry).to_contain_text("直接责任人员")
    expect(entry).to_contain_text(re.compile(r"最早可申请移出日期\s*\d{4}年"))
    checked(page, visit)
    screenshot(page, "blacklist", tmp_path)
    # Bookmarked: the same address gives the same result.
    bookmarked = page.url
    page.goto("/blacklist")
    page.goto(bookmarked)
    expect(page.get_by_label("单位名称或姓名")).to_have_value("矿业")
    assert len(_names(page)) == 2
    page.get_by_label("单位名称或姓名").fill("")
    page.get_by_label("统一社会信用代码").fill(code.lower())
    page.get_by_role("button", name="查询").click()
    assert _names(page) == [company]
    # A code that is not one: said in words, the field marked.
    page.get_by_label("统一社会信用代码").fill("91331100MA2L9001")
    page.get_by_role("button", name="查询").click()
    expect(page.get_by_role("alert")).to_contain_text("统一社会信用代码为18位")
    expect(page.get_by_label("统一社会信用代码")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("ol.entries")).to_have_count(0)
    checked(page, visit)
    screenshot(page, "blacklist-invalid-code", tmp_path)


def test_filtering_by_province_kind_and_date_and_paging(visit: Visit, tmp_path: Path) -> None:
    page = visit.page()
    page.goto("/blacklist")
    page.get_by_label("决定机关").select_option("CN-JS")
    page.get_by_label("主体类型", exact=True).select_option("person")
    page.get_by_role("button", name="查询").click()
    assert _names(page) == [DEMO_LISTED_PERSON[0]]
    entry = page.locator("article.entry")
    expect(entry).to_contain_text("身份证号码（脱敏）")
    expect(entry).to_contain_text(re.compile(r"\d{4}\*+\d{3}[\dX]"))
    assert DEMO_LISTED_PERSON[1] not in page.content()
    expect(page.get_by_label("决定机关")).to_have_value("CN-JS")
    checked(page, visit)
    # Organisations of Shanghai: the listed one only.
    page.get_by_label("决定机关").select_option("CN-SH")
    page.get_by_label("主体类型", exact=True).select_option("organisation")
    page.get_by_role("button", name="查询").click()
    assert _names(page) == [DEMO_LISTED_ORGANISATIONS["CN-SH"][0]]
    # Listed within the last 150 days: Zhejiang's (120 days ago) and Anhui's (30).
    page.goto("/blacklist")
    today = china_today()
    page.get_by_label("列入日期从").fill((today - timedelta(days=150)).isoformat())
    page.get_by_label("列入日期至").fill(today.isoformat())
    page.get_by_role("button", name="查询").click()
    assert sorted(_names(page)) == sorted(
        [DEMO_LISTED_ENGINEER[1], DEMO_LISTED_ORGANISATIONS["CN-AH"][0]]
    )
    # The whole list: two pages of three, oldest listing first.
    page.goto("/blacklist")
    first = _names(page)
    assert len(first) == PAGE_SIZE
    pages = page.get_by_role("navigation", name="分页")
    expect(pages.locator("[aria-current=page]")).to_have_text("1")
    pages.get_by_role("link", name="下一页").click()
    expect(page).to_have_url(re.compile(r"page=2"))
    expect(page.locator("#result-count")).to_contain_text("第 2 / 2 页")
    second = _names(page)
    assert len(second) == 1
    assert set(first).isdisjoint(second)
    assert DEMO_LISTED_ORGANISATIONS["CN-AH"][0] in second
    expect(page.get_by_role("navigation", name="分页").locator("[aria-current=page]")).to_have_text(
        "2"
    )
    expect(page.locator("ol.entries")).to_have_attribute("start", str(PAGE_SIZE + 1))
    checked(page, visit)
    screenshot(page, "blacklist-page-2", tmp_path)
    page.get_by_role("link", name="上一页").click()
    assert _names(page) == first


def test_downloading_the_result_as_csv_and_xlsx(visit: Visit) -> None:
    page = visit.page()
    page.goto("/blacklist?q=矿业")
    with page.expect_download() as info:
        page.get_by_role("link", name="CSV 文件").click()
    download = info.value
    assert download.suggested_filename.endswith("-search.csv")
    text = Path(download.path()).read_bytes().decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    headers = [header for _, header in COLUMNS]
    assert rows[0] == headers
    by_name = {row[2]: row for row in rows[1:]}
    assert sorted(by_name) == sorted(
        [DEMO_LISTED_ENGINEER[1], DEMO_LISTED_ORGANISATIONS["CN-AH"][0]]
    )
    assert by_name[DEMO_LISTED_ENGINEER[1]][0] == "浙江省"
    assert by_name[DEMO_LISTED_ENGINEER[1]][3] == DEMO_LISTED_ENGINEER[2]
    with page.expect_download() as info:
        page.get_by_role("link", name="Excel 文件（XLSX）").click()
    download = info.value
    assert download.suggested_filename.endswith("-search.xlsx")
    book = openpyxl.load_workbook(io.BytesIO(Path(download.path()).read_bytes()))
    sheet = book.active
    assert sheet is not None
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values[0] == headers
    assert sorted(str(row[2]) for row in values[1:]) == sorted(by_name)
    # The whole list, as the public API gives it.
    page.goto("/blacklist")
    with page.expect_download() as info:
        page.get_by_role("link", name="CSV 文件").click()
    everything = Path(info.value.path()).read_bytes()
    assert info.value.suggested_filename.startswith("untrustworthiness-list-")
    assert not info.value.suggested_filename.endswith("-search.csv")
    assert len(list(csv.reader(io.StringIO(everything.decode("utf-8-sig"))))) == 1 + 4
    assert everything == httpx.get(f"{visit.base}/v1/blacklist/public?format=csv").content
    assert visit.elsewhere() == []


def test_the_list_in_english_on_a_phone(browser: Browser, node: Server, tmp_path: Path) -> None:
    phone = new_visit(browser, node.base, phone=True)
    page = phone.page()
    page.goto("/blacklist?kind=organisation")
    page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page).to_have_url(re.compile(r"/blacklist\?kind=organisation$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Production-safety untrustworthiness list"
    )
    expect(page.locator("#result-count")).to_contain_text("3 found, page 1 of 1")
    expect(page.locator("article.entry").first).to_contain_text("Organisation")
    _fits(page)
    checked(page, phone)
    screenshot(page, "blacklist-phone-en", tmp_path)
    page.get_by_label("Listed from").fill("2026-05-01")
    page.get_by_label("Listed until").fill("2026-04-01")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("alert")).to_contain_text("comes before")
    _fits(page)
    checked(page, phone)
    phone.context.close()


# Plain answers: bad input is a page that says what to do, never a 500.


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ({"code": "123"}, "统一社会信用代码为18位"),
        ({"code": "91331100MA2L9001IO"}, "不含I、O、S、V、Z"),
        ({"region": "CN-XX"}, "请从列表中选择决定机关"),
        ({"kind": "company"}, "主体类型请选择"),
        ({"from": "2026-02-30"}, "日期请按 年-月-日 填写"),
        ({"from": "2026-05-01", "to": "2026-04-01"}, "不能早于"),
        ({"page": "abc"}, "页码应为正整数"),
        ({"page": "0"}, "页码应为正整数"),
        ({"page": "²"}, "页码应为正整数"),
        ({"q": "一 二 三 四 五 六 七 八 九"}, "关键词最多8个"),
        ({"q": "矿" * 150}, "名称关键词过长"),
    ],
)
def test_bad_filters_are_answered_with_what_to_do(
    node: Server, query: dict[str, str], says: str
) -> None:
    answer = httpx.get(f"{node.base}/blacklist", params=query)
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("text/html")
    assert says in answer.text
    english = httpx.get(f"{node.base}/blacklist", params=query, cookies={"lang": "en"})
    assert english.status_code == 422
    assert 'role="alert"' in english.text


def test_bad_downloads_and_a_pilot_code_are_answered_in_words(node: Server) -> None:
    answer = httpx.get(f"{node.base}/blacklist/download", params={"format": "pdf"})
    assert answer.status_code == 422
    assert "下载格式只能是 CSV 或 XLSX" in answer.text
    answer = httpx.get(f"{node.base}/blacklist/download", params={"format": "csv", "to": "x"})
    assert answer.status_code == 422
    # A code whose check character fails may be an early pilot code: searched, with a word.
    code = DEMO_LISTED_ENGINEER[2]
    pilot = code[:17] + ("0" if code[17] != "0" else "1")
    answer = httpx.get(f"{node.base}/blacklist", params={"code": pilot})
    assert answer.status_code == 200
    assert "校验位不符" in answer.text
    # A province by its name or GB/T 2260 code is the list's choice of it.
    answer = httpx.get(f"{node.base}/blacklist", params={"region": "310000"})
    assert answer.status_code == 200
    assert '<option value="CN-SH" selected>' in answer.text
    assert "共 1 条" in answer.text
    # A page past the last shows the last.
    answer = httpx.get(f"{node.base}/blacklist", params={"page": "99"})
    assert answer.status_code == 200
    assert "第 2 / 2 页" in answer.text


def test_a_look_up_posted_without_its_token_is_refused(node: Server) -> None:
    engineer, number = _engineer("王立新")
    answer = httpx.post(
        f"{node.base}/lookup", data={"registration_number": number, "name": engineer.name}
    )
    assert answer.status_code == 403
    assert engineer.name not in answer.text


def test_a_look_up_too_long_to_be_one_is_answered_with_what_to_do(node: Server) -> None:
    with httpx.Client(base_url=node.base) as client:
        token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', client.get("/lookup").text)
        assert token is not None
        answer = client.post(
            "/lookup",
            data={"csrf_token": token[1], "registration_number": "SH" * 5000, "name": "王" * 5000},
        )
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("text/html")
    assert "注册编号过长" in answer.text
    assert "姓名过长" in answer.text


def test_the_public_search_and_the_window_on_their_own() -> None:
    with pytest.raises(InvalidInput) as raised:
        PublicQuery(kind="company", words=tuple("一二三四五六七八九"))
    assert {e.field for e in raised.value.errors} == {"q", "kind"}
    now = [0.0]
    window = SlidingWindow(2, seconds=60, max_clients=2, clock=lambda: now[0])
    assert window.take("a") is None
    now[0] = 10.0
    assert window.take("a") is None
    assert window.take("a") == 50  # the first use leaves the window at 60 s
    assert window.take("b") is None
    now[0] = 60.5
    assert window.take("a") is None  # one use slid out
    assert window.take("a") == 10
    # Past max_clients, the address used longest ago is forgotten.
    assert window.take("c") is None
    assert window.take("d") is None
    assert window.take("a") is None


@pytest.mark.parametrize(
    ("macro", "table"),
    [
        ("category", CATEGORY),
        ("registration_kind", REGISTRATION_KIND),
        ("party_kind", LISTED_KIND),
        ("related_role", RELATED_ROLE),
    ],
)
def test_the_pages_name_every_code_as_the_registry_labels_it(
    macro: str, table: Enumeration
) -> None:
    """Each code the records carry has its Chinese label on the pages, as
    ``registry.labels`` writes it, and an English name of its own."""
    labels = templates.env.get_template("_labels.html")
    in_chinese = {"_": lambda message, **_: translate("zh", message)}
    in_english = {"_": lambda message, **_: translate("en", message)}
    chinese = getattr(labels.make_module(in_chinese), macro)
    english = getattr(labels.make_module(in_english), macro)
    for code, label in {**table.labels, **table.retired}.items():
        assert str(chinese(code)) == label
        assert str(english(code)) not in (code, label)


# Last: the limit per client address (the module's other look-ups count towards it).


def test_too_many_look_ups_are_answered_429_with_when_to_try_again(
    visit: Visit, tmp_path: Path
) -> None:
    page = visit.page()
    page.goto("/lookup")
    engineer, number = _engineer("李娜")
    for _ in range(LOOKUPS_PER_MINUTE + 1):
        with page.expect_response(
            lambda r: r.url.endswith("/lookup") and r.request.method == "POST"
        ) as info:
            _look_up(page, number, engineer.name)
        if info.value.status == 429:
            break
        assert info.value.status == 200
    else:
        pytest.fail(f"{LOOKUPS_PER_MINUTE + 1} look-ups in a minute were all answered")
    wait = int(info.value.headers["retry-after"])
    assert 1 <= wait <= 60
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("查询过于频繁")
    expect(alert).to_contain_text(f"请 {wait} 秒后再试")
    expect(page.locator("#verdict")).to_have_count(0)
    checked(page, visit)
    screenshot(page, "lookup-too-many", tmp_path)
    # The list is published: it is not limited.
    page.goto("/blacklist")
    expect(page.locator("#result-count")).to_contain_text("共 4 条")
