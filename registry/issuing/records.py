"""Issuing records: validate a batch against what is stored, then sign, log and index it.

A batch is one authority's, and is all or nothing: every item is checked first
(the references it makes, its dates, the registration rules of
``registry.issuing.registrations``), and if any is wrong nothing is written and
the error names every bad item and field. Then, under the authority's log lock,
each record gets its status-list entries, corrections (and change registrations)
supersede what they replace (change), and the records, the status changes and the
new status-list versions are signed and appended as one batch with one checkpoint,
in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session

from registry.calendar import china_today
from registry.credentials.lifecycle import (
    Action,
    State,
    initial_state,
    next_state,
    status_purposes,
)
from registry.credentials.records import (
    ContinuingEducationIn,
    ListingIn,
    QualificationIn,
    RecordIn,
    RegistrationIn,
)
from registry.errors import Conflict, FieldError, InvalidInput
from registry.ids import LookupSecrets, name_core, name_key
from registry.issuing.build import Draft, draft_of
from registry.issuing.change_registrations import Changed, supersessions
from registry.issuing.changes import apply_change
from registry.issuing.context import IssuingContext
from registry.issuing.duplicates import (
    DUPLICATE_FIELD,
    course_key,
    duplicate_message,
    find_duplicates,
)
from registry.issuing.qualifications import (
    Qualification,
    find_qualifications,
    resolve_qualification,
)
from registry.issuing.registrations import check_registrations
from registry.issuing.scheduled import apply_due
from registry.issuing.signing import sign_and_log
from registry.issuing.status_lists import StatusLists
from registry.policies import PolicyBook
from registry.storage.base import bulk_insert
from registry.storage.credentials import Signed
from registry.storage.models import (
    Disclosure,
    Record,
    RecordParty,
    StatusChangeRow,
)
from registry.tlog.sequencer import AppendResult, lock_log

__all__ = [
    "IssuedRecord",
    "RecordsIssued",
    "check_records",
    "issue_records",
    "item_problem",
]


@dataclass(frozen=True)
class IssuedRecord:
    """One issued record: its stored credential, leaf index and state, and the
    ``StatusChange`` that superseded the record it replaces (a correction) or changes
    (a change registration)."""

    credential: Signed
    leaf_index: int
    state: State
    status_change: str | None = None


@dataclass(frozen=True)
class RecordsIssued:
    """The records of one batch, in input order, and the log append that holds them."""

    records: list[IssuedRecord]
    log: AppendResult


def _path(prefix: str | None, index: int, name: str) -> str:
    return f"{prefix}[{index}].{name}" if prefix is not None else name


def item_problem(problem: FieldError, prefix: str) -> tuple[int, str]:
    """The item index and field of a problem ``check_records`` found under ``prefix``
    (``rows[3].holder`` is ``(3, "holder")``); raises ``InvalidInput`` with the
    problem's message for one that names no item."""
    head = f"{prefix}["
    index, _, name = problem.field.removeprefix(head).partition("].")
    if not problem.field.startswith(head) or not index.isdigit() or not name:
        raise InvalidInput(problem.message)
    return int(index), name


