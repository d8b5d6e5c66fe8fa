"""An employer's verifications, kept for its history.

Each verification made at an employer's desk is kept under the company's unified
social credit code: one person's signed report byte for byte as it was answered, or a
list's results once they are all judged (and its progress until then). Everyone of
the company sees its history; no one else does (``company_verification`` raises
``NotFound`` for another company's, as for one that does not exist). The short
summary a history lists is the person's name and the verdict; an ID number is kept
only as the report masks it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select, update
from sqlmodel import Session, col

from registry.errors import InvalidInput, NotFound
from registry.storage.models import DeskVerification, UserAccount

__all__ = [
    "STALLED_AFTER",
    "VERDICTS",
    "HistoryPage",
    "batch_progress",
    "company_history",
    "company_verification",
    "finish_batch",
    "keep_report",
    "list_state",
    "report_verdict",
    "start_batch",
    "stop_batch",
]

STALLED_AFTER = timedelta(minutes=10)
"""How long a list being verified may go without progress before it is taken to have
been cut short: a few hundred rows take well under a second."""

VERDICTS = ("qualified", "attention", "not-qualified", "not-found")
"""A report's verdict as a history lists it: ``attention`` is qualified with a reason
beside the verdict that does not hold (a listing whose measures do not restrict
practice, hours short, a log not confirmed lately)."""


def report_verdict(report: Mapping[str, Any]) -> str:
    """The verdict of a signed report as a history lists it (one of ``VERDICTS``)."""
    subject = report["credentialSubject"]
    if "holder" not in subject:
        return "not-found"
    if subject["verdict"] != "qualified":
        return "not-qualified"
    reasons = subject.get("reasons", [])
    if any(r.get("holds") is False for r in reasons):
        return "attention"
    return "qualified"


def _company(user: UserAccount) -> str:
    if user.company_code is None or user.id is None:
        raise InvalidInput("only an employer's account keeps a history of verifications")
    return user.company_code


def keep_report(
    session: Session, user: UserAccount, canonical: bytes, *, at: datetime
) -> DeskVerification:
    """Keep a signed report (its canonical bytes) for ``user``'s company; raises
    ``InvalidInput`` for an account of no company."""
    report = json.loads(canonical)
    subject = report["credentialSubject"]
    name = subject.get("holder", {}).get("name") or subject["query"].get("name")
    kept = DeskVerification(
        company_code=_company(user),
        user_id=user.id or 0,
        created_at=at,
        kind="engineer",
        name=name,
        verdict=report_verdict(report),
        rows=1,
        done=1,
        state="done",
        updated_at=at,
        finished_at=at,
        document=canonical.decode("utf-8"),
    )
    session.add(kept)
    session.flush()
    return kept


def start_batch(
    session: Session, user: UserAccount, *, name: str, rows: int, at: datetime
) -> DeskVerification:
    """Keep a list being verified (``name``: its file's) for ``user``'s company."""
    kept = DeskVerification(
        company_code=_company(user),
        user_id=user.id or 0,
        created_at=at,
        kind="batch",
        name=name[:200],
        rows=rows,
        done=0,
        state="running",
        updated_at=at,
    )
    session.add(kept)
    session.flush()
    return kept


def batch_progress(engine: Engine, identifier: int, done: int, *, at: datetime) -> None:
    """Say how many rows of a list are judged (a short transaction of its own)."""
    with engine.begin() as connection:
        connection.execute(
            update(DeskVerification)
            .where(col(DeskVerification.id) == identifier)
            .values(done=done, updated_at=at)
        )


def finish_batch(
    engine: Engine, identifier: int, results: Sequence[Mapping[str, Any]], *, at: datetime
) -> None:
    """Keep a list's results (each row as the batch answers it: never a whole ID number)."""
    text = json.dumps(list(results), ensure_ascii=False, separators=(",", ":"))
    with engine.begin() as connection:
        connection.execute(
            update(DeskVerification)
            .where(col(DeskVerification.id) == identifier)
            .values(
                state="done",
                done=DeskVerification.rows,
                updated_at=at,
                finished_at=at,
                document=text,
            )
        )


def stop_batch(engine: Engine, identifier: int, *, at: datetime) -> None:
    """Say a list could not be finished."""
    with engine.begin() as connection:
        connection.execute(
            update(DeskVerification)
            .where(col(DeskVerification.id) == identifier)
            .values(state="failed", updated_at=at, finished_at=at)
        )


def list_state(kept: DeskVerification, *, now: datetime) -> str:
    """A list's state as it stands: one still said to be running that has not moved
    for ``STALLED_AFTER`` was cut short (its process stopped) and is ``failed``."""
    if kept.state == "running" and now - kept.updated_at > STALLED_AFTER:
        return "failed"
    return kept.state


def company_verification(session: Session, company_code: str, identifier: int) -> DeskVerification:
    """One of the company's verifications; raises ``NotFound`` for another company's
    as for one that does not exist."""
    found = session.get(DeskVerification, identifier)
    if found is None or found.company_code != company_code:
        raise NotFound(f"no verification {identifier}")
    return found


@dataclass(frozen=True)
class HistoryPage:
    """A page of a company's verifications, newest first, with who made each."""

    entries: list[tuple[DeskVerification, str]]
    page: int
    pages: int
    total: int


def company_history(
    session: Session, company_code: str, *, page: int = 1, per_page: int = 20
) -> HistoryPage:
    """The company's verifications, newest first, ``per_page`` to a page (pages from 1;
    one past the last is empty)."""
    total = session.execute(
        select(func.count())
        .select_from(DeskVerification)
        .where(col(DeskVerification.company_code) == company_code)
    ).scalar_one()
    pages = max(1, -(-int(total) // per_page))
    page = max(1, page)
    rows = session.execute(
        select(DeskVerification, col(UserAccount.display_name))
        .join(UserAccount, col(UserAccount.id) == col(DeskVerification.user_id))
        .where(col(DeskVerification.company_code) == company_code)
        .order_by(col(DeskVerification.id).desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    return HistoryPage([(row[0], str(row[1])) for row in rows], page, pages, int(total))
