"""Changing a record's state: a signed ``StatusChange``, its status-list bits flipped,
and the new list versions, logged together in the caller's transaction. A change
dated ahead is scheduled instead, and a scheduled one can be cancelled
(``registry.issuing.scheduled``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlmodel import Session, col, select

from registry.calendar import china_today, parse_aware
from registry.credentials import CredentialType, new_credential
from registry.credentials.lifecycle import (
    Action,
    State,
    StatusChangeIn,
    latest_effective_on,
    next_state,
    status_bits,
)
from registry.errors import Conflict, FieldError, InvalidInput, NotFound
from registry.issuing.context import IssuingContext
from registry.issuing.scheduled import apply_due, cancellation, state_today
from registry.issuing.signing import sign_and_log
from registry.issuing.status_lists import StatusLists
from registry.storage.credentials import Signed, document_of, get_credential
from registry.storage.models import Record, StatusChangeRow, StoredCredential
from registry.tlog.sequencer import AppendResult, lock_log

__all__ = [
    "PlannedChange",
    "StatusChanged",
    "apply_change",
    "change_status",
    "get_record",
    "plan_change",
    "status_change_document",
]


@dataclass(frozen=True)
class StatusChanged:
    """The signed ``StatusChange``, its leaf index, the record's new state, the append."""

    credential: Signed
    leaf_index: int
    state: State
    log: AppendResult


@dataclass(frozen=True)
class PlannedChange:
    """What a decision would do to a record, checked but not signed: the state before
    and after, whether it waits for a later day, the scheduled change it cancels (and
    the terms that adds to the ``StatusChange``)."""

    record: Record
    before: State
    after: State
    scheduled: bool
    cancels: StatusChangeRow | None = None
    extra: dict[str, Any] | None = None


def get_record(session: Session, credential_id: str) -> Record:
    """The record with that credential id; raises ``NotFound``, or ``InvalidInput`` for
    a credential that has no state of its own (a status change, a status list)."""
    record = session.get(Record, credential_id)
    if record is None:
        if session.get(StoredCredential, credential_id) is not None:
            raise InvalidInput(f"{credential_id} is not a record whose state can change")
        raise NotFound(f"no record {credential_id}")
    return record


