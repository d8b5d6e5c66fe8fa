"""The authority's console in a real browser against a real node: the official finds a
record by its registration number and by a word of the name, suspends it from a
later day (reading what will be signed before confirming), sees the change scheduled
and cancels it; issues CE hours from the form after a field error; the decisions its
state does not allow, a repeated confirmation and another authority's record, over
HTTP; axe-core's check on each page, on a phone too, and nothing fetched elsewhere."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from registry.calendar import china_today
from registry.demo import DEMO_ENGINEERS
from registry.demo.synthetic import resident_id
from tests._browser import (
    Visit,
    checked,
    module_node,
    new_visit,
    screenshot,
    sign_in_as,
)
from tests._servers import Server

REGISTRATION = "SH-REG-1001"  # 王立新's registration, of Shanghai
NEW_ID = resident_id("310101", "19900101", "001")  # well formed, typed into the form


node = module_node("records")


def _official(page: Page, data_dir: Path, next_path: str = "/console/records") -> None:
    sign_in_as(page, data_dir, "issuer:CN-SH", next_path)


def _database(data_dir: Path) -> sqlite3.Connection:
    return sqlite3.connect(data_dir / "registry.sqlite3")


def _changes(data_dir: Path, number: str) -> list[tuple[str, str | None]]:
    with _database(data_dir) as db:
        return list(
            db.execute(
                "SELECT c.action, c.cancelled_by FROM status_change c "
                "JOIN record r ON r.credential_id = c.target_id WHERE r.number = ? "
                "ORDER BY c.recorded_at",
                (number,),
            )
        )


def test_finding_a_record_and_scheduling_then_cancelling_its_suspension(
    visit: Visit, node: tuple[Server, Path], tmp_path: Path
) -> None:
    _, data_dir = node
    page = visit.page()
    _official(page, data_dir)
    expect(page.get_by_role("heading", level=1)).to_have_text("本机关的记录")
    # By registration number.
    page.get_by_label("证书编号或注册编号").fill(REGISTRATION)
    page.get_by_role("button", name="查询", exact=True).click()
    expect(page.locator("#found tbody tr")).to_have_count(1)
    expect(page.locator("#found")).to_contain_text("王立新")
    expect(page.locator("#found")).to_contain_text("3101**********0217")
    # By a word of the name: every record of the person.
    page.get_by_label("证书编号或注册编号").fill("")
    page.get_by_label("姓名或名称中的字词").fill("立新")
    page.get_by_role("button", name="查询", exact=True).click()
    expect(page.get_by_role("link", name=REGISTRATION)).to_be_visible()
    assert page.locator("#found tbody tr").count() > 1
    checked(page, visit)
    screenshot(page, "console-records", tmp_path)

    page.get_by_role("link", name=REGISTRATION).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("王立新")
    expect(page.locator("#state-today")).to_have_text("有效")
    expect(page.get_by_role("heading", name="在各地是否有效")).to_be_visible()
    expect(page.locator("#actions")).not_to_contain_text("恢复执业")  # not for an active one
    record_url = page.url
    checked(page, visit)

    # A decision without a reason, dated in the past: each problem beside its field.
    page.get_by_role("link", name="暂停执业").click()
    page.get_by_label("决定文书号").fill("沪应急注〔2026〕7号")
    page.get_by_label("生效日期").fill("2020-01-01")
    page.get_by_role("button", name="检查并显示将要签名的内容").click()
    expect(page.locator("#error-reason")).to_be_visible()
    expect(page.get_by_label("原因")).to_have_attribute("aria-invalid", "true")
    checked(page, visit)
    page.get_by_label("原因").fill("未按规定参加继续教育")
    page.get_by_role("button", name="检查并显示将要签名的内容").click()
    expect(page.locator("#error-effective_on")).to_have_text("请选择今天或以后的日期。")
    assert _changes(data_dir, REGISTRATION) == []  # nothing signed

    # From a later day: what will be signed, in words and as the document.
    later = china_today() + dt.timedelta(days=10)
    page.get_by_label("生效日期").fill(later.isoformat())
    page.get_by_role("button", name="检查并显示将要签名的内容").click()
    signed = page.locator("#what-will-be-signed")
    expect(signed).to_contain_text("有效 → 暂停执业")
    expect(signed).to_contain_text(f"{later.year}年{later.month}月{later.day}日")
    expect(signed).to_contain_text("沪应急注〔2026〕7号")
    page.get_by_text("将要签名的文书（JSON）").click()
    expect(page.locator("#document")).to_contain_text('"action": "suspend"')
    expect(page.locator("#document")).to_contain_text(f'"effectiveOn": "{later.isoformat()}"')
    checked(page, visit)
    screenshot(page, "console-record-confirm", tmp_path)
    seal = page.locator("input[name=pending]").get_attribute("value")
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    page.get_by_role("button", name="确认并签名").click()
    expect(page.locator("#done")).to_have_text("变更已签名并记入日志。")
    expect(page.locator("#scheduled")).to_contain_text("暂停执业")
    expect(page.locator("#state-today")).to_have_text("有效")  # until its day
    expect(page.locator("#history")).to_contain_text("预定")
    checked(page, visit)
    # Confirming again (a double click, the back button) signs nothing more.
    again = visit.context.request.post(
        record_url + "/change/confirm", form={"csrf_token": token or "", "pending": seal or ""}
    )
    assert again.ok
    assert _changes(data_dir, REGISTRATION) == [("suspend", None)]

    # Only the cancellation is offered now; it too is confirmed first.
    expect(page.locator("#actions a")).to_have_count(1)
    page.get_by_role("link", name="取消预定变更").click()
    page.get_by_label("原因").fill("当事人已补正材料")
    page.get_by_label("决定文书号").fill("沪应急注〔2026〕8号")
    page.get_by_role("button", name="检查并显示将要签名的内容").click()
    expect(page.locator("#cancels")).to_contain_text("暂停执业")
    page.get_by_role("button", name="确认并签名").click()
    expect(page.locator("#done")).to_be_visible()
    expect(page.locator("#scheduled")).to_have_count(0)
    expect(page.locator("#history")).to_contain_text("生效前已取消")
    expect(page.get_by_role("link", name="暂停执业")).to_be_visible()
    changes = _changes(data_dir, REGISTRATION)
    assert [action for action, _ in changes] == ["suspend", "cancel-scheduled"]
    assert changes[0][1] is not None  # the suspension names what cancelled it


def test_issuing_ce_hours_from_the_form_after_a_field_error(
    visit: Visit, node: tuple[Server, Path], tmp_path: Path
) -> None:
    _, data_dir = node
    page = visit.page()
    _official(page, data_dir, "/console/issue")
    checked(page, visit)
    page.get_by_role("link", name="继续教育学时").click()
    page.get_by_label("姓名").fill("刘洋")
    page.get_by_label("身份证号").fill(NEW_ID)
    page.get_by_label("课程").fill("危险化学品重大危险源管理")
    page.get_by_label("培训机构").fill("上海市安全生产培训中心")
    page.get_by_label("统一社会信用代码").fill("91310000MA1FL0001R")
    page.get_by_label("学时", exact=True).fill("7.3")
    page.get_by_label("学时类型").select_option("professional")
    page.get_by_label("完成日期").fill("2026-11-01")
    page.get_by_role("button", name="检查并显示将要签名的内容").click()
    expect(page.locator("#error-hours")).to_be_visible()
    expect(page.get_by_label("学时", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("课程")).to_have_value("危险化学品重大危险源管理")  # kept
    expect(page.get_by_label("身份证号")).to_have_value("")  # never typed back
    assert NEW_ID not in page.content()
    checked(page, visit)
    screenshot(page, "console-record-issue", tmp_path)

    page.get_by_label("身份证号").fill(NEW_ID)
    page.get_by_label("学时", exact=True).fill("7.5")
    page.get_by_role("button", name="检查并显示将要签名的内容").click()
    expect(page.locator("#what-will-be-signed")).to_contain_text("3101**********0012")
    expect(page.locator("#what-will-be-signed")).to_contain_text("专业")
    assert NEW_ID not in page.content()
    checked(page, visit)
    page.get_by_role("button", name="确认并签名").click()
    expect(page.locator("#done")).to_have_text("记录已签名并记入日志。")
    expect(page.locator("#record-facts")).to_contain_text("7.5")
    expect(page.locator("#state-today")).to_have_text("有效")
    expect(page.get_by_role("link", name="撤销")).to_be_visible()
    # The other kinds' forms pass the same check.
    for kind in ("qualification", "registration", "listing"):
        page.goto(f"/console/issue/{kind}")
        checked(page, visit)
    with _database(data_dir) as db:
        (count,) = db.execute(
            "SELECT count(*) FROM credential WHERE canonical LIKE ?",
            ("%危险化学品重大危险源管理%",),
        ).fetchone()
    assert count == 1


def test_decisions_the_state_forbids_and_another_authoritys_records_over_http(
    visit: Visit, node: tuple[Server, Path]
) -> None:
    _, data_dir = node
    page = visit.page()
    _official(page, data_dir)
    token = page.locator("input[name=csrf_token]").first.get_attribute("value") or ""
    with _database(data_dir) as db:
        ours = db.execute(
            "SELECT credential_id FROM record WHERE number = 'SH-REG-1002'"
        ).fetchone()[0]
        theirs = db.execute(
            "SELECT credential_id FROM record WHERE authority_code = 'CN-JS' LIMIT 1"
        ).fetchone()[0]
    request = visit.context.request
    decision = {
        "csrf_token": token,
        "reason": "注册材料弄虚作假",
        "decision_number": "沪应急注〔2026〕9号",
        "effective_on": china_today().isoformat(),
    }
    # Lifting a suspension that is not there: refused, with the reason, nothing signed.
    lifted = request.post(
        f"/console/records/{ours}/change", form={**decision, "action": "reinstate"}
    )
    assert lifted.status == 409
    assert "不能进行" in lifted.text()
    # Another authority's record is not found, for reading and for deciding.
    assert request.get(f"/console/records/{theirs}").status == 404
    refused = request.post(
        f"/console/records/{theirs}/change", form={**decision, "action": "revoke"}
    )
    assert refused.status == 404
    # A form without its token is refused.
    assert request.post(f"/console/records/{ours}/change", form={"action": "revoke"}).status == 403
    # Revoking, confirmed: final, no decision left.
    checked = request.post(f"/console/records/{ours}/change", form={**decision, "action": "revoke"})
    assert checked.status == 200
    seal = re.search(r'name="pending" value="([^"]+)"', checked.text())
    assert seal is not None
    done = request.post(
        f"/console/records/{ours}/change/confirm", form={"csrf_token": token, "pending": seal[1]}
    )
    assert done.ok
    assert "已撤销" in done.text()
    assert "该记录当前状态不允许再作决定。" in done.text()
    assert _changes(data_dir, "SH-REG-1002") == [("revoke", None)]
    # A seal altered, or confirmed for another record, is refused and changes nothing.
    other = request.post(
        f"/console/records/{theirs}/change/confirm", form={"csrf_token": token, "pending": seal[1]}
    )
    assert other.status == 404
    bent = request.post(
        f"/console/records/{ours}/change/confirm",
        form={"csrf_token": token, "pending": seal[1][:-4] + "AAAA"},
    )
    assert bent.status == 400
    assert _changes(data_dir, "SH-REG-1002") == [("revoke", None)]


def test_correcting_a_record_issues_its_correction_from_the_form_filled_in(
    visit: Visit, node: tuple[Server, Path]
) -> None:
    _, data_dir = node
    page = visit.page()
    _official(page, data_dir)
    token = page.locator("input[name=csrf_token]").first.get_attribute("value") or ""
    liu = next(e for e in DEMO_ENGINEERS if e.certificate_number == "SH-2021-Q-0003")
    with _database(data_dir) as db:
        (old,) = db.execute(
            "SELECT credential_id FROM record WHERE number = 'SH-2021-Q-0003'"
        ).fetchone()
    request = visit.context.request
    form = request.get(f"/console/issue/qualification?replaces={old}")
    assert form.ok
    filled = dict(re.findall(r'name="(\w+)"(?: [^>]*)? value="([^"]*)"', form.text()))
    assert filled["certificate_number"] == "SH-2021-Q-0003"
    assert filled["holder_name"] == liu.name
    assert "id_number" not in filled  # typed again, never filled in
    category = re.search(r'<option value="([\w-]+)" selected>', form.text())
    assert category is not None
    values = {**filled, "category": "construction", "id_number": liu.id_number}
    values["csrf_token"] = token
    checked = request.post("/console/issue/qualification", form=values)
    assert checked.status == 200, checked.text()[:500]
    assert liu.id_number not in checked.text()
    seal = re.search(r'name="pending" value="([^"]+)"', checked.text())
    assert seal is not None
    done = request.post(
        "/console/issue/qualification/confirm", form={"csrf_token": token, "pending": seal[1]}
    )
    assert done.ok
    assert "本记录更正了" in done.text()
    assert "建筑施工安全" in done.text()
    with _database(data_dir) as db:
        states = dict(
            db.execute(
                "SELECT state, count(*) FROM record WHERE number = 'SH-2021-Q-0003' GROUP BY state"
            )
        )
    assert states == {"superseded": 1, "active": 1}


def test_the_record_page_on_a_phone(
    browser: Browser, node: tuple[Server, Path], tmp_path: Path
) -> None:
    server, data_dir = node
    visit = new_visit(browser, server.base, phone=True)
    try:
        page = visit.page()
        _official(page, data_dir, "/console/records?number=SH-2019-C-0001")
        page.get_by_role("link", name="SH-2019-C-0001").click()
        expect(page.locator("#state-today")).to_be_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390
        checked(page, visit)
        screenshot(page, "console-record-phone", tmp_path)
    finally:
        visit.context.close()
