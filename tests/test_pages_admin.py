"""Administration in a real browser against a real node: an administrator makes an
account (its password shown once), disables it while its person is signed in
elsewhere (whose session ends and who can no longer sign in), resets its password and
enables it again; issues a token, sees its use in the access audit (filtered, and
never with the ID number asked about) and revokes it, after which the API refuses
it; reads the node's health; axe-core's check on each page, the users' page on a
phone, and nothing fetched from anywhere but the node."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from playwright.sync_api import Browser, Page, expect

from registry.demo.records import DEMO_ENGINEERS
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

ENGINEER = DEMO_ENGINEERS[0]  # 王立新: a Shanghai qualification and registration


node = module_node("admin")


def _admin(page: Page, data_dir: Path, next_path: str) -> None:
    sign_in_as(page, data_dir, "admin", next_path)


def _secret(page: Page) -> str:
    shown = page.locator("#secret").inner_text().strip()
    assert shown
    return shown


def test_an_account_is_made_disabled_reset_and_enabled(
    browser: Browser, visit: Visit, node: tuple[Server, Path], tmp_path: Path
) -> None:
    server, data_dir = node
    page = visit.page()
    _admin(page, data_dir, "/admin/users")
    expect(page.get_by_role("heading", level=1)).to_have_text("用户")
    expect(page.locator("#accounts")).to_contain_text(demo_users(data_dir)["verifier"]["username"])
    checked(page, visit)
    screenshot(page, "admin-users", tmp_path)
    # A bad form: each problem beside its field, nothing made.
    page.get_by_label("用户名", exact=True).fill("X")
    page.get_by_label("角色", exact=True).select_option("verifier")
    page.get_by_role("button", name="创建用户并显示密码").click()
    expect(page.locator("#error-username")).to_contain_text("用户名为 3 至 64 个字符")
    expect(page.get_by_label("用户名", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#accounts")).not_to_contain_text("X")
    checked(page, visit)
    page.get_by_label("用户名", exact=True).fill("clerk.li")
    page.get_by_label("角色", exact=True).select_option("enforcement")
    page.get_by_label("显示名称").fill("李文")
    page.get_by_role("button", name="创建用户并显示密码").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("用户已创建")
    password = _secret(page)
    checked(page, visit)
    # The person signs in elsewhere.
    elsewhere = new_visit(browser, server.base)
    try:
        theirs = elsewhere.page()
        sign_in(theirs, "clerk.li", password, next_path="/desk")
        expect(theirs).to_have_url(re.compile(r"/desk$"))
        # Disabled after a confirmation: their open session ends at once.
        page.get_by_role("link", name="打开该账户").click()
        expect(page.locator("dl.facts")).to_contain_text("执法检查人员")
        expect(page.locator("dl.facts")).to_contain_text("正常")
        page.get_by_role("link", name="停用账户").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("停用 clerk.li？")
        checked(page, visit)
        page.get_by_role("button", name="停用账户").click()
        expect(page.locator("#done")).to_contain_text("账户已停用")
        expect(page.locator("dl.facts")).to_contain_text("已停用")
        checked(page, visit)
        theirs.goto("/desk")
        expect(theirs).to_have_url(re.compile(r"/sign-in\?next="))
        sign_in(theirs, "clerk.li", password, next_path="/desk")
        expect(theirs.locator("#sign-in-error")).to_contain_text("该账号已停用")
        # A new password, shown once; enabled again, the person signs in with it.
        page.get_by_role("link", name="重置密码").click()
        page.get_by_role("button", name="重置密码").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("密码已重置")
        fresh = _secret(page)
        assert fresh != password
        page.get_by_role("link", name="打开该账户").click()
        page.get_by_role("button", name="启用账户").click()
        expect(page.locator("#done")).to_contain_text("账户已重新启用")
        sign_in(theirs, "clerk.li", password, next_path="/desk")
        expect(theirs.locator("#sign-in-error")).to_be_visible()
        sign_in(theirs, "clerk.li", fresh, next_path="/desk")
        expect(theirs).to_have_url(re.compile(r"/desk$"))
    finally:
        elsewhere.context.close()
    # The administrator's own account offers no disabling.
    page.goto(f"/admin/users/{demo_users(data_dir)['admin']['username']}")
    expect(page.get_by_role("link", name="停用账户")).to_have_count(0)


def test_a_token_is_issued_used_audited_and_revoked(
    visit: Visit, node: tuple[Server, Path], tmp_path: Path
) -> None:
    server, data_dir = node
    page = visit.page()
    _admin(page, data_dir, "/admin/tokens")
    # A person's own token row is listed apart, not revocable.
    named = page.locator("#named-rows tr", has_text="hr.demo")
    expect(named).to_contain_text("用人单位（verifier）")
    expect(named.get_by_role("link", name="吊销")).to_have_count(0)
    page.get_by_label("持有人或持有系统").fill("人事系统")
    page.get_by_label("角色", exact=True).select_option("verifier")
    page.get_by_role("button", name="签发令牌并显示").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("令牌已签发")
    token = _secret(page)
    assert token.startswith("yrd_")
    checked(page, visit)
    # Reloading the page neither posts the form again nor shows the token again.
    page.reload()
    expect(page.get_by_role("heading", level=1)).to_have_text("仅显示一次")
    assert token not in page.content()
    page.goto("/admin/tokens")
    assert page.locator("table tbody tr", has_text="人事系统").count() == 1
    # A verification through the API with it: audited under the token.
    api = httpx.Client(base_url=server.base, headers={"Authorization": f"Bearer {token}"})
    with api:
        asked = {"id_number": ENGINEER.id_number, "region": "CN-SH"}
        assert api.post("/v1/verify/engineer", json=asked).status_code == 200
        page.goto("/admin/audit")
        page.get_by_label("人员或令牌").select_option(label="令牌：人事系统")
        page.get_by_label("操作", exact=True).select_option("engineer-verification")
        page.get_by_role("button", name="筛选").click()
        rows = page.locator("#trail tbody tr")
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text("令牌：人事系统")
        expect(rows.first).to_contain_text("核验一名工程师")
        assert ENGINEER.id_number not in page.content()
        checked(page, visit)
        screenshot(page, "admin-audit", tmp_path)
        # Every time the same question was asked, by its hash.
        rows.first.locator("a.mono").click()
        expect(page.get_by_label("查询条件哈希")).to_have_value(re.compile(r"^[0-9a-f]{64}$"))
        expect(page.locator("#trail tbody tr")).to_have_count(1)
        # A bad filter is named beside its field.
        page.goto("/admin/audit?from=2026-02-01&to=2026-01-01")
        expect(page.locator("#error-to")).to_contain_text("结束日期早于开始日期")
        # Revoked after a confirmation: the API refuses it from now on.
        page.goto("/admin/tokens")
        page.locator("#tokens tr", has_text="人事系统").get_by_role("link").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("吊销令牌 人事系统？")
        checked(page, visit)
        page.get_by_role("button", name="吊销令牌").click()
        expect(page.locator("#done")).to_contain_text("令牌已吊销")
        expect(page.locator("#tokens tr", has_text="人事系统")).to_contain_text("已吊销")
        checked(page, visit)
        screenshot(page, "admin-tokens", tmp_path)
        # The demo's tokens are rows on the page, never their secrets.
        demo = json.loads((data_dir / "secrets" / "demo-tokens.json").read_text("utf-8"))
        assert demo
        assert all(secret not in page.content() for secret in demo.values())
        assert api.post("/v1/verify/engineer", json=asked).status_code == 401


def test_the_health_page_shows_the_node_at_a_glance(
    visit: Visit, node: tuple[Server, Path], tmp_path: Path
) -> None:
    _, data_dir = node
    page = visit.page()
    _admin(page, data_dir, "/admin/health")
    expect(page.locator("#health-summary")).to_contain_text("可连接，已迁移到最新版本")
    expect(page.locator("#logs tbody tr")).to_have_count(4)
    expect(page.locator("#logs")).to_contain_text("上海市应急管理局")
    expect(page.locator("#keys")).to_contain_text("已保存")
    expect(page.locator("#keys")).not_to_contain_text("缺失")
    checked(page, visit)
    screenshot(page, "admin-health", tmp_path)
    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Node health")
    expect(page.locator("#health-summary")).to_contain_text("Reachable and migrated")
    checked(page, visit)


def test_the_users_page_on_a_phone(
    browser: Browser, node: tuple[Server, Path], tmp_path: Path
) -> None:
    server, data_dir = node
    phone = new_visit(browser, server.base, phone=True)
    try:
        page = phone.page()
        _admin(page, data_dir, "/admin/users")
        wide = page.evaluate("document.documentElement.scrollWidth")
        assert wide <= 390, wide
        expect(page.get_by_role("button", name="创建用户并显示密码")).to_be_visible()
        checked(page, phone)
    finally:
        phone.context.close()


@contextmanager
def _signed_in_client(server: Server, data_dir: Path) -> Iterator[tuple[str, httpx.Client]]:
    """The form token of an HTTP client signed in as the demo administrator, and the
    client."""
    with httpx.Client(base_url=server.base, cookies={"lang": "en"}, timeout=30) as client:
        yield _signed_in(client, data_dir), client


def _signed_in(client: httpx.Client, data_dir: Path) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', client.get("/sign-in").text)
    assert found is not None
    admin = demo_users(data_dir)["admin"]
    answer = client.post("/sign-in", data={**admin, "csrf_token": found[1], "next": "/admin/users"})
    assert answer.status_code == 303, answer.text
    return found[1]


def test_a_role_changes_under_the_same_token_row(node: tuple[Server, Path]) -> None:
    server, data_dir = node
    with (
        _signed_in_client(server, data_dir) as (token, client),
        sqlite3.connect(data_dir / "registry.sqlite3") as db,
    ):
        made = client.post(
            "/admin/users",
            data={"csrf_token": token, "username": "clerk.zhou", "role": "enforcement"},
        )
        assert made.status_code == 303
        assert made.headers["location"] == "/admin/shown"
        (before,) = db.execute(
            "SELECT token_id FROM user_account WHERE username = 'clerk.zhou'"
        ).fetchone()
        bad = client.post(
            "/admin/users/clerk.zhou/role",
            data={"csrf_token": token, "role": "verifier", "company_code": "123"},
        )
        assert bad.status_code == 422
        assert 'id="error-company_code"' in bad.text
        assert db.execute(
            "SELECT role FROM user_account WHERE username = 'clerk.zhou'"
        ).fetchone() == ("enforcement",)
        good = client.post(
            "/admin/users/clerk.zhou/role",
            data={
                "csrf_token": token,
                "role": "verifier",
                "company_code": "91310000MA1FL3KQ0X",
                "company_name": "某公司",
            },
        )
        assert good.status_code == 303
        assert good.headers["location"] == "/admin/users/clerk.zhou?done=role"
        row = db.execute(
            "SELECT u.role, u.company_code, u.token_id, t.role FROM user_account u "
            "JOIN api_token t ON t.id = u.token_id WHERE u.username = 'clerk.zhou'"
        ).fetchone()
        assert row == ("verifier", "91310000MA1FL3KQ0X", before, "verifier")
        # One's own role stays: refused, nothing changed.
        own = demo_users(data_dir)["admin"]["username"]
        refused = client.post(
            f"/admin/users/{own}/role", data={"csrf_token": token, "role": "enforcement"}
        )
        assert refused.status_code == 422
        assert "cannot disable their own account or change their role" in refused.text


def test_the_audit_is_paged(node: tuple[Server, Path]) -> None:
    server, data_dir = node
    tokens = json.loads((data_dir / "secrets" / "demo-tokens.json").read_text("utf-8"))
    asked = {"id_number": ENGINEER.id_number, "region": "CN-SH"}
    headers = {"Authorization": f"Bearer {tokens['verifier']}"}
    with httpx.Client(base_url=server.base, headers=headers, timeout=30) as api:
        for _ in range(51):
            assert api.post("/v1/verify/engineer", json=asked).status_code == 200
    with _signed_in_client(server, data_dir) as (_, client):
        first = client.get("/admin/audit", params={"action": "engineer-verification"})
        assert first.status_code == 200
        assert first.text.count("<tr>") - 1 == 50
        older = re.search(r'href="(/admin/audit\?[^"]*before=\d+)" rel="next"', first.text)
        assert older is not None
        rest = client.get(older[1].replace("&amp;", "&"))
        assert rest.status_code == 200
    with sqlite3.connect(data_dir / "registry.sqlite3") as db:
        (total,) = db.execute(
            "SELECT count(*) FROM access_audit WHERE action = 'engineer-verification'"
        ).fetchone()
    assert 50 < total < 100
    assert rest.text.count("<tr>") - 1 == total - 50
    assert 'rel="next"' not in rest.text
    assert ENGINEER.id_number not in first.text + rest.text
