"""An employer's history of verifications, on both databases: a report kept byte for
byte, a list's progress and results, each company's own only, paged newest first."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from registry.accounts import create_user
from registry.crypto.jcs import canonical_bytes
from registry.errors import InvalidInput, NotFound
from registry.storage.db import session_scope
from registry.verification.history import (
    STALLED_AFTER,
    batch_progress,
    company_history,
    company_verification,
    finish_batch,
    keep_report,
    list_state,
    start_batch,
    stop_batch,
)

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
OURS, THEIRS = "91310000MA1FL3KQ0X", "91320000MA1N2B3C4D"


def _report(name: str, verdict: str = "qualified", *, holds: bool = True) -> bytes:
    subject = {
        "holder": {"name": name, "identifier": {"masked": "3101**********0217"}},
        "verdict": verdict,
        "reasons": [{"code": "registration", "holds": holds}],
        "query": {"name": name},
    }
    return canonical_bytes(
        {"type": ["VerifiableCredential", "VerificationReport"], "credentialSubject": subject}
    )


def test_a_company_keeps_its_reports_and_sees_only_its_own(engine: Engine) -> None:
    with session_scope(engine) as session:
        hr, _ = create_user(session, "hr.one", role="verifier", company_code=OURS)
        other, _ = create_user(session, "hr.two", role="verifier", company_code=THEIRS)
        admin, _ = create_user(session, "chief", role="admin")
        first = keep_report(session, hr, _report("王立新"), at=T0)
        second = keep_report(
            session, hr, _report("赵强", holds=False), at=T0 + timedelta(minutes=1)
        )
        keep_report(session, other, _report("陈静", "not-qualified"), at=T0)
        with pytest.raises(InvalidInput):
            keep_report(session, admin, _report("张伟"), at=T0)
        ids = first.id, second.id
    with session_scope(engine) as session:
        kept = company_verification(session, OURS, ids[0] or 0)
        assert kept.document == _report("王立新").decode()  # byte for byte
        assert (kept.name, kept.verdict, kept.state) == ("王立新", "qualified", "done")
        # Another company's is answered as one that does not exist.
        with pytest.raises(NotFound):
            company_verification(session, THEIRS, ids[0] or 0)
        with pytest.raises(NotFound):
            company_verification(session, OURS, 10_000)
        page = company_history(session, OURS, per_page=1)
        assert (page.total, page.pages, page.page) == (2, 2, 1)
        newest, by = page.entries[0]
        assert (newest.name, newest.verdict, by) == ("赵强", "attention", "hr.one")
        older = company_history(session, OURS, page=2, per_page=1).entries
        assert [e.name for e, _ in older] == ["王立新"]
        assert company_history(session, OURS, page=3, per_page=1).entries == []
        assert [e.verdict for e, _ in company_history(session, THEIRS).entries] == ["not-qualified"]


def test_a_list_reports_its_progress_then_its_results_or_that_it_failed(
    engine: Engine,
) -> None:
    with session_scope(engine) as session:
        hr, _ = create_user(session, "hr.one", role="verifier", company_code=OURS)
        done = start_batch(session, hr, name="名单.xlsx", rows=3, at=T0)
        failed = start_batch(session, hr, name="另一份.csv", rows=2, at=T0)
        stalled = start_batch(session, hr, name="断了.csv", rows=2, at=T0)
        ids = done.id or 0, failed.id or 0, stalled.id or 0
    batch_progress(engine, ids[0], 2, at=T0 + timedelta(seconds=5))
    with session_scope(engine) as session:
        kept = company_verification(session, OURS, ids[0])
        assert (kept.kind, kept.state, kept.done, kept.rows) == ("batch", "running", 2, 3)
    results = [{"row": n, "verdict": "qualified", "masked": "3101**********0217"} for n in range(3)]
    finish_batch(engine, ids[0], results, at=T0 + timedelta(seconds=9))
    stop_batch(engine, ids[1], at=T0 + timedelta(seconds=9))
    with session_scope(engine) as session:
        kept = company_verification(session, OURS, ids[0])
        assert (kept.state, kept.done) == ("done", 3)
        assert json.loads(kept.document or "[]") == results
        assert company_verification(session, OURS, ids[1]).state == "failed"
        # A list said to be running that has not moved for long was cut short.
        left = company_verification(session, OURS, ids[2])
        assert list_state(left, now=T0 + STALLED_AFTER / 2) == "running"
        assert list_state(left, now=T0 + STALLED_AFTER + timedelta(seconds=1)) == "failed"