def issue_records(
    session: Session,
    context: IssuingContext,
    items: Sequence[RecordIn],
    *,
    field_prefix: str | None = None,
    now: datetime | None = None,
) -> RecordsIssued:
    """Issue a batch of one authority's records, all or nothing.

    ``field_prefix`` names the list the items came in (``items``) so that errors
    read ``items[3].qualification``. Raises ``InvalidInput`` naming every bad
    field (a CE credit the authority already holds among them), ``Conflict`` for a
    single item (no ``field_prefix``) whose only problem is that it repeats a credit
    in force, naming it, or when a status list is full, and whatever signing and
    appending raise; the caller's transaction then writes nothing.
    """
    if not items:
        raise InvalidInput("nothing to issue")
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    authority = items[0].authority
    errors = [
        FieldError(_path(field_prefix, i, "authority"), "one batch holds one authority's records")
        for i, item in enumerate(items)
        if item.authority != authority
    ]
    if errors:
        raise InvalidInput("a batch mixes authorities", errors=tuple(errors))
    lock_log(session, authority, origin_prefix=context.origin_prefix)
    lists = StatusLists(
        session, authority, node_url=context.node_url, entries=context.status_list_entries
    )
    # The authority's scheduled changes whose day has come apply first (their bits
    # signed with this append): a record corrected here is judged in its state today.
    apply_due(session, authority, lists, today=china_today(now), now=now)
    resolved, errors = check_records(
        session, items, field_prefix, lookup=context.lookup, policies=context.policies, now=now
    )
    if errors:
        if field_prefix is None and all(e.field == DUPLICATE_FIELD for e in errors):
            raise Conflict(errors[0].message)
        raise InvalidInput(f"{len(errors)} invalid field(s)", errors=tuple(errors))

    drafts = [
        draft_of(item, lookup=context.lookup, qualification_id=resolved.qualifications.get(i))
        for i, item in enumerate(items)
    ]
    purposes = [status_purposes(item.type) for item in items]
    allocated = {
        purpose: iter(lists.allocate(purpose, sum(purpose in p for p in purposes)))
        for purpose in ("revocation", "suspension")
        if any(purpose in p for p in purposes)
    }
    indices: list[dict[str, int]] = []
    for draft, wanted in zip(drafts, purposes, strict=True):
        taken = {}
        entries = []
        for purpose in wanted:
            taken[purpose], entry = next(allocated[purpose])
            entries.append(entry)
        if entries:
            draft.document["credentialStatus"] = entries[0] if len(entries) == 1 else entries
        indices.append(taken)

    changes = _corrections(session, lists, items, drafts, now=now)
    changes += supersessions(
        session, lists, resolved.changed, drafts, today=china_today(now), now=now
    )
    documents = [d.document for d in drafts] + [c for c, _ in changes]
    lookups: list[str | None] = [d.subject_lookup for d in drafts] + [None] * len(changes)
    versions = lists.new_versions(now=now)
    issued = sign_and_log(
        session,
        context.key_store,
        [*documents, *versions],
        origin_prefix=context.origin_prefix,
        subject_lookups=[*lookups, *([None] * len(versions))],
        now=now,
    )
    _index(session, context, items, drafts, indices, now=now)
    change_of: dict[str, str] = {}
    for document, row in changes:
        session.add(row)
        change_of[row.target_id] = document["id"]
    lists.save(now=now)  # flushes the rows above too
    first = issued.log.first_index
    return RecordsIssued(
        records=[
            IssuedRecord(
                credential=issued.credentials[i],
                leaf_index=first + i,
                state=initial_state(item.type),
                status_change=_change_of(change_of, item, resolved.changed.get(i)),
            )
            for i, item in enumerate(items)
        ],
        log=issued.log,
    )


@dataclass(frozen=True)
class Resolved:
    """What a batch's references resolve to, by item index: each registration's
    qualification id, and what each change registration changes."""

    qualifications: dict[int, str]
    changed: dict[int, Changed]


def _change_of(change_of: dict[str, str], item: RecordIn, changed: Changed | None) -> str | None:
    target = item.replaces or (changed.credential_id if changed is not None else None)
    return change_of.get(target) if target is not None else None


def check_records(
    session: Session,
    items: Sequence[RecordIn],
    prefix: str | None,
    *,
    lookup: LookupSecrets,
    policies: PolicyBook,
    now: datetime,
    name: Callable[[int], str] | None = None,
) -> tuple[Resolved, list[FieldError]]:
    """Check what a batch refers to (records it replaces, qualifications), its dates,
    that no CE credit repeats one in force or an earlier item
    (``registry.issuing.duplicates``), and the registration rules
    (``registry.issuing.registrations``: five years after a revocation, one employer
    at a time, a change registration keeps the term).

    Returns what the references resolve to and every problem found, as field errors.
    ``name`` names an item in a message (default: ``items[3]``, as its fields are
    named). Writes nothing.
    """
    today = china_today(now)
    errors: list[FieldError] = []
    resolved: dict[int, str] = {}
    replaced: set[str] = set()
    known: dict[str, Qualification | str] = find_qualifications(
        session, [item.qualification for item in items if isinstance(item, RegistrationIn)]
    )
    for i, item in enumerate(items):
        if isinstance(item, QualificationIn) and item.issued_on > today:
            errors.append(FieldError(_path(prefix, i, "issued_on"), "is in the future"))
        if isinstance(item, ContinuingEducationIn) and item.completed_on > today:
            errors.append(FieldError(_path(prefix, i, "completed_on"), "is in the future"))
        if isinstance(item, ListingIn) and item.listed_on > today:
            errors.append(FieldError(_path(prefix, i, "listed_on"), "is in the future"))
        if item.replaces is not None:
            problem = _replaceable(session, item, replaced)
            if problem:
                errors.append(FieldError(_path(prefix, i, "replaces"), problem))
            replaced.add(item.replaces)
        if isinstance(item, RegistrationIn):
            found, problem = resolve_qualification(session, item, lookup, known)
            if problem:
                errors.append(FieldError(_path(prefix, i, "qualification"), problem))
            elif found:
                resolved[i] = found
    named = name or (lambda j: f"{prefix or 'items'}[{j}]")
    for duplicate in find_duplicates(session, items, lookup=lookup):
        errors.append(
            FieldError(
                _path(prefix, duplicate.index, DUPLICATE_FIELD), duplicate_message(duplicate, named)
            )
        )
    changed, problems = check_registrations(
        session,
        items,
        lookup=lookup,
        policies=policies,
        today=today,
        path=lambda i, field: _path(prefix, i, field),
        name=named,
    )
    errors.extend(problems)
    return Resolved(resolved, changed), errors


