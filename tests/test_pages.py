"""The pages' foundation in a real browser against a real node: Chinese first and
English one click away, a phone's screen and a keyboard alone, signing in and out,
lock-out, forms that did not come from the page refused, the API reference, axe-core's
check on each page, and nothing fetched from anywhere but the node."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests._browser import (
    Visit,
    checked,
    demo_node,
    demo_users,
    new_visit,
    screenshot,
    sign_in,
)
from tests._servers import Server


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path]]:
    """One demo node on SQLite for the module (``make run``'s shape); the lock-out
    comes after 3 refusals and waits no time between tries, so a test can reach it."""
    settings = {"REGISTRY_SIGN_IN_DELAY_SECONDS": "0", "REGISTRY_SIGN_IN_LOCK_AFTER": "3"}
    with demo_node(tmp_path_factory.mktemp("pages"), settings) as found:
        yield found


def test_the_front_page_is_chinese_first_and_english_one_click_away(
    visit: Visit, tmp_path: Path
) -> None:
    page = visit.page()
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_role("heading", level=1)).to_have_text("长三角注册安全工程师登记系统")
    checked(page, visit)
    screenshot(page, "home-zh", tmp_path)
    page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Yangtze River Delta safety-engineer registry"
    )
    # Remembered by this browser: the next page is in English too, and back again.
    page.goto("/sign-in")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    checked(page, visit)
    page.get_by_role("link", name="中文").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("登录")
    assert page.url.endswith("/sign-in")


def test_the_front_page_fits_a_phone(
    browser: Browser, node: tuple[Server, Path], tmp_path: Path
) -> None:
    phone = new_visit(browser, node[0].base, phone=True)
    page = phone.page()
    page.goto("/")
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], "the page scrolls sideways on a phone"
    checked(page, phone)
    screenshot(page, "home-phone", tmp_path)
    phone.context.close()


def test_signing_in_and_out_with_the_keyboard_alone(
    visit: Visit, node: tuple[Server, Path], tmp_path: Path
) -> None:
    _, data_dir = node
    hr = demo_users(data_dir)["verifier"]
    page = visit.page()
    page.goto("/desk")
    expect(page).to_have_url(re.compile(r"/sign-in\?next=/desk$"))
    checked(page, visit)
    screenshot(page, "sign-in", tmp_path)
    # Tab from the top of the page to the form, type, press Enter.
    for _ in range(20):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.id") == "username":
            break
    else:
        pytest.fail("the user name field cannot be reached with Tab")
    page.keyboard.type(hr["username"])
    page.keyboard.press("Tab")
    page.keyboard.type(hr["password"])
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/desk$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("我的工作台")
    expect(page.get_by_text("您好，人事 王芳")).to_be_visible()
    cookie = next(c for c in visit.context.cookies() if c["name"] == "registry_session")
    assert cookie["httpOnly"]
    assert cookie["sameSite"] == "Lax"
    checked(page, visit)
    page.get_by_role("button", name="退出").click()
    expect(page).to_have_url(re.compile(r"/$"))
    page.goto("/desk")
    expect(page).to_have_url(re.compile(r"/sign-in"))
    with sqlite3.connect(data_dir / "registry.sqlite3") as db:
        outcomes = [row[0] for row in db.execute(
            "SELECT outcome FROM sign_in_event WHERE username = ? ORDER BY id", (hr["username"],)
        )]  # fmt: skip
    assert outcomes[-2:] == ["signed-in", "signed-out"]


def test_a_wrong_password_then_the_lock_out(
    visit: Visit, node: tuple[Server, Path], tmp_path: Path
) -> None:
    _, data_dir = node
    inspector = demo_users(data_dir)["enforcement"]
    page = visit.page()
    sign_in(page, inspector["username"], "not the password")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("用户名或密码不正确")
    checked(page, visit)
    sign_in(page, "no-such-person", "not the password")
    expect(page.get_by_role("alert")).to_contain_text("用户名或密码不正确")
    for _ in range(2):
        sign_in(page, inspector["username"], "not the password")
    expect(page.get_by_role("alert")).to_contain_text("账号已暂时锁定")
    screenshot(page, "sign-in-locked", tmp_path)
    # Locked: the right password does not get in either.
    sign_in(page, inspector["username"], inspector["password"])
    expect(page.get_by_role("alert")).to_contain_text("账号已暂时锁定")
    assert not any(c["name"] == "registry_session" for c in visit.context.cookies())


def test_a_form_posted_without_its_token_is_refused_and_changes_nothing(
    visit: Visit, node: tuple[Server, Path]
) -> None:
    server, data_dir = node
    admin = demo_users(data_dir)["admin"]
    page = visit.page()
    page.goto("/sign-in")
    # What another site's page could make this browser send: the cookies go along,
    # the token cannot.
    status = page.evaluate(
        """async ([username, password]) => {
            const body = new URLSearchParams({username, password, next: '/desk'});
            const answer = await fetch('/sign-in', {method: 'POST', body, redirect: 'manual'});
            return answer.status;
        }""",
        [admin["username"], admin["password"]],
    )
    assert status == 403
    assert not any(c["name"] == "registry_session" for c in visit.context.cookies())
    # A token made for another browser's cookie is refused too.
    other = httpx.get(f"{server.base}/sign-in")
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', other.text)
    assert token is not None
    answer = httpx.post(
        f"{server.base}/sign-in",
        data={"username": admin["username"], "password": admin["password"], "csrf_token": token[1]},
    )
    assert answer.status_code == 403
    assert "registry_session" not in answer.headers.get("set-cookie", "")
    assert "表单已过期" in answer.text
    with sqlite3.connect(data_dir / "registry.sqlite3") as db:
        tried = db.execute(
            "SELECT count(*) FROM sign_in_event WHERE username = ?", (admin["username"],)
        ).fetchone()[0]
    assert tried == 0


def test_the_api_reference_is_served_by_the_node(visit: Visit, tmp_path: Path) -> None:
    page = visit.page()
    page.goto("/docs")
    expect(page.get_by_role("heading", level=1)).to_have_text("接口文档")
    operation = page.locator("details.operation", has_text="/v1/verify/engineer").first
    operation.locator("summary").click()
    expect(operation.get_by_role("table").first).to_be_visible()
    checked(page, visit)
    screenshot(page, "api-reference", tmp_path)
    # The explorer, to try the API, with Swagger UI's assets from the node too.
    page.get_by_role("link", name="在接口调试页中试用（页面较大）").click()
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("safety-engineer registry")
    assert visit.elsewhere() == []
