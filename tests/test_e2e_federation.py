"""Four real nodes, one per authority, each a `registry serve` process with its own
database (a PostgreSQL database each in the throwaway cluster, or SQLite), built by
`registry demo federation`'s own code: records issued on one node are verified,
searched and changed as seen from the others; a stopped node's records are still
answered for, then caught up; every checkpoint is cosigned by the other members'
witnesses, witnessed with one of them down and not with two; a fork is caught by
every follower and refused by every witness, with evidence that verifies; and no node
holds another authority's private key."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select

from devtools.ports import free_ports
from registry.calendar import add_years, china_today
from registry.demo import DEMO_ENGINEERS
from registry.demo.network import DemoNode, run_federation, start_nodes, stop_nodes, wait_mirrored
from registry.demo.synthetic import credit_code, resident_id
from registry.federation import verify_evidence
from registry.federation.cosigning import witnessed
from registry.storage.db import engine_scope, session_scope
from registry.storage.models import WitnessState
from registry.tlog.checkpoint import Checkpoint, parse_checkpoint, sign_note
from registry.tlog.merkle import node_hash
from registry.tlog.sequencer import newest_checkpoint
from registry.trust.document import digest_of, parse_trust_list
from registry.verification.offline import check_file
from tests._federation import log_signer, postgresql_databases
from tests._support import REGISTRY
from tests._verifying import failures

CODES = ("CN-SH", "CN-JS", "CN-ZJ", "CN-AH")
WAIT = 60.0
CHEN = next(e for e in DEMO_ENGINEERS if e.name == "陈静")


@pytest.fixture
def databases(db_url: str, request: pytest.FixtureRequest) -> Iterator[dict[str, str] | None]:
    """A database per node: on PostgreSQL one each in the throwaway cluster; on SQLite
    each node's own file in its data directory (None: the default)."""
    if db_url.startswith("sqlite"):
        yield None
        return
    with postgresql_databases(db_url, request, len(CODES)) as urls:
        yield dict(zip(CODES, urls, strict=True))


@pytest.fixture
def federation(databases: dict[str, str] | None, tmp_path: Path) -> Iterator[dict[str, DemoNode]]:
    nodes, _ = run_federation(
        free_ports(4),
        tmp_path / "federation",
        say=lambda _message: None,
        database_urls=databases,
        follow_interval=0.5,
        environment={"REGISTRY_FEDERATION_STALE_SECONDS": "2"},
    )
    try:
        yield {node.code: node for node in nodes}
    finally:
        stop_nodes(nodes)


def _until(what: str, check: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + WAIT
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"not within {WAIT:.0f} s: {what}")
        time.sleep(0.2)