def _replaceable(session: Session, item: RecordIn, seen: set[str]) -> str | None:
    target = session.get(Record, item.replaces)
    if target is None:
        return f"no record {item.replaces}"
    if target.authority_code != item.authority:
        return f"{item.replaces} is a record of {target.authority_code}"
    if target.type != item.type:
        return f"{item.replaces} is a {target.type}, not a {item.type}"
    if item.replaces in seen:
        return f"{item.replaces} is replaced twice in this batch"
    if State(target.state) in (State.REVOKED, State.CANCELLED, State.WITHDRAWN, State.SUPERSEDED):
        return f"{item.replaces} is {target.state}: a final state cannot be corrected"
    return None


def _corrections(
    session: Session,
    lists: StatusLists,
    items: Sequence[RecordIn],
    drafts: list[Draft],
    *,
    now: datetime,
) -> list[tuple[dict[str, Any], StatusChangeRow]]:
    """For each correction: the ``StatusChange`` superseding the old record (not a
    revocation: a correction is no decision), bits set."""
    changes = []
    for item, draft in zip(items, drafts, strict=True):
        if item.replaces is None:
            continue
        target = session.get(Record, item.replaces)
        if target is None:
            raise InvalidInput(f"no record {item.replaces}")
        after = next_state(
            target.type, State(target.state), Action.SUPERSEDE, effective_on=china_today(now)
        )
        document, row = apply_change(
            target,
            lists,
            action=Action.SUPERSEDE,
            after=after,
            reason="corrected: replaced by a new record",
            decision_number=None,
            effective_on=china_today(now),
            now=now,
            replaced_by=draft.document["id"],
        )
        session.add(target)
        changes.append((document, row))
    if len({row.target_id for _, row in changes}) != len(changes):
        raise Conflict("a record is replaced twice in one batch")
    return changes


def _index(
    session: Session,
    context: IssuingContext,
    items: Sequence[RecordIn],
    drafts: list[Draft],
    indices: list[dict[str, int]],
    *,
    now: datetime,
) -> None:
    """The ``record``, ``record_party`` and ``disclosure`` rows of the issued records, in
    three statements."""
    records: list[dict[str, Any]] = []
    parties: list[dict[str, Any]] = []
    disclosures: list[dict[str, Any]] = []
    for item, draft, taken in zip(items, drafts, indices, strict=True):
        credential_id = draft.document["id"]
        course = None
        if isinstance(item, ContinuingEducationIn) and draft.subject_lookup is not None:
            course = course_key(
                draft.subject_lookup,
                item.provider.credit_code,
                item.course_title,
                item.completed_on,
            )
        records.append(
            {
                "credential_id": credential_id,
                "type": item.type,
                "authority_code": item.authority,
                "number": draft.number,
                "state": initial_state(item.type).value,
                "revocation_index": taken.get("revocation"),
                "suspension_index": taken.get("suspension"),
                "earliest_removal_on": draft.earliest_removal_on,
                "replaces": item.replaces,
                "course_key": course,
                "updated_at": now,
            }
        )
        parties.extend(
            {
                "credential_id": credential_id,
                "position": position,
                "role": party.role,
                "name": party.name,
                "name_key": name_key(party.name),
                "name_core": name_core(party.name),
                "lookup_key": party.lookup_key,
                "lookup_version": party.lookup_version,
                "credit_code": party.credit_code,
            }
            for position, party in enumerate(draft.parties)
        )
        disclosures.extend(
            {
                "credential_id": credential_id,
                "position": position,
                "sealed": context.seal.seal(credential_id, position, party.disclosure),
            }
            for position, party in enumerate(draft.parties)
            if party.disclosure is not None
        )
    bulk_insert(session, Record, records)
    if parties:
        bulk_insert(session, RecordParty, parties)
    if disclosures:
        bulk_insert(session, Disclosure, disclosures)
