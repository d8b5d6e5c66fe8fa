"""Status changes dated ahead: signed and logged at once, in effect only from their day,
cancellable before it and not after, one at a time; the status list flips on the day,
and the log audit holds throughout."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from api import create_app
from api.examples import status_change_examples
from registry.calendar import china_today
from registry.credentials.records import RegistrationIn
from registry.credentials.status_list import StatusBits
from registry.demo import DEMO_ENGINEERS
from registry.demo.synthetic import credit_code
from registry.errors import InvalidInput
from registry.issuing import IssuingContext, issue_records
from registry.issuing.scheduled import apply_due_changes
from registry.settings import Settings
from registry.storage.db import engine_scope, session_scope
from registry.storage.models import Record
from registry.verification.log_audit import audit_log
from tests._support import run_command, seed_demo_node

TODAY = china_today()
NUMBER, NAME = "SH-REG-1001", "王立新"  # a demo registration of Shanghai's
EMPLOYER = credit_code("91310104MA1FR0014")


class Node:
    """A demo node in-process, its registration SH-REG-1001, and what is asked of it."""

    def __init__(self, client: TestClient, tokens: dict[str, str], settings: Settings) -> None:
        self.client, self.tokens, self.settings = client, tokens, settings
        with self.session() as session:
            self.record = session.exec(
                select(Record.credential_id).where(col(Record.number) == NUMBER)
            ).one()

    @contextmanager
    def session(self) -> Iterator[Session]:
        with engine_scope(self.settings.database_url) as engine, session_scope(engine) as s:
            yield s

    def change(self, action: str, on: date, *, status: int = 201) -> dict[str, Any]:
        answer = self.client.post(
            f"/v1/credentials/{self.record}/status",
            json={
                "action": action,
                "reason": "未按规定参加继续教育",
                "decision_number": "沪应急注〔2026〕7号",
                "effective_on": on.isoformat(),
            },
            headers={"Authorization": f"Bearer {self.tokens['issuer:CN-SH']}"},
        )
        assert answer.status_code == status, answer.text
        result: dict[str, Any] = answer.json()
        return result

    def read(self) -> dict[str, Any]:
        answer = self.client.get(f"/v1/credentials/{self.record}")
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    def verdict(self, on: date) -> str:
        answer = self.client.post(
            "/v1/verify/engineer",
            json={
                "registration_number": NUMBER,
                "name": NAME,
                "region": "CN-SH",
                "date": on.isoformat(),
            },
            headers={"Authorization": f"Bearer {self.tokens['verifier']}"},
        )
        assert answer.status_code == 200, answer.text
        return str(answer.json()["credentialSubject"]["verdict"])

    def suspended_bit(self) -> bool:
        """The record's entry in the newest signed suspension list, as a verifier reads it."""
        entries = self.read()["credential"]["credentialStatus"]
        (entry,) = [e for e in entries if e["statusPurpose"] == "suspension"]
        url = entry["statusListCredential"].removeprefix(self.settings.node_url)
        answer = self.client.get(url)
        assert answer.status_code == 200, answer.text
        bits = StatusBits.decode(answer.json()["credentialSubject"]["encodedList"])
        return bits.get(int(entry["statusListIndex"]))

    def sweep(self, on: date) -> int:
        """The node's background sweep, run at nine in the morning of ``on`` in China."""
        with self.session() as session:
            return apply_due_changes(
                session, IssuingContext.for_node(self.settings), now=_morning(on)
            )

    def audit_holds(self, on: date) -> None:
        # Never before now: today's morning may have passed before the trust list
        # was published, and a log is audited against the list in force.
        with self.session() as session:
            report = audit_log(session, "CN-SH", at=max(_morning(on), datetime.now(UTC)))
        assert report.holds, report.findings


def _morning(day: date) -> datetime:
    return datetime.combine(day, time(1, 0), tzinfo=UTC)  # 09:00 in China


@pytest.fixture
def node(settings: Settings) -> Iterator[Node]:
    tokens = seed_demo_node(settings)
    with TestClient(create_app(settings)) as client:
        yield Node(client, tokens, settings)