def _call(node: DemoNode, role: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
    token = node.tokens[role]
    return httpx.request(
        method,
        f"{node.url}{path}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
        **kwargs,
    )


def _issue(node: DemoNode, body: dict[str, Any]) -> dict[str, Any]:
    answer = _call(node, f"issuer:{node.code}", "POST", "/v1/credentials", json=body)
    assert answer.status_code == 201, answer.text
    credential: dict[str, Any] = answer.json()["credential"]
    return credential


def _report(node: DemoNode, number: str, name: str, region: str) -> dict[str, Any]:
    answer = _call(
        node,
        "verifier",
        "POST",
        "/v1/verify/engineer",
        json={"registration_number": number, "name": name, "region": region},
    )
    assert answer.status_code == 200, answer.text
    report: dict[str, Any] = answer.json()
    return report


def _verdict(report: dict[str, Any]) -> str:
    return str(report["credentialSubject"]["verdict"])


def _no_foreign_private_key(nodes: dict[str, DemoNode]) -> None:
    for code, node in nodes.items():
        keys = sorted((node.settings.data_dir / "keys").iterdir())
        assert keys, f"{code} holds no key"
        for path in keys:
            assert path.name.startswith(f"{code}-"), f"{code}'s node holds {path.name}"
            assert b"ENCRYPTED PRIVATE KEY" in path.read_bytes()
        for path in node.settings.data_dir.rglob("*"):
            if path.is_file() and path.parent.name != "keys" and path.suffix != ".sqlite3":
                assert b"PRIVATE KEY" not in path.read_bytes(), path


def test_four_nodes_each_with_its_own_keys_answer_for_every_member(
    federation: dict[str, DemoNode], tmp_path: Path
) -> None:
    sh, js, zj, ah = (federation[code] for code in CODES)
    _no_foreign_private_key(federation)
    today = china_today()

    # A qualification and a registration issued on Jiangsu's node, CE hours on
    # Zhejiang's: Shanghai's node signs a qualified report that counts the hours.
    holder = {"name": "周明远", "id_number": resident_id("320102", "19880516", "301")}
    _issue(
        js,
        {
            "type": "SafetyEngineerQualification",
            "authority": "CN-JS",
            "holder": holder,
            "certificate_number": "JS-2026-J-0901",
            "category": "chemical",
            "issued_on": (today - timedelta(days=60)).isoformat(),
        },
    )
    _issue(
        js,
        {
            "type": "SafetyEngineerRegistration",
            "authority": "CN-JS",
            "holder": holder,
            "registration_number": "JS-REG-2026-0901",
            "qualification": "JS-2026-J-0901",
            "category": "chemical",
            "employer": {
                "name": "江苏某化工有限公司",
                "credit_code": credit_code("91320900MA1Q50901"),
            },
            "kind": "initial",
            "valid_from": today.isoformat(),
            "valid_until": (add_years(today, 5) - timedelta(days=1)).isoformat(),
        },
    )
    hours = _issue(
        zj,
        {
            "type": "ContinuingEducationCredit",
            "authority": "CN-ZJ",
            "holder": holder,
            "course_title": "危险化学品重大危险源管理",
            "provider": {
                "name": "浙江省应急管理科学研究院",
                "credit_code": credit_code("12330000MB1B3000A"),
            },
            "hours": 16,
            "kind": "professional",
            "completed_on": (today - timedelta(days=1)).isoformat(),
        },
    )

    def counted() -> dict[str, Any] | None:
        report = _report(sh, "JS-REG-2026-0901", "周明远", "CN-JS")
        return report if hours["id"] in json.dumps(report) else None

    report = _until("Shanghai's node counts Zhejiang's hours", counted)
    assert _verdict(report) == "qualified"

    # A listing made on Anhui's node is found by a search on Zhejiang's.
    company = credit_code("91340600MA2T70901")
    listing = _issue(
        ah,
        {
            "type": "UntrustworthinessListing",
            "authority": "CN-AH",
            "listed": {
                "kind": "organisation",
                "name": "安徽某矿业有限公司",
                "credit_code": company,
            },
            "legal_basis": "《安全生产严重失信主体名单管理办法》（应急管理部令第11号）第六条",
            "penalty_decision_number": "皖应急罚〔2026〕901号",
            "listing_decision_number": "皖应急失信〔2026〕901号",
            "listed_on": (today - timedelta(days=2)).isoformat(),
            "measures": ["依法依规实施联合惩戒"],
        },
    )

    def found() -> bool:
        answer = _call(
            zj, "enforcement", "POST", "/v1/blacklist/search", json={"credit_code": company}
        )
        assert answer.status_code == 200, answer.text
        return listing["id"] in answer.text

    _until("Zhejiang's node finds Anhui's listing", found)

    # A suspension on Shanghai's node changes the verdict on the others.
    shanghai = _report(js, "SH-REG-1002", "陈静", "CN-SH")
    assert _verdict(shanghai) == "qualified"
    registration = _registration_id(shanghai)
    suspended = _call(
        sh,
        "issuer:CN-SH",
        "POST",
        f"/v1/credentials/{registration}/status",
        json={
            "action": "suspend",
            "reason": "暂停执业接受调查",
            "decision_number": "沪应急注〔2026〕901号",
            "effective_on": today.isoformat(),
        },
    )
    assert suspended.status_code == 201, suspended.text
    for node in (js, zj, ah):
        _until(
            f"{node.code}'s node sees the suspension",
            partial(_suspended_on, node),
        )

    # Shanghai's newest checkpoint is cosigned by the three other members' witnesses.
    _until("Shanghai's checkpoint has three cosignatures", partial(_cosigned_by, sh, CODES[1:]))
    # Every follower holds it witnessed too, and serves it so.
    for node in (js, zj, ah):
        _until(
            f"{node.code}'s node serves Shanghai's checkpoint witnessed",
            partial(_mirror_witnessed, node, sh),
        )

    # Anhui's node stops: the others still answer for its records, say how old its
    # data is, and catch up when it returns.
    stop_nodes([ah])

    def _stale_on_shanghai() -> dict[str, Any] | None:
        report = _report(sh, "AH-REG-1008", "周涛", "CN-AH")
        codes = [reason["code"] for reason in report["credentialSubject"]["reasons"]]
        return report if "mirror-stale" in codes else None

    status = _until("Shanghai's node finds Anhui's node unreachable", lambda: _peer(sh, "CN-AH"))
    assert status["state"] == "unreachable"
    anhui = _until("Shanghai's node says Anhui's records are not current", _stale_on_shanghai)
    assert _verdict(anhui) == "qualified"  # from the mirror, as it last stood
    logs = {log["authority"]: log for log in anhui["credentialSubject"]["logs"]}
    assert logs["CN-AH"]["current"] is False
    assert logs["CN-AH"]["mirrored"] is True
    # With Anhui's witness down, Shanghai's next checkpoint is still witnessed (2 of 3);
    # with Zhejiang's down too, the one after is not (1 of 3).
    _issue(sh, _hours("CN-SH", "安全生产法律法规", today))
    _, needed = _until(
        "Shanghai's checkpoint is cosigned by two", partial(_cosigned_by, sh, ("CN-JS", "CN-ZJ"))
    )
    assert needed == 2
    stop_nodes([zj])
    # A listing naming 陈静, which her report then relies on.
    listing = _issue(
        sh,
        {
            "type": "UntrustworthinessListing",
            "authority": "CN-SH",
            "listed": {"kind": "person", "name": "陈静", "id_number": CHEN.id_number},
            "legal_basis": "《安全生产严重失信主体名单管理办法》（应急管理部令第11号）第六条",
            "penalty_decision_number": "沪应急罚〔2026〕903号",
            "listing_decision_number": "沪应急失信〔2026〕903号",
            "listed_on": today.isoformat(),
            "measures": ["依法依规实施联合惩戒"],
        },
    )
    cosigners, needed = _until(
        "Shanghai's checkpoint is cosigned by one", partial(_cosigned_by, sh, ("CN-JS",))
    )
    assert len(cosigners) < needed
    # Shanghai's report proves the listing at that checkpoint and says it is not yet
    # witnessed; the report holds offline, as it says so; the listing's proof bundle
    # alone is refused.
    chen = _report(sh, "SH-REG-1002", "陈静", "CN-SH")["credentialSubject"]
    assert listing["id"] in [found["id"] for found in chen["listings"]]
    assert "not-yet-witnessed" in [reason["code"] for reason in chen["reasons"]]
    shanghai = next(log for log in chen["logs"] if log["authority"] == "CN-SH")
    assert (shanghai["witnessed"], shanghai["cosignatures"]) == (False, 1)
    assert _offline(sh, _report(sh, "SH-REG-1002", "陈静", "CN-SH")) == []
    bundle = _call(sh, "verifier", "GET", f"/v1/credentials/{listing['id']}/proof").json()
    assert bundle["witnessed"] is False
    assert any("below the witness policy" in f for f in _offline(sh, bundle))
    start_nodes([zj, ah], tmp_path / "federation")
    # Once the witnesses are back, the same question gets a witnessed answer.
    _until("Shanghai's report is witnessed again", partial(_witnessed_report, sh))
    _issue(
        ah,
        {
            "type": "UntrustworthinessListing",
            "authority": "CN-AH",
            "listed": {
                "kind": "organisation",
                "name": "安徽某建材有限公司",
                "credit_code": credit_code("91340600MA2T70902"),
            },
            "legal_basis": "《安全生产严重失信主体名单管理办法》（应急管理部令第11号）第六条",
            "penalty_decision_number": "皖应急罚〔2026〕902号",
            "listing_decision_number": "皖应急失信〔2026〕902号",
            "listed_on": today.isoformat(),
            "measures": ["依法依规实施联合惩戒"],
        },
    )
    wait_mirrored(list(federation.values()), timeout=WAIT)

    # Jiangsu's node re-signs its newest checkpoint over another tree (its log
    # rewritten): every follower stops following it and keeps evidence that verifies,
    # and every witness, having cosigned the real one, refuses it and keeps the same.
    _until(
        "Jiangsu's checkpoint has three cosignatures",
        partial(_cosigned_by, js, ("CN-SH", "CN-ZJ", "CN-AH")),
    )
    stop_nodes([js])
    _fork(js)
    start_nodes([js], tmp_path / "federation")
    for node in (sh, zj, ah):
        conflict = _until(
            f"{node.code}'s witness refuses the fork", partial(_witness_conflict, node, js)
        )
        assert "two roots" in verify_evidence(json.loads(conflict))
    for node in (sh, zj, ah):
        _until(
            f"{node.code}'s node finds Jiangsu's log forked",
            partial(_peer, node, "CN-JS", state="forked"),
        )
        answer = _call(node, "admin", "GET", "/v1/federation/evidence/CN-JS")
        assert answer.status_code == 200, answer.text
        for evidence in answer.json()["evidence"]:
            assert "two roots" in verify_evidence(evidence)
    exported = tmp_path / "fork.json"
    env = {
        **os.environ,
        "REGISTRY_DATA_DIR": str(zj.settings.data_dir),
        "REGISTRY_DATABASE_URL": zj.settings.database_url,
    }
    for command in (
        ["federation", "evidence", "export", "CN-JS", "--out", str(exported)],
        ["federation", "evidence", "verify", str(exported)],
    ):
        done = subprocess.run(
            [str(REGISTRY), *command],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
    assert "fork proven" in done.stdout
    _no_foreign_private_key(federation)


def _hours(authority: str, course: str, today: Any) -> dict[str, Any]:
    return {
        "type": "ContinuingEducationCredit",
        "authority": authority,
        "holder": {"name": "周明远", "id_number": resident_id("320102", "19880516", "301")},
        "course_title": course,
        "provider": {
            "name": "上海市安全生产科学研究所",
            "credit_code": credit_code("12310000MB0P10008"),
        },
        "hours": 8,
        "kind": "professional",
        "completed_on": (today - timedelta(days=1)).isoformat(),
    }


def _offline(node: DemoNode, document: dict[str, Any]) -> list[str]:
    """What `registry verify` finds failing in ``document``, with the trust list as
    ``node`` publishes it."""
    chain = httpx.get(f"{node.url}/v1/trust-list/chain", timeout=5).json()
    checked = check_file(document, trust_lists=chain, genesis=digest_of(chain[0]), demo=True)
    return failures(checked)


def _witnessed_report(node: DemoNode) -> dict[str, Any] | None:
    report = _report(node, "SH-REG-1002", "陈静", "CN-SH")
    logs = report["credentialSubject"]["logs"]
    return report if all(log["witnessed"] for log in logs) else None


def _cosigned_by(node: DemoNode, codes: tuple[str, ...]) -> tuple[dict[str, int], int] | None:
    """The witnesses that cosigned the newest checkpoint the node serves of its own
    log, and how many the policy needs, once they are exactly ``codes``."""
    note = httpx.get(f"{node.url}/v1/logs/{node.code}/checkpoint", timeout=5).text
    trust = parse_trust_list(httpx.get(f"{node.url}/v1/trust-list", timeout=5).json())
    cosigners, needed = witnessed(trust, node.code, note)
    return (cosigners, needed) if sorted(cosigners) == sorted(codes) else None


def _mirror_witnessed(node: DemoNode, origin: DemoNode) -> tuple[dict[str, int], int] | None:
    """The witnesses whose cosignatures of ``origin``'s newest checkpoint the node
    serves of its mirror, and how many the policy needs, once it has that many."""
    newest = httpx.get(f"{origin.url}/v1/logs/{origin.code}/checkpoint", timeout=5).text
    note = httpx.get(f"{node.url}/v1/logs/{origin.code}/checkpoint", timeout=5).text
    if note.split("\n\n", 1)[0] != newest.split("\n\n", 1)[0]:
        return None  # not that checkpoint yet
    trust = parse_trust_list(httpx.get(f"{node.url}/v1/trust-list", timeout=5).json())
    cosigners, needed = witnessed(trust, origin.code, note)
    return (cosigners, needed) if len(cosigners) >= needed else None


def _witness_conflict(witness: DemoNode, log: DemoNode) -> str | None:
    """The evidence the witness kept of a checkpoint of ``log``'s it refused."""
    with engine_scope(witness.settings.database_url) as engine, session_scope(engine) as session:
        for state in session.exec(select(WitnessState)):
            if state.authority_code == log.code and state.conflict is not None:
                return state.conflict
    return None


def _suspended_on(node: DemoNode) -> bool:
    return _verdict(_report(node, "SH-REG-1002", "陈静", "CN-SH")) != "qualified"


def _registration_id(report: dict[str, Any]) -> str:
    subject = report["credentialSubject"]
    return str(subject["registration"]["id"])


def _peer(node: DemoNode, code: str, state: str = "unreachable") -> dict[str, Any] | None:
    answer = _call(node, "admin", "GET", "/v1/federation/status")
    assert answer.status_code == 200, answer.text
    for peer in answer.json()["peers"]:
        if peer["authority"] == code and peer["state"] == state:
            return dict(peer)
    return None


def _fork(node: DemoNode) -> None:
    """Re-sign the node's newest checkpoint over another root, with its own log key."""
    with engine_scope(node.settings.database_url) as engine, session_scope(engine) as session:
        newest = newest_checkpoint(session, node.code)
        assert newest is not None
        real = parse_checkpoint(newest.note.split("\n\n", 1)[0] + "\n")
        other = Checkpoint(real.origin, real.size, node_hash(b"f" * 32, b"k" * 32))
        newest.note = sign_note(
            other.text(),
            real.origin,
            log_signer(node.settings, node.code),
            timestamp=int(time.time()),
        )
        newest.root = other.root
        session.add(newest)
