"""What an issue or a status change answered, as one typed result, and how to rebuild
it from the credential ids an idempotency key names (``registry.issuing.idempotency``).

A replay reads only what the first request stored: each credential's canonical text,
its leaf index, and the first checkpoint covering it, which is the one the first
answer carried (an append signs one checkpoint, after all of its entries).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session, col, select

from registry.credentials import CredentialType
from registry.credentials.lifecycle import Action, State, initial_state
from registry.errors import Inconsistency
from registry.issuing.receipts import receipt_id_of
from registry.storage.models import LogEntry, Record, StatusChangeRow, StoredCredential
from registry.tlog.reader import entry_of, first_covering

__all__ = ["AnsweredItem", "ChangeAnswer", "IssueAnswer", "change_answered", "issue_answered"]


@dataclass(frozen=True)
class AnsweredItem:
    """One issued record: its credential as stored (canonical JSON text), its state
    when issued, its leaf index, and for a correction the ``StatusChange`` that
    superseded the record it replaces."""

    credential_id: str
    canonical: str
    state: State
    leaf_index: int
    status_change: str | None = None


@dataclass(frozen=True)
class IssueAnswer:
    """The records of one issue, in request order, with the checkpoint of their append;
    ``replayed`` when rebuilt for a retry rather than issued now; the id of the
    batch's receipt, if it has one (``registry.issuing.receipts``)."""

    items: tuple[AnsweredItem, ...]
    tree_size: int
    checkpoint: str
    replayed: bool
    receipt_id: str | None = None


@dataclass(frozen=True)
class ChangeAnswer:
    """A status change: the signed ``StatusChange`` (canonical JSON text), the record's
    state after it, its leaf index and the checkpoint of its append; ``replayed`` as for
    ``IssueAnswer``."""

    credential_id: str
    canonical: str
    state: State
    leaf_index: int
    tree_size: int
    checkpoint: str
    replayed: bool


def _covering(session: Session, authority: str, leaf_index: int) -> tuple[int, str]:
    covering = first_covering(session, authority, leaf_index)
    if covering is None:
        raise Inconsistency(f"no checkpoint of {authority} covers leaf {leaf_index}")
    return covering.tree_size, covering.note


def _missing(what: str, ids: Sequence[str], found: set[str]) -> None:
    absent = [credential_id for credential_id in ids if credential_id not in found]
    if absent:
        raise Inconsistency(f"{len(absent)} {what}, first {absent[0]}")


def issue_answered(session: Session, ids: Sequence[str]) -> IssueAnswer:
    """Rebuild, from the ids it issued (in order), exactly what an issue answered.

    Raises ``Inconsistency`` if a credential is not stored or not logged, or no
    checkpoint covers the last of them. Writes nothing.
    """
    if not ids:
        raise Inconsistency("an issue that produced no credential")
    rows = {
        row.id: row
        for row in session.exec(select(StoredCredential).where(col(StoredCredential.id).in_(ids)))
    }
    _missing("issued credential(s) not stored", ids, set(rows))
    entries = {
        entry.credential_id: entry
        for entry in session.exec(select(LogEntry).where(col(LogEntry.credential_id).in_(ids)))
    }
    _missing("issued credential(s) in no log", ids, set(entries))
    # A correction's answer names the StatusChange that superseded the record it
    # replaces (revoked, for a correction issued before corrections superseded); a
    # change registration's, the one that superseded the registration it changes.
    replaced: dict[str, str] = {}
    for record in session.exec(select(Record).where(col(Record.credential_id).in_(ids))):
        changed = None
        if record.replaces is None and record.type == CredentialType.REGISTRATION:
            changed = json.loads(rows[record.credential_id].canonical)["credentialSubject"].get(
                "changes"
            )
        target = record.replaces or changed
        if isinstance(target, str):
            replaced[target] = record.credential_id
    changes = {
        replaced[change.target_id]: change.credential_id
        for change in session.exec(
            select(StatusChangeRow).where(
                col(StatusChangeRow.target_id).in_(list(replaced)),
                col(StatusChangeRow.action).in_([Action.SUPERSEDE.value, Action.REVOKE.value]),
            )
        )
    }
    last = entries[ids[-1]]
    tree_size, checkpoint = _covering(session, last.authority_code, last.leaf_index)
    return IssueAnswer(
        items=tuple(
            AnsweredItem(
                credential_id=credential_id,
                canonical=rows[credential_id].canonical,
                state=initial_state(rows[credential_id].type),
                leaf_index=entries[credential_id].leaf_index,
                status_change=changes.get(credential_id),
            )
            for credential_id in ids
        ),
        tree_size=tree_size,
        checkpoint=checkpoint,
        replayed=True,
        receipt_id=receipt_id_of(session, ids[0]),
    )


def change_answered(session: Session, change_id: str) -> ChangeAnswer:
    """Rebuild, from the ``StatusChange`` it signed, exactly what a status change
    answered.

    Raises ``Inconsistency`` if the change is not stored, not logged, or no checkpoint
    covers it. Writes nothing.
    """
    stored = session.get(StoredCredential, change_id)
    change = session.get(StatusChangeRow, change_id)
    entry = entry_of(session, change_id)
    if stored is None or change is None or entry is None:
        raise Inconsistency(f"status change {change_id} is not stored and logged whole")
    tree_size, checkpoint = _covering(session, entry.authority_code, entry.leaf_index)
    return ChangeAnswer(
        credential_id=change_id,
        canonical=stored.canonical,
        state=State(change.state_after),
        leaf_index=entry.leaf_index,
        tree_size=tree_size,
        checkpoint=checkpoint,
        replayed=True,
    )