def test_a_suspension_dated_ahead_holds_from_its_day_and_not_before(node: Node) -> None:
    day = TODAY + timedelta(days=10)
    assert node.verdict(day) == "qualified"
    answer = node.change("suspend", day)
    change = answer["credential"]
    assert change["credentialSubject"]["effectiveOn"] == day.isoformat()
    assert change["credentialSubject"]["state"] == "suspended"
    assert answer["state"] == "suspended"  # what the decision leads to, from its day

    # Until its day: the record is active, the list says nothing, verification qualifies.
    read = node.read()
    assert read["state"] == "active"
    assert read["scheduled_change"] == change["id"]
    assert read["changes"][-1] | {"cancelled_by": None} == {
        "id": change["id"],
        "action": "suspend",
        "state_before": "active",
        "state_after": "suspended",
        "effective_on": day.isoformat(),
        "cancelled_by": None,
    }
    assert node.verdict(TODAY) == "qualified"
    assert node.verdict(day - timedelta(days=1)) == "qualified"
    assert not node.suspended_bit()
    # From its day, verification reads it.
    assert node.verdict(day) == "not-qualified"
    assert node.verdict(day + timedelta(days=30)) == "not-qualified"
    node.audit_holds(TODAY)

    # One scheduled change at a time: another is refused, naming it.
    refused = node.change("revoke", TODAY, status=409)
    assert change["id"] in refused["detail"]
    assert day.isoformat() in refused["detail"]

    # The sweep leaves it alone before its day, and applies it on the day.
    assert node.sweep(day - timedelta(days=1)) == 0
    assert not node.suspended_bit()
    assert node.sweep(day) == 1
    assert node.suspended_bit()
    assert node.sweep(day) == 0  # once
    with node.session() as session:
        record = session.get(Record, node.record)
        assert record is not None
        assert (record.state, record.scheduled_change_id) == ("suspended", None)
    node.audit_holds(day)

    # From its day it can no longer be cancelled.
    late = node.change("cancel-scheduled", TODAY, status=409)
    assert "can no longer be cancelled" in late["detail"]
    assert change["id"] in late["detail"]


def test_a_scheduled_change_cancelled_before_its_day_never_applies(node: Node) -> None:
    day = TODAY + timedelta(days=3)
    scheduled = node.change("revoke", day)["credential"]
    # A cancellation takes effect when it is made, not ahead.
    ahead = node.change("cancel-scheduled", TODAY + timedelta(days=1), status=422)
    assert [e["field"] for e in ahead["errors"]] == ["effective_on"]

    answer = node.change("cancel-scheduled", TODAY)
    cancellation = answer["credential"]
    assert answer["state"] == "active"
    subject = cancellation["credentialSubject"]
    assert subject["action"] == "cancel-scheduled"
    assert subject["cancels"] == scheduled["id"]
    assert (subject["previousState"], subject["state"]) == ("active", "active")

    read = node.read()
    assert read["state"] == "active"
    assert read["scheduled_change"] is None
    by_id = {c["id"]: c for c in read["changes"]}
    assert by_id[scheduled["id"]]["cancelled_by"] == cancellation["id"]
    assert by_id[cancellation["id"]]["cancelled_by"] is None
    # The authority's own search tells the same history.
    found = node.client.post(
        "/v1/records/search",
        json={"number": NUMBER},
        headers={"Authorization": f"Bearer {node.tokens['issuer:CN-SH']}"},
    )
    assert found.status_code == 200, found.text
    (record,) = found.json()["records"]
    assert record["changes"] == read["changes"]

    # It never takes effect: not for verification, not for the sweep, not in the list.
    assert node.verdict(day) == "qualified"
    assert node.verdict(day + timedelta(days=100)) == "qualified"
    assert node.sweep(day) == 0
    assert not node.suspended_bit()
    again = node.change("cancel-scheduled", TODAY, status=409)
    assert "nothing is scheduled" in again["detail"]
    node.audit_holds(TODAY)
    node.audit_holds(day)

    # Another change may now be scheduled, and takes effect on its day.
    later = TODAY + timedelta(days=5)
    node.change("suspend", later)
    assert node.verdict(later) == "not-qualified"
    assert node.sweep(later) == 1
    assert node.suspended_bit()
    node.audit_holds(later)


