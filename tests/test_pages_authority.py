"""The authority's console in a real browser against a real node: the official's
listings with their days and the actions allowed today; the trust list and an open
proposal described in words, signed from the page (confirmed, recorded, verified,
and a second signature harmless); an agreement proposal signed likewise; the
federation's page, on a phone. axe-core's check on each page, and nothing fetched
from anywhere but the node. Every state of a followed log is rendered from
constructed status data, below the browser."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import pytest
from playwright.sync_api import Browser, Page, expect

from registry.calendar import china_today
from registry.crypto.eddsa_jcs_2022 import proofs_of
from registry.datadir import DataDir
from registry.demo import DEMO_LISTED_ORGANISATIONS
from registry.enforcement.own_listings import own_listing
from registry.recognition import Agreement, Direction, RecordKind
from registry.recognition import agreements as workflow
from registry.recognition.pending import pending_agreement
from registry.settings import Settings
from registry.storage.db import engine_scope, session_scope
from registry.storage.models import ForkEvidenceRow, PeerLog
from registry.trust.chain import quorum_report
from registry.trust.document import Quorum, WitnessPolicy
from registry.trust.proposals import (
    Changes,
    open_proposal,
    proposal_document,
    propose,
    sign_proposal,
)
from registry.trust.store import NodeProfile, current_version
from tests._browser import (
    Visit,
    checked,
    demo_node,
    new_visit,
    screenshot,
    sign_in_as,
)
from tests._servers import Server
from web.authority_views import peer_rows
from web.i18n import translate
from web.render import templates

AGREEMENT = Agreement(
    id="urn:uuid:5e1f0c3a-7d2b-4f6e-8a90-00000000a11e",
    parties=frozenset({"CN-AH", "CN-SH"}),
    direction=Direction.MUTUAL,
    kinds=frozenset({RecordKind.CONTINUING_EDUCATION}),
    levels=frozenset({"junior"}),
    valid_from=date(2027, 1, 1),
    basis_number="沪皖应急〔2026〕8号",
    basis_title="沪皖注册安全工程师继续教育学时互认协议",
)


OTHERS = dataclasses.replace(
    AGREEMENT,
    id="urn:uuid:5e1f0c3a-7d2b-4f6e-8a90-00000000a12f",
    parties=frozenset({"CN-JS", "CN-ZJ"}),
    basis_number="苏浙应急〔2026〕9号",
    basis_title="苏浙注册安全工程师继续教育学时互认协议",
)


def _url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'registry.sqlite3'}"


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path]]:
    """One demo node on SQLite for the module, with a trust-list proposal (a fixed
    quorum and witness policy) and an agreement proposal open, as the CLI opens them."""
    settings = {"REGISTRY_SIGN_IN_DELAY_SECONDS": "0"}
    with demo_node(tmp_path_factory.mktemp("authority"), settings) as found:
        with engine_scope(_url(found[1])) as engine, session_scope(engine) as session:
            changes = Changes(quorum=Quorum(count=3), witness_policy=WitnessPolicy(count=3))
            propose(session, changes, profile=NodeProfile("registry.yrd.example", found[0].base))
            workflow.propose(session, AGREEMENT, proposer="CN-AH")
            workflow.propose(session, OTHERS, proposer="CN-JS")
        yield found


def _official(page: Page, data_dir: Path, next_path: str) -> None:
    sign_in_as(page, data_dir, "issuer:CN-SH", next_path)


def test_the_official_sees_the_listings_with_their_days_and_actions(
    visit: Visit, node: tuple[Server, Path], tmp_path: Path
) -> None:
    _, data_dir = node
    name, code = DEMO_LISTED_ORGANISATIONS["CN-SH"]
    page = visit.page()
    _official(page, data_dir, "/console/listings")
    expect(page.get_by_role("heading", level=1)).to_have_text("安全生产严重失信主体名单")
    row = page.locator("#listings tbody tr", has_text=name)
    expect(row).to_contain_text(code)
    expect(row).to_contain_text("在名单中")
    # Listed 200 days ago: credit repair not yet, a correction or a withdrawal only.
    expect(row).to_contain_text("更正")
    expect(row).to_contain_text("撤回列入")
    expect(row).not_to_contain_text("信用修复")
    checked(page, visit)
    screenshot(page, "console-authority-listings", tmp_path)
    # By credit code, by a word of the principal's name; nothing by another's.
    page.get_by_label("名称或统一社会信用代码").fill(code)
    page.get_by_role("button", name="查询", exact=True).click()
    expect(page.locator("#result-count")).to_contain_text("共 1 条")
    page.get_by_label("名称或统一社会信用代码").fill("孙某")
    page.get_by_role("button", name="查询", exact=True).click()
    expect(page.locator("#result-count")).to_contain_text("共 1 条")
    page.get_by_label("名称或统一社会信用代码").fill("苏州")
    page.get_by_role("button", name="查询", exact=True).click()
    expect(page.locator("#result-count")).to_have_text("本机关没有符合条件的列入记录。")
    # A credit code with letters none has: the field says so, in Chinese.
    page.get_by_label("名称或统一社会信用代码").fill("91310000OOOOOOOOO1")
    page.get_by_role("button", name="查询", exact=True).click()
    expect(page.locator("#error-q")).to_contain_text("18 位统一社会信用代码")
    checked(page, visit)
    # The listing's own page: the days, what is allowed now, the decision, the history.
    page.goto("/console/listings")
    page.get_by_role("link", name=name).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    expect(page.locator("#days tr.now")).to_contain_text("列入日期")
    expect(page.locator("#days")).to_contain_text("可申请信用修复日期")
    expect(page.get_by_role("link", name=re.compile("^在记录页面更正"))).to_have_attribute(
        "href", re.compile(r"^/console/records/urn%3Auuid%3A")
    )
    expect(page.get_by_text("沪应急失信〔")).to_be_visible()
    expect(page.get_by_text("列入以来没有变更。")).to_be_visible()
    checked(page, visit)
    screenshot(page, "console-authority-listing", tmp_path)
    listing_url = page.url

    # Credit repair is not allowed yet: asked for anyway, refused, nothing signed.
    refused = page.goto(listing_url + "/change?action=lift")
    assert refused is not None
    assert refused.status == 409
    expect(page.locator("#change-errors")).to_contain_text("依法今日不能对该列入作此变更。")
    # A withdrawal from a later day: its details checked, shown, then signed.
    page.goto(listing_url)
    page.get_by_role("link", name="撤回列入（行政处罚决定被撤销）").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("撤回列入（行政处罚决定被撤销）")
    checked(page, visit)
    page.get_by_role("button", name="签署前核对").click()
    expect(page.locator("#error-reason")).to_be_visible()
    expect(page.locator("#error-decision_number")).to_be_visible()
    later = china_today(datetime.now(UTC)) + timedelta(days=30)
    page.get_by_label("原因").fill("行政复议决定撤销原行政处罚决定")
    page.get_by_label("决定文书号").fill("沪应急复〔2026〕2号")
    page.get_by_label("生效日期").fill(later.isoformat())
    page.get_by_role("button", name="签署前核对").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("确认变更")
    expect(page.locator("#to-sign")).to_contain_text("沪应急复〔2026〕2号")
    expect(page.locator("#to-sign")).to_contain_text("预定")
    checked(page, visit)
    screenshot(page, "console-authority-listing-confirm", tmp_path)
    page.get_by_role("button", name="签名并记录").click()
    expect(page.locator("#done")).to_have_text("变更已签名并记入本机关日志。")
    expect(page.locator("#history")).to_contain_text("沪应急复〔2026〕2号")
    expect(page.locator(".lead")).to_contain_text("在名单中")  # until that day
    with engine_scope(_url(data_dir)) as engine, session_scope(engine) as session:
        credential_id = unquote(listing_url.rsplit("/", 1)[1])
        [change] = own_listing(session, "CN-SH", credential_id, on=later).changes
        assert (change.action, change.effective_on) == ("withdraw", later)
        assert own_listing(session, "CN-SH", credential_id, on=later).status.status == ("withdrawn")

    assert page.goto("/console/listings/urn:uuid:nothing") is not None
    expect(page.get_by_text("本机关没有作出此列入决定。")).to_be_visible()


def test_the_official_signs_a_trust_list_proposal_and_an_agreement(
    visit: Visit, node: tuple[Server, Path], tmp_path: Path
) -> None:
    _, data_dir = node
    page = visit.page()
    _official(page, data_dir, "/console/trust")
    changes = page.locator("#proposal-changes")
    expect(changes).to_contain_text("下一版本需要 3 个成员签名")
    expect(changes).to_contain_text("检查点经其他成员中的 3 个联署即视为已见证")
    expect(page.locator("#proposal-signatures")).to_contain_text("尚无")
    expect(page.locator("#members")).to_contain_text("上海市应急管理局")
    expect(page.locator("#pending")).to_contain_text("沪皖注册安全工程师继续教育学时互认协议")
    # An agreement between two other authorities: shown, not for Shanghai to sign.
    expect(page.locator("#pending")).to_contain_text(OTHERS.basis_title)
    expect(
        page.locator("#pending").get_by_role("link", name=re.compile("审阅并签署"))
    ).to_have_count(1)
    checked(page, visit)
    screenshot(page, "console-authority-trust", tmp_path)
    token = page.locator("input[name=csrf_token]").first.get_attribute("value") or ""
    refused = page.request.post(
        f"/console/agreements/{quote(OTHERS.id, safe='')}/sign", form={"csrf_token": token}
    )
    assert refused.status == 409
    assert "本机关不在签署方之列。" in refused.text()
    # A proposal other than the one shown is never signed.
    stale = page.request.post("/console/trust/sign", form={"csrf_token": token, "digest": "0" * 64})
    assert stale.status == 409
    assert "打开本页面后提案已有变动，请重新阅读后再签署。" in stale.text()

    # The confirmation shows what will be signed; then signed, and it verifies.
    page.locator("#proposal").get_by_role("link", name="审阅并签署").click()
    expect(page).to_have_url(re.compile("/console/trust/sign$"))
    expect(page.locator("#sign-changes")).to_contain_text("下一版本需要 3 个成员签名")
    checked(page, visit)
    page.get_by_role("button", name="以上海市应急管理局名义签署").click()
    expect(page.locator("#done")).to_have_text("本机关对信任列表提案的签名已记录。")
    expect(page.locator("#proposal-signatures")).to_contain_text("上海市应急管理局")
    with engine_scope(_url(data_dir)) as engine, session_scope(engine) as session:
        document = proposal_document(open_proposal(session))
        report = quorum_report(document, previous=current_version(session))
    assert report.signers == ("CN-SH",)
    assert all(p.counted for p in report.proofs)  # the signature verifies
    # Signing twice changes nothing, and says so.
    page.goto("/console/trust/sign")
    page.get_by_role("button", name="以上海市应急管理局名义签署").click()
    expect(page.locator("#done")).to_have_text("本机关此前已签署此提案，未作任何更改。")
    with engine_scope(_url(data_dir)) as engine, session_scope(engine) as session:
        assert len(proofs_of(proposal_document(open_proposal(session)))) == 1

    # The agreement: its terms, then the signature.
    page.locator("#pending").get_by_role("link", name=re.compile("审阅并签署")).click()
    expect(page.get_by_role("heading", level=2)).to_have_text(AGREEMENT.basis_title)
    expect(page.locator("main")).to_contain_text("继续教育")
    checked(page, visit)
    page.get_by_role("button", name="以上海市应急管理局名义签署").click()
    expect(page.locator("#done")).to_have_text("本机关对协议的签名已记录。")
    expect(page.locator("#pending")).to_contain_text("本机关已签署此协议。")
    with engine_scope(_url(data_dir)) as engine, session_scope(engine) as session:
        pending = pending_agreement(session, AGREEMENT.id, at=datetime.now(UTC))
    assert (pending.signers, pending.missing) == (("CN-SH",), ("CN-AH",))
    with engine_scope(_url(data_dir)) as engine, session_scope(engine) as session:
        assert pending_agreement(session, OTHERS.id, at=datetime.now(UTC)).signers == ()
    # Two more members sign on the command line's path: the quorum is reached, and the
    # page says how the proposal is published.
    settings = Settings(data_dir=data_dir, database_url=_url(data_dir))
    with engine_scope(_url(data_dir)) as engine, session_scope(engine) as session:
        for code in ("CN-JS", "CN-ZJ"):
            sign_proposal(session, DataDir(settings).key_store(), code)
    page.goto("/console/trust")
    expect(page.locator("#proposal")).to_contain_text("已达到法定签名数，提案可以发布。")
    expect(page.locator("#proposal")).to_contain_text("registry trust publish")
    # In English, one click away.
    page.get_by_role("link", name="English").click()
    expect(page.locator("#proposal-changes")).to_contain_text(
        "The next version will need the signatures of 3 members"
    )
    expect(page.locator("#proposal-signatures")).to_contain_text("Shanghai")


def test_the_federation_page_on_a_phone(
    browser: Browser, node: tuple[Server, Path], tmp_path: Path
) -> None:
    server, data_dir = node
    visit = new_visit(browser, server.base, phone=True)
    try:
        page = visit.page()
        _official(page, data_dir, "/console/federation")
        # One node hosting every authority follows nobody; its own log is signed.
        expect(page.get_by_text("本节点自行托管所有成员的日志，不跟随其他节点。")).to_be_visible()
        expect(page.locator("#own-log")).to_contain_text("最新检查点")
        checked(page, visit)
        screenshot(page, "console-authority-federation-phone", tmp_path)
        # A member's log found forked: its row says so, and its evidence downloads.
        now = datetime.now(UTC)
        with engine_scope(_url(data_dir)) as engine, session_scope(engine) as session:
            session.add(
                PeerLog(
                    authority_code="CN-ZJ",
                    origin="registry.yrd.example/CN-ZJ",
                    state="forked",
                    tree_size=12,
                    peer_size=13,
                    last_error="two roots for size 12",
                    updated_at=now,
                )
            )
            session.flush()
            evidence = {"origin": "registry.yrd.example/CN-ZJ", "size": 12}
            session.add(
                ForkEvidenceRow(authority_code="CN-ZJ", evidence=json.dumps(evidence), found_at=now)
            )
        page.reload()
        expect(page.locator("#peers tr.peer-forked")).to_contain_text("已分叉")
        link = page.get_by_role("link", name=re.compile("^下载证据"))
        checked(page, visit)
        answer = page.request.get(str(link.get_attribute("href")))
        assert answer.status == 200
        assert answer.json() == {"authority": "CN-ZJ", "evidence": [evidence]}
        assert page.request.get("/console/federation/evidence/CN-AH").status == 404
    finally:
        visit.context.close()


def test_every_state_of_a_followed_log_reads_at_a_glance() -> None:
    now = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)

    def peer(code: str, state: str, **more: Any) -> PeerLog:
        return PeerLog(
            authority_code=code,
            origin=f"registry.yrd.example/{code}",
            state=state,
            updated_at=now - timedelta(minutes=5),
            **more,
        )

    peers = [
        peer(
            "CN-JS",
            "current",
            tree_size=120,
            peer_size=120,
            confirmed_at=now - timedelta(minutes=3),
        ),
        peer(
            "CN-ZJ", "behind", tree_size=100, peer_size=140, confirmed_at=now - timedelta(hours=5)
        ),
        peer(
            "CN-AH",
            "unreachable",
            tree_size=80,
            confirmed_at=now - timedelta(days=2),
            last_error="connection refused",
        ),
        peer("CN-SH", "forked", tree_size=60, peer_size=70, last_error="two roots for size 64"),
    ]
    rows = peer_rows(peers, now=now)
    assert [r.state for r in rows] == ["forked", "unreachable", "behind", "current"]
    html = templates.env.get_template("console/federation_peers.html").render(
        _=lambda message, **values: translate("zh", message, **values),
        in_lang=lambda zh, en: zh,
        moment=lambda value: value.strftime("%Y-%m-%d %H:%M"),
        names={"CN-JS": ("江苏省应急管理厅", "Jiangsu")},
        peers=rows,
    )
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    assert (
        "江苏省应急管理厅 registry.yrd.example/CN-JS 已同步 120 / 120 "
        "已同步；该成员最近一次确认其日志在 3 分钟 前。" in text
    )
    assert "滞后 100 / 140 落后 40 条。 最近一次确认在 5 小时 前。" in text
    assert "无法连接 80 自 2026-11-25 02:00 起无法连接。" in text
    assert "最近一次错误（2026-11-27 01:55）： connection refused" in text
    assert "已分叉 60 / 70 其日志签署了两种不可能同时成立的历史，已停止跟随。" in text
    assert 'href="/console/federation/evidence/CN-SH"' in html
    assert html.index("CN-SH") < html.index("CN-AH") < html.index("CN-ZJ") < html.index("CN-JS")
