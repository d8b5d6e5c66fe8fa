"""What the registry says about a stored credential: the signed document and, for a
record, its current state and the history of changes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlmodel import Session, col, select

from registry.calendar import china_today
from registry.issuing.scheduled import state_today
from registry.storage.credentials import document_of, get_credential
from registry.storage.models import LogEntry, Record, StatusChangeRow
from registry.tlog.reader import entry_of

__all__ = ["CHANGE_ORDER", "ChangeView", "CredentialView", "credential_view"]


@dataclass(frozen=True)
class ChangeView:
    """One status change of a record, as its ``StatusChange`` credential states it."""

    id: str
    action: str
    state_before: str
    state_after: str
    effective_on: date
    cancelled_by: str | None = None

    @classmethod
    def of(cls, change: StatusChangeRow) -> ChangeView:
        """The view of a stored ``StatusChange``."""
        return cls(
            id=change.credential_id,
            action=change.action,
            state_before=change.state_before,
            state_after=change.state_after,
            effective_on=change.effective_on,
            cancelled_by=change.cancelled_by,
        )


@dataclass(frozen=True)
class CredentialView:
    """A stored credential with its log position and, for records, state and history."""

    credential: dict[str, Any]
    type: str
    authority: str
    leaf_index: int | None
    state: str | None = None
    replaces: str | None = None
    replaced_by: str | None = None
    changes: list[ChangeView] = field(default_factory=list)
    scheduled_change: str | None = None


CHANGE_ORDER = (
    col(StatusChangeRow.recorded_at),
    # Two changes signed within one second: the record's log, where every change to it
    # is, says which came first (a change's row is joined with its ``LogEntry``).
    col(LogEntry.leaf_index),
    col(StatusChangeRow.effective_on),
)
"""The order a record's changes are told in: oldest first."""


def credential_view(
    session: Session, credential_id: str, *, today: date | None = None
) -> CredentialView:
    """The credential with that id and what the registry knows of it: for a record,
    its state on ``today`` (China's today unless given), the change it has scheduled
    for a later day if any, and every change (a cancelled one names what cancelled
    it). Raises ``NotFound``."""
    today = today or china_today(datetime.now(UTC))
    row = get_credential(session, credential_id)
    entry = entry_of(session, row.id)
    view = CredentialView(
        credential=document_of(row),
        type=row.type,
        authority=row.issuer_code,
        leaf_index=entry.leaf_index if entry else None,
    )
    record = session.get(Record, row.id)
    if record is None:
        return view
    changes = session.exec(
        select(StatusChangeRow)
        .outerjoin(LogEntry, col(LogEntry.credential_id) == col(StatusChangeRow.credential_id))
        .where(col(StatusChangeRow.target_id) == row.id)
        .order_by(*CHANGE_ORDER)
    ).all()
    successor = session.exec(select(Record).where(col(Record.replaces) == row.id)).first()
    scheduled = next(
        (change for change in changes if change.credential_id == record.scheduled_change_id), None
    )
    pending = scheduled is not None and scheduled.effective_on > today
    return CredentialView(
        credential=view.credential,
        type=view.type,
        authority=view.authority,
        leaf_index=view.leaf_index,
        state=state_today(record, scheduled, today),
        scheduled_change=record.scheduled_change_id if pending else None,
        replaces=record.replaces,
        replaced_by=successor.credential_id if successor else None,
        changes=[ChangeView.of(change) for change in changes],
    )
