"""A certificate's own page in Chromium against a real node: the QR code's address
opens it, the browser checks the credential itself (green), a credential tampered
with on its way shows red whatever the server says, and with the holder's disclosure
a number from an ID card is checked in the browser, never sent."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, Route, expect

from registry.demo.records import DEMO_ENGINEERS
from tests._browser import (
    Visit,
    axe_violations,
    demo_node,
    new_visit,
    screenshot,
)
from tests._servers import Server

WANG = next(e for e in DEMO_ENGINEERS if e.registered_by == "CN-SH")


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict[str, str]]]:
    with demo_node(tmp_path_factory.mktemp("certificate")) as (server, data_dir):
        saved = (data_dir / "secrets" / "demo-tokens.json").read_text(encoding="utf-8")
        yield server, json.loads(saved)


@pytest.fixture
def visit(browser: Browser, node: tuple[Server, dict[str, str]]) -> Iterator[Visit]:
    found = new_visit(browser, node[0].base)
    yield found
    found.context.close()


def _registration(node: tuple[Server, dict[str, str]]) -> str:
    server, tokens = node
    report = httpx.post(
        f"{server.base}/v1/verify/engineer",
        json={"id_number": WANG.id_number, "region": "CN-SH"},
        headers={"Authorization": f"Bearer {tokens['verifier']}"},
        timeout=30,
    ).json()
    return str(report["credentialSubject"]["registration"]["id"])


def _qr_address(server: Server, credential_id: str) -> str:
    answer = httpx.get(f"{server.base}/v1/credentials/{credential_id}/qr")
    assert answer.status_code == 200
    return answer.headers["x-qr-text"]


def _verdict(page: Page) -> str:
    check = page.locator("#check")
    expect(check).to_have_attribute("data-done", re.compile("valid|invalid"), timeout=15_000)
    return str(check.get_attribute("data-done"))


def test_the_qr_code_opens_a_page_that_checks_the_credential_in_the_browser(
    visit: Visit, node: tuple[Server, dict[str, str]], tmp_path: Path
) -> None:
    server, _ = node
    address = _qr_address(server, _registration(node))
    assert address.startswith(f"{server.base}/c/urn:uuid:")
    page = visit.page()
    page.goto(address)
    assert _verdict(page) == "valid"
    expect(page.locator("#check")).to_have_class(re.compile("good"))
    expect(page.locator("#check")).to_contain_text("真实有效")
    expect(page.get_by_text(WANG.name).first).to_be_visible()
    # What the browser checked, each named.
    page.get_by_text("核验了哪些内容").click()
    assert page.locator("#check-list li[data-ok=true]").count() >= 4
    assert page.locator("#check-list li[data-ok=false]").count() == 0
    assert axe_violations(page) == []
    assert visit.elsewhere() == []
    # The fragment (what the code is checked against) never reached the server.
    assert all("#" not in url for url in visit.asked)
    screenshot(page, "certificate", tmp_path)


def test_a_credential_changed_on_its_way_shows_red_whatever_the_server_says(
    visit: Visit, node: tuple[Server, dict[str, str]], tmp_path: Path
) -> None:
    server, _ = node
    address = _qr_address(server, _registration(node))

    def tamper(route: Route) -> None:
        answer = route.fetch()
        bundle = answer.json()
        bundle["credential"]["credentialSubject"]["holder"]["name"] = "李四"
        route.fulfill(response=answer, json=bundle)

    page = visit.page()
    page.route("**/v1/credentials/*/proof", tamper)
    page.goto(address)
    assert _verdict(page) == "invalid"
    expect(page.locator("#check")).to_have_class(re.compile("bad"))
    expect(page.locator("#check")).to_contain_text("核验未通过")
    screenshot(page, "certificate-tampered", tmp_path)


def test_the_holder_check_happens_in_the_browser(
    visit: Visit, node: tuple[Server, dict[str, str]]
) -> None:
    server, tokens = node
    registration = _registration(node)
    people = httpx.get(
        f"{server.base}/v1/credentials/{registration}/disclosures",
        headers={"Authorization": f"Bearer {tokens['issuer:CN-SH']}"},
    ).json()["disclosures"]
    address = next(p["qr_text"] for p in people if p["role"] == "holder")
    page = visit.page()
    page.goto(address)
    assert _verdict(page) == "valid"
    field = page.get_by_label("身份证号码")
    wrong = WANG.id_number[:-4] + ("1234" if not WANG.id_number.endswith("1234") else "4321")
    field.fill(wrong)
    page.get_by_role("button", name="核对").click()
    expect(page.locator("#holder-result")).to_contain_text("号码不一致")
    field.fill(WANG.id_number.lower().replace("x", "x"))
    page.get_by_role("button", name="核对").click()
    expect(page.locator("#holder-result")).to_contain_text("号码一致")
    assert axe_violations(page) == []
    # The number typed went nowhere.
    assert not any(WANG.id_number in url or wrong in url for url in visit.asked)


def test_an_unknown_certificate_is_said_to_be_unknown(visit: Visit) -> None:
    page = visit.page()
    answer = page.goto("/c/urn:uuid:00000000-0000-7000-8000-000000000000")
    assert answer is not None
    assert answer.status == 404
    expect(page.get_by_role("alert")).to_contain_text("没有这份证书")
    assert axe_violations(page) == []