def test_a_change_is_dated_at_most_a_year_ahead(node: Node) -> None:
    too_far = TODAY.replace(year=TODAY.year + 1) + timedelta(days=1)
    if TODAY.month == 2 and TODAY.day == 29:
        too_far = date(TODAY.year + 1, 3, 1)
    problem = node.change("suspend", too_far, status=422)
    assert [e["field"] for e in problem["errors"]] == ["effective_on"]
    assert node.read()["changes"] == []
    node.change("suspend", too_far - timedelta(days=1))
    assert node.read()["scheduled_change"] is not None


def test_registry_log_audit_holds_with_scheduled_and_cancelled_changes_and_names_a_lost_one(
    node: Node,
) -> None:
    node.change("suspend", TODAY + timedelta(days=2))
    node.change("cancel-scheduled", TODAY)
    change = node.change("revoke", TODAY + timedelta(days=7))["credential"]
    env = {
        "REGISTRY_DATA_DIR": str(node.settings.data_dir),
        "REGISTRY_DATABASE_URL": node.settings.database_url,
    }

    def audit() -> subprocess.CompletedProcess[str]:
        return run_command(["log", "audit", "CN-SH"], env)

    held = audit()
    assert held.returncode == 0, held.stderr
    assert "the log of CN-SH holds" in held.stdout
    with node.session() as session:
        record = session.get(Record, node.record)
        assert record is not None
        record.scheduled_change_id = None  # as if the projection had lost it
        session.add(record)
    broken = audit()
    assert broken.returncode == 1
    assert f"its StatusChange ({change['id']}) takes effect on" in broken.stderr
    assert "does not keep it as its scheduled change" in broken.stderr


def test_the_documented_examples_schedule_and_cancel(node: Node) -> None:
    examples = status_change_examples(TODAY)
    headers = {"Authorization": f"Bearer {node.tokens['issuer:CN-SH']}"}
    path = f"/v1/credentials/{node.record}/status"
    ahead = node.client.post(path, json=examples["suspend-ahead"]["value"], headers=headers)
    assert ahead.status_code == 201, ahead.text
    assert node.read()["scheduled_change"] == ahead.json()["credential"]["id"]
    cancelled = node.client.post(path, json=examples["cancel-scheduled"]["value"], headers=headers)
    assert cancelled.status_code == 201, cancelled.text
    assert node.read()["scheduled_change"] is None
    assert node.read()["state"] == "active"


def test_a_correction_judges_the_record_in_its_state_today(node: Node) -> None:
    # A revocation dated ahead, due but not yet applied by the sweep: issuing applies
    # it first, so a correction of the record is refused as a correction of a revoked
    # record, not as a change while another is scheduled.
    day = TODAY + timedelta(days=2)
    node.change("revoke", day)
    engineer = next(e for e in DEMO_ENGINEERS if e.name == NAME)
    correction = RegistrationIn.model_validate(
        {
            "authority": "CN-SH",
            "replaces": node.record,
            "holder": {"name": engineer.name, "id_number": engineer.id_number},
            "registration_number": NUMBER,
            "qualification": engineer.certificate_number,
            "category": engineer.category,
            "employer": {"name": "上海申安检测技术有限公司", "credit_code": EMPLOYER},
            "kind": "initial",
            "valid_from": TODAY.isoformat(),
            "valid_until": (TODAY + timedelta(days=365)).isoformat(),
        }
    )
    context = IssuingContext.for_node(node.settings)
    with pytest.raises(InvalidInput) as refused, node.session() as session:
        issue_records(session, context, [correction], now=_morning(day))
    # The correction's term began before the revocation: refused as a correction of a
    # revoked record, not by the five years that follow the revocation.
    assert [(e.field, e.message) for e in refused.value.errors] == [
        ("replaces", f"{node.record} is revoked: a final state cannot be corrected"),
    ]
    # Nothing was written: the revocation is still the sweep's to apply.
    assert node.sweep(day) == 1
    assert node.read()["state"] == "revoked"
