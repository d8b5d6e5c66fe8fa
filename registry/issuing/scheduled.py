"""Status changes dated ahead: kept pending until their day, then applied; or cancelled.

A change decided now may take effect on a later day (up to a year ahead). Its signed
``StatusChange`` is issued and logged at once, with that ``effectiveOn``; everything
that judges a record on a day (verification, the blacklist, the public list) reads
the signed changes by their effective days, so it changes nothing before its day and
applies from it. What holds a record's state *now* waits for the day:

- ``record.state`` stays the state in effect; the change is the record's
  ``scheduled_change_id`` (one at most: another change is refused until it has
  taken effect or been cancelled);
- the status-list bits stay as they are, so a verifier reading the list sees no
  change before its day.

On its day (China time) the change is applied: ``record.state`` becomes its state,
its bits are flipped and new versions of the lists are signed and logged. That is
done by whoever comes first: the node's background sweep (``apply_due_changes``,
every few seconds in ``registry serve``), or any status change of the same
authority (it applies what is due before it signs list versions of its own). Readers
of a record's state now (``state_today``) count a due change whether or not it has
been applied yet.

``cancel-scheduled`` cancels the pending change before its day with a signed
``StatusChange`` of its own (``cancels``: the change's id, same state before and
after); the cancelled change's row keeps ``cancelled_by`` and no reader counts it.
From its day on it can no longer be cancelled.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from registry.authorities import hosted_codes
from registry.calendar import china_today
from registry.credentials.lifecycle import Action, State, status_bits
from registry.errors import Conflict
from registry.issuing.context import IssuingContext
from registry.issuing.signing import sign_and_log
from registry.issuing.status_lists import StatusLists
from registry.storage.models import Record, StatusChangeRow
from registry.tlog.sequencer import lock_log

__all__ = ["apply_due", "apply_due_changes", "cancellation", "due_authorities", "state_today"]


def state_today(record: Record, scheduled: StatusChangeRow | None, today: date) -> str:
    """The record's state on ``today``: its ``state``, or its scheduled change's state
    once that change's day has come (applied or not yet)."""
    if scheduled is not None and scheduled.effective_on <= today:
        return scheduled.state_after
    return record.state


def _due(
    session: Session, today: date, authority: str | None = None
) -> list[tuple[Record, StatusChangeRow]]:
    """The records with a scheduled change whose day is ``today`` or past (of one
    authority, or of all), with the change.

    The records are found through the partial index of those with a change pending.
    PostgreSQL, its statistics older than the last batch, reads the whole table
    instead (18 ms a round at 100,000 records, where the index takes microseconds), so
    that choice is taken from it for this one query."""
    # Read afresh (populate_existing): a record loaded before the log lock was taken
    # may since have had its change applied and another scheduled.
    # By the partial index alone: asked for one authority's too, PostgreSQL walks that
    # authority's every record through another index (10 ms at 100,000 records, on
    # every issuance); the few pending records are told apart here instead.
    pending = (
        select(Record)
        .where(col(Record.scheduled_change_id).is_not(None))
        .execution_options(populate_existing=True)
    )
    postgresql = session.get_bind().dialect.name == "postgresql"
    if postgresql:
        session.execute(sa.text("SET LOCAL enable_seqscan = off"))
    records = {
        r.scheduled_change_id: r
        for r in session.exec(pending)
        if authority is None or r.authority_code == authority
    }
    if postgresql:
        session.execute(sa.text("SET LOCAL enable_seqscan = on"))
    if not records:
        return []
    changes = session.exec(
        select(StatusChangeRow).where(col(StatusChangeRow.credential_id).in_(list(records)))
    )
    due = [(records[c.credential_id], c) for c in changes if c.effective_on <= today]
    return sorted(due, key=lambda pair: pair[0].credential_id)


def apply_due(
    session: Session, authority: str, lists: StatusLists, *, today: date, now: datetime
) -> int:
    """Apply every scheduled change of ``authority`` whose day is ``today`` or past:
    the record's state and its bits in ``lists`` (whose new versions the caller signs
    and saves). Runs under the authority's log lock. Returns how many."""
    applied = 0
    for record, change in _due(session, today, authority):
        for purpose, value in status_bits(State(change.state_after)).items():
            index = getattr(record, f"{purpose}_index")
            if index is not None:
                lists.set(purpose, index, value)
        record.state = change.state_after
        record.scheduled_change_id = None
        record.updated_at = now
        session.add(record)
        applied += 1
    return applied


def due_authorities(session: Session, *, now: datetime) -> list[str]:
    """The authorities this node hosts with a scheduled change whose day has come (a
    peer's, kept as a mirror, applies them itself: ``registry.federation.mirror``)."""
    found = {record.authority_code for record, _ in _due(session, china_today(now))}
    return sorted(found & set(hosted_codes(session)))


def apply_due_changes(
    session: Session,
    context: IssuingContext,
    *,
    now: datetime,
    authorities: Sequence[str] | None = None,
) -> int:
    """The sweep: apply every due scheduled change of every authority this node
    signs for (or of ``authorities``), each authority under its log lock, with the
    new versions of its status lists signed and logged. Returns how many changes were
    applied."""
    today = china_today(now)
    if authorities is None:
        authorities = due_authorities(session, now=now)
    applied = 0
    for authority in sorted(authorities):
        lock_log(session, authority, origin_prefix=context.origin_prefix)
        lists = StatusLists(
            session, authority, node_url=context.node_url, entries=context.status_list_entries
        )
        count = apply_due(session, authority, lists, today=today, now=now)
        if not count:
            continue  # applied meanwhile by another
        versions = lists.new_versions(now=now)
        if versions:
            sign_and_log(
                session, context.key_store, versions, origin_prefix=context.origin_prefix, now=now
            )
        lists.save(now=now)
        applied += count
    return applied


def cancellation(
    session: Session, record: Record, *, today: date
) -> tuple[StatusChangeRow, dict[str, Any]]:
    """The record's scheduled change, to cancel, and the ``credentialSubject`` terms
    the cancelling ``StatusChange`` adds. Raises ``Conflict`` when nothing is
    scheduled, or when the change's day has come (it has taken effect)."""
    scheduled = (
        session.get(StatusChangeRow, record.scheduled_change_id)
        if record.scheduled_change_id
        else None
    )
    if scheduled is not None and scheduled.effective_on > today:
        if scheduled.action == Action.SUPERSEDE.value:
            # Cancelled alone, it would leave two registrations in force from the
            # change's day: one employer at a time. The change registration is what
            # to correct or cancel.
            raise Conflict(
                f"the change scheduled for {record.credential_id} ({scheduled.credential_id}) "
                "supersedes it by a change registration: cancelled alone, it would leave two "
                "registrations in force; correct the change registration instead"
            )
        return scheduled, {"cancels": scheduled.credential_id}
    last = (
        scheduled
        or session.exec(
            select(StatusChangeRow)
            .where(
                col(StatusChangeRow.target_id) == record.credential_id,
                col(StatusChangeRow.cancelled_by).is_(None),
                col(StatusChangeRow.action) != Action.CANCEL_SCHEDULED.value,
            )
            .order_by(col(StatusChangeRow.recorded_at).desc())
            .limit(1)
        ).first()
    )
    if last is not None and last.effective_on > china_today(last.recorded_at):
        raise Conflict(
            f"the change scheduled for {record.credential_id} ({last.credential_id}, "
            f"{last.action}) took effect on {last.effective_on.isoformat()}: it can no "
            "longer be cancelled"
        )
    raise Conflict(f"nothing is scheduled for {record.credential_id} to cancel")
