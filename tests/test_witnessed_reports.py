"""Answers prove against witnessed checkpoints: a report and a proof bundle carry the
witnesses' cosignatures, `registry verify` refuses a checkpoint below the trust list's
witness policy (a cosignature altered, missing or by a key the list does not name,
even in a report the node signed again), and a key reported compromised at T vouches
only for what a checkpoint witnessed before T includes."""

from __future__ import annotations

import base64
import copy
import json
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api import create_app
from devtools import REGISTRY
from registry.authorities import revoke_key
from registry.crypto.keys import Ed25519Signer
from registry.demo import DEMO_ENGINEERS, DemoEngineer, credit_code
from registry.settings import Settings
from registry.storage.db import engine_scope, session_scope
from registry.tlog.checkpoint import cosign
from registry.trust.document import digest_of
from registry.trust.proposals import Changes, propose, publish, sign_proposal
from registry.trust.store import NodeProfile
from tests._support import seed_demo_node
from tests._verifying import Node, failures, resigned
from tests._witnessing import cosign_node

ENGINEERS = {e.name: e for e in DEMO_ENGINEERS}


@pytest.fixture
def node(settings: Settings) -> Iterator[Node]:
    tokens = seed_demo_node(settings)
    with TestClient(create_app(settings)) as client:
        yield Node(settings, client, tokens)


def _credit(
    node: Node, authority: str, engineer: DemoEngineer, course: str, provider: str
) -> dict[str, Any]:
    """A continuing-education credit of ``engineer`` issued now by ``authority`` (its
    provider's credit code without the check character), as the API answers it."""
    issued = node.client.post(
        "/v1/credentials",
        json={
            "type": "ContinuingEducationCredit",
            "authority": authority,
            "holder": {"name": engineer.name, "id_number": engineer.id_number},
            "course_title": course,
            "provider": {"name": "安全生产培训中心", "credit_code": credit_code(provider)},
            "hours": 8,
            "kind": "professional",
            "completed_on": (datetime.now(UTC).date() - timedelta(days=3)).isoformat(),
        },
        headers={"Authorization": f"Bearer {node.tokens[f'issuer:{authority}']}"},
    )
    assert issued.status_code == 201, issued.text
    credential: dict[str, Any] = issued.json()["credential"]
    return credential


def _split(note: str) -> tuple[str, list[str], list[str]]:
    """A checkpoint's text, its log's own signature lines and its witnesses' lines."""
    text, _, block = note.rpartition("\n\n")
    lines = block.splitlines(keepends=True)
    own = [line for line in lines if "/witness " not in line]
    return text + "\n", own, [line for line in lines if "/witness " in line]