def status_change_document(
    target: Record,
    *,
    action: Action,
    before: State,
    after: State,
    reason: str,
    decision_number: str | None,
    effective_on: date,
    valid_from: datetime,
    replaced_by: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The unsigned ``StatusChange`` credential for a change of ``target`` (``extra``:
    more terms of its subject, e.g. the change a cancellation ``cancels``)."""
    subject: dict[str, Any] = {
        "id": target.credential_id,
        "credentialType": target.type,
        "action": action.value,
        "previousState": before.value,
        "state": after.value,
        "reason": reason,
        "effectiveOn": effective_on.isoformat(),
    }
    if decision_number is not None:
        subject["decisionNumber"] = decision_number
    if replaced_by is not None:
        subject["replacedBy"] = replaced_by
    subject.update(extra or {})
    return new_credential(
        type_=CredentialType.STATUS_CHANGE,
        issuer_code=target.authority_code,
        subject=subject,
        valid_from=valid_from,
    )


def apply_change(
    record: Record,
    lists: StatusLists,
    *,
    action: Action,
    after: State,
    reason: str,
    decision_number: str | None,
    effective_on: date,
    now: datetime,
    replaced_by: str | None = None,
    scheduled: bool = False,
    extra: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], StatusChangeRow]:
    """Move ``record`` to ``after``: flip its status-list bits, and build the unsigned
    ``StatusChange`` and its row (to add once the credential is stored). A
    ``scheduled`` change (effective on a later day) flips nothing yet: it becomes the
    record's scheduled change, applied on its day. Raises ``Conflict`` while the
    record has a scheduled change (cancel it first)."""
    if record.scheduled_change_id is not None:
        raise Conflict(
            f"{record.credential_id} has a change scheduled ({record.scheduled_change_id}): "
            "cancel it (cancel-scheduled) or wait for its day before deciding another"
        )
    before = State(record.state)
    if not scheduled:
        for purpose, value in status_bits(after).items():
            index = getattr(record, f"{purpose}_index")
            if index is not None:
                lists.set(purpose, index, value)
    document = status_change_document(
        record,
        action=action,
        before=before,
        after=after,
        reason=reason,
        decision_number=decision_number,
        effective_on=effective_on,
        valid_from=now,
        replaced_by=replaced_by,
        extra=extra,
    )
    row = StatusChangeRow(
        credential_id=document["id"],
        target_id=record.credential_id,
        action=action.value,
        state_before=before.value,
        state_after=after.value,
        effective_on=effective_on,
        recorded_at=now,
    )
    if scheduled:
        record.scheduled_change_id = document["id"]
    else:
        record.state = after.value
    record.updated_at = now
    return document, row


def change_status(
    session: Session,
    context: IssuingContext,
    credential_id: str,
    change: StatusChangeIn,
    *,
    now: datetime | None = None,
) -> StatusChanged:
    """Apply a decision to a record: sign and log the change and the status lists.

    A change effective on a later day (up to a year ahead) is signed and logged now
    and scheduled: the record's state and bits change on that day. ``cancel-
    scheduled`` cancels the record's scheduled change before its day. Any scheduled
    change of the authority whose day has come is applied first.

    Raises ``NotFound``, ``InvalidInput`` (a record with no states, an effective
    date more than a year ahead, a cancellation dated ahead, a date before the
    record's first day or before the last change's) or ``Conflict`` (a transition
    the law does not allow, with the reason; a change while another is scheduled;
    a cancellation with nothing scheduled, or after its day). The caller's
    transaction then writes nothing.
    """
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    record = get_record(session, credential_id)
    lock_log(session, record.authority_code, origin_prefix=context.origin_prefix)
    session.refresh(record)  # the state as of the lock, not as first read
    today = china_today(now)
    lists = StatusLists(
        session,
        record.authority_code,
        node_url=context.node_url,
        entries=context.status_list_entries,
    )
    apply_due(session, record.authority_code, lists, today=today, now=now)
    pending = (
        session.get(StatusChangeRow, record.scheduled_change_id)
        if record.scheduled_change_id
        else None
    )
    plan = _plan(session, record, change, State(record.state), pending, today=today)
    cancelled, extra, after, scheduled = plan.cancels, plan.extra, plan.after, plan.scheduled
    if cancelled is not None:
        record.scheduled_change_id = None
    document, row = apply_change(
        record,
        lists,
        action=change.action,
        after=after,
        reason=change.reason,
        decision_number=change.decision_number,
        effective_on=change.effective_on,
        now=now,
        scheduled=scheduled,
        extra=extra,
    )
    versions = lists.new_versions(now=now)
    issued = sign_and_log(
        session,
        context.key_store,
        [document, *versions],
        origin_prefix=context.origin_prefix,
        now=now,
    )
    session.add(row)
    if cancelled is not None:
        cancelled.cancelled_by = document["id"]
        session.add(cancelled)
    session.add(record)
    lists.save(now=now)
    return StatusChanged(
        credential=issued.credentials[0],
        leaf_index=issued.log.first_index,
        state=after,
        log=issued.log,
    )


def _after_the_last(session: Session, credential_id: str, effective_on: date) -> None:
    last = session.exec(
        select(StatusChangeRow)
        .where(
            col(StatusChangeRow.target_id) == credential_id,
            col(StatusChangeRow.cancelled_by).is_(None),
        )
        .order_by(col(StatusChangeRow.effective_on).desc())
        .limit(1)
    ).first()
    if last is not None and effective_on < last.effective_on:
        raise InvalidInput(
            "changes follow one another in time",
            errors=(
                FieldError(
                    "effective_on",
                    f"precedes the last change, effective {last.effective_on.isoformat()}",
                ),
            ),
        )


def _plan(
    session: Session,
    record: Record,
    change: StatusChangeIn,
    before: State,
    pending: StatusChangeRow | None,
    *,
    today: date,
) -> PlannedChange:
    """Check ``change`` against ``record`` in state ``before`` with its scheduled change
    ``pending`` (if any) on ``today``: the rules ``change_status`` states. Writes
    nothing."""
    latest = today if change.action is Action.CANCEL_SCHEDULED else latest_effective_on(today)
    if change.effective_on > latest:
        reach = "today or earlier" if latest == today else f"by {latest.isoformat()}"
        raise InvalidInput(
            f"a {change.action.value} takes effect {reach}",
            errors=(FieldError("effective_on", f"{change.effective_on} is too far ahead"),),
        )
    # A change cannot take effect before the record it changes did: its credential's
    # validFrom is the first instant of the record's first day in China.
    signed = document_of(get_credential(session, record.credential_id))
    began = china_today(parse_aware(str(signed.get("validFrom")), "validFrom"))
    if change.effective_on < began:
        raise InvalidInput(
            "a change cannot take effect before the record it changes",
            errors=(
                FieldError("effective_on", f"precedes the record's first day, {began.isoformat()}"),
            ),
        )
    if change.action is Action.CANCEL_SCHEDULED:
        cancelled, extra = cancellation(session, record, today=today)
        return PlannedChange(record, before, before, False, cancelled, extra)
    if pending is not None:
        raise Conflict(
            f"{record.credential_id} has a change scheduled for "
            f"{pending.effective_on.isoformat()} ({pending.credential_id}): cancel it "
            "(cancel-scheduled) or wait for its day before deciding another"
        )
    _after_the_last(session, record.credential_id, change.effective_on)
    after = next_state(
        record.type,
        before,
        change.action,
        effective_on=change.effective_on,
        earliest_removal_on=record.earliest_removal_on,
    )
    return PlannedChange(record, before, after, change.effective_on > today)


def plan_change(
    session: Session, credential_id: str, change: StatusChangeIn, *, today: date
) -> PlannedChange:
    """What ``change_status`` would do with ``change`` on ``today``, checked as it
    checks, without signing or writing anything: for a person to confirm before it is
    signed. The state before is the record's state on ``today`` (a scheduled change
    whose day has come counts, applied or not). Raises what ``change_status`` raises."""
    record = get_record(session, credential_id)
    pending = (
        session.get(StatusChangeRow, record.scheduled_change_id)
        if record.scheduled_change_id
        else None
    )
    before = State(state_today(record, pending, today))
    if pending is not None and pending.effective_on <= today:
        pending = None  # in effect already: nothing is scheduled any more
    return _plan(session, record, change, before, pending, today=today)