def _jiangsu(subject: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = next(
        c for c in subject["evidence"]["checkpoints"] if c["authority"] == "CN-JS"
    )
    return found


def _altered(subject: dict[str, Any]) -> None:
    checkpoint = _jiangsu(subject)
    text, own, witnesses = _split(checkpoint["checkpoint"])
    dash, name, blob = witnesses[0].split(" ")
    raw = bytearray(base64.b64decode(blob))
    raw[-1] ^= 1
    witnesses[0] = f"{dash} {name} {base64.b64encode(bytes(raw)).decode()}\n"
    checkpoint["checkpoint"] = text + "\n" + "".join(own + witnesses)


def _missing(subject: dict[str, Any]) -> None:
    checkpoint = _jiangsu(subject)
    text, own, witnesses = _split(checkpoint["checkpoint"])
    checkpoint["checkpoint"] = text + "\n" + "".join(own + witnesses[:1])


def _unknown(subject: dict[str, Any]) -> None:
    """Two of the three cosignatures made again, under the same witness names, by keys
    the trust list does not name."""
    checkpoint = _jiangsu(subject)
    text, own, witnesses = _split(checkpoint["checkpoint"])
    forged = [
        cosign(text, line.split(" ")[1], Ed25519Signer.generate(), timestamp=int(time.time()))
        for line in witnesses[1:]
    ]
    checkpoint["checkpoint"] = text + "\n" + "".join(own + witnesses[:1] + forged)


def test_a_report_carries_witnessed_checkpoints(node: Node) -> None:
    report = node.verify(id_number=ENGINEERS["陈静"].id_number, region="CN-SH")
    subject = report["credentialSubject"]
    assert {
        (log["authority"], log["witnessed"], log["cosignatures"], log["cosignaturesRequired"])
        for log in subject["logs"]
    } == {(code, True, 3, 2) for code in ("CN-AH", "CN-JS", "CN-SH", "CN-ZJ")}
    assert "not-yet-witnessed" not in [r["code"] for r in subject["reasons"]]
    for item in subject["evidence"]["checkpoints"]:
        _, own, witnesses = _split(item["checkpoint"])
        assert len(own) == 2  # the log's signature and its timestamped cosignature
        assert len(witnesses) == 3
    checked = node.check(report)
    assert checked.holds, failures(checked)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (_altered, "the cosignature of registry.yrd.example/CN-"),
        (_missing, "witnessed ("),
        (_unknown, "not counted, by keys the trust list does not name"),
    ],
    ids=["altered", "missing", "unknown-key"],
)
def test_registry_verify_refuses_a_checkpoint_below_the_policy(
    node: Node,
    tmp_path: Path,
    change: Callable[[dict[str, Any]], None],
    expected: str,
) -> None:
    report = node.verify(id_number=ENGINEERS["陈静"].id_number, region="CN-SH")
    changed = copy.deepcopy(report)
    change(changed["credentialSubject"])
    dishonest = resigned(node, changed)
    found = failures(node.check(dishonest))
    assert found, "a checkpoint below the witness policy was accepted"
    assert any(expected in failure for failure in found), found
    assert node.check(resigned(node, report)).holds
    # And through the command a verifier runs.
    document = tmp_path / "report.json"
    document.write_text(json.dumps(dishonest, ensure_ascii=False), "utf-8")
    chain = tmp_path / "chain.json"
    chain.write_text(json.dumps(node.chain(), ensure_ascii=False), "utf-8")
    answer = subprocess.run(
        [
            *(str(REGISTRY), "verify", str(document), "--trust-list", str(chain), "--demo"),
            *("--genesis", digest_of(node.chain()[0]), "--lang", "en"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert answer.returncode != 0, answer.stdout
    assert "does not verify" in answer.stdout


def test_a_report_that_says_a_log_is_not_witnessed_must_say_why(node: Node) -> None:
    """Claiming a witnessed log unwitnessed, or leaving out the reason that says so,
    does not hold."""
    report = node.verify(id_number=ENGINEERS["陈静"].id_number, region="CN-SH")
    changed = copy.deepcopy(report)
    for log in changed["credentialSubject"]["logs"]:
        if log["authority"] == "CN-JS":
            log["witnessed"] = False
    found = failures(node.check(resigned(node, changed)))
    assert any("the report says witnessed False" in f for f in found), found


def test_a_proof_bundle_is_at_a_witnessed_checkpoint_or_refused(node: Node) -> None:
    """Just issued, a credential's bundle is at the newest checkpoint, which `registry
    verify` refuses as not yet witnessed; once the witnesses cosign, the same request
    gives a bundle that holds."""
    chen = ENGINEERS["陈静"]
    identifier = _credit(node, "CN-ZJ", chen, "危险化学品安全管理", "12330000MB0C12345")["id"]
    bundle = node.client.get(f"/v1/credentials/{identifier}/proof").json()
    assert (bundle["witnessed"], bundle["cosignatures"], bundle["cosignaturesRequired"]) == (
        False,
        0,
        2,
    )
    found = failures(node.check(bundle))
    assert len(found) == 1
    assert "below the witness policy: 0 of 2 cosignatures" in found[0]
    cosign_node(node.settings, by=["CN-SH", "CN-JS"], logs=["CN-ZJ"])
    bundle = node.client.get(f"/v1/credentials/{identifier}/proof").json()
    assert (bundle["witnessed"], bundle["cosignatures"]) == (True, 2)
    checked = node.check(bundle)
    assert checked.holds, failures(checked)


def test_a_compromised_key_vouches_only_for_what_was_witnessed_before(node: Node) -> None:
    """Shanghai's issuing key is reported compromised at T. Its records witnessed when
    the demo was seeded (before T) still count, proven at a checkpoint cosigned before
    T; a credit it signed just before T but that no witness cosigned until after T is
    set aside, with the reason, whatever date its proof claims."""
    wang = ENGINEERS["王立新"]
    credit = _credit(node, "CN-SH", wang, "重大危险源辨识与监控", "12310000425012345")
    signed_at = datetime.fromisoformat(credit["proof"]["created"])
    method = credit["proof"]["verificationMethod"]
    since = signed_at + timedelta(seconds=1)
    while datetime.now(UTC) < since + timedelta(seconds=1):
        time.sleep(0.1)
    # Witnessed only now, after T.
    cosign_node(node.settings, logs=["CN-SH"])
    with engine_scope(node.settings.database_url) as engine, session_scope(engine) as session:
        revoke_key(session, method, compromised_since=since, reason="the key file was copied")
        propose(
            session,
            Changes(revoke_keys=(method,)),
            profile=NodeProfile.from_settings(node.settings),
        )
        for code in ("CN-JS", "CN-ZJ", "CN-AH"):
            sign_proposal(session, node.context.key_store, code)
        publish(session)

    report = node.verify(id_number=wang.id_number, region="CN-SH")
    subject = report["credentialSubject"]
    (aside,) = [r for r in subject["reasons"] if r["code"] == "record-key-compromised"]
    assert credit["id"] in aside["en"]
    assert aside["decides"] is False
    counted = [c["id"] for c in subject["continuingEducation"].get("credits", [])]
    assert credit["id"] not in counted
    assert subject["registration"]["issuer"] == "CN-SH"
    assert subject["registration"]["counts"] is True
    # The registration is proven at a checkpoint of Shanghai's log witnessed before T,
    # beside the log's newest.
    sizes = {
        item["credential"]["id"]: item["treeSize"]
        for item in subject["evidence"]["credentials"]
        if item["authority"] == "CN-SH"
    }
    shanghai = [c for c in subject["evidence"]["checkpoints"] if c["authority"] == "CN-SH"]
    assert len(shanghai) == 2
    newest = max(log["treeSize"] for log in subject["logs"] if log["authority"] == "CN-SH")
    assert sizes[subject["registration"]["id"]] < newest
    checked = node.check(report)
    assert checked.holds, failures(checked)

    # Offline, the registration alone cannot show when it was logged, and fails; its
    # proof bundle is at the checkpoint witnessed before T, and holds.
    registration = next(
        item["credential"]
        for item in subject["evidence"]["credentials"]
        if item["credential"]["id"] == subject["registration"]["id"]
    )
    alone = failures(node.check(registration))
    assert any("no checkpoint shown to predate it" in f for f in alone), alone
    bundle = node.client.get(f"/v1/credentials/{registration['id']}/proof").json()
    assert bundle["treeSize"] == sizes[registration["id"]]
    checked = node.check(bundle)
    assert checked.holds, failures(checked)
    # The credit's bundle, at a checkpoint witnessed only after T, does not.
    late = failures(node.check(node.client.get(f"/v1/credentials/{credit['id']}/proof").json()))
    assert any("no checkpoint shown to predate it" in f for f in late), late
