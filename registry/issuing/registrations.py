"""The registration rules issuing enforces across a person's records, on every
authority whose records this node holds (the person found by their look-up keys,
under every version of the federation's secret).

1. Five years after a revocation. 撤销注册 is a decision: a person whose registration
   was revoked (``revoke``, not superseded by a correction) on day R is not registered
   again before R plus five years (《注册安全工程师管理规定》: registration obtained by
   deception or bribery is revoked, and not granted again within five years).
2. One employer at a time. A registration's term may not overlap, on any day, the term
   of another of the person's registrations in force that day (active or suspended:
   a suspended engineer still holds the post), nor of another registration in the
   same batch, unless this batch corrects (``replaces``) or changes (``changes``) it
   (不得同时受聘于两个或两个以上单位: 《注册安全工程师职业资格制度规定》,
   《注册安全工程师分类管理办法》).
3. A change registration (变更注册) keeps the term. It names the registration it
   changes (``changes``): the same person's, active, with this authority. It ends on
   that registration's last day and starts within its term; that registration is
   superseded from the change's first day, in the same transaction
   (``_change_term_problem`` holds the term rule).

Everything here only reads; ``supersessions`` builds the changes issuing signs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from registry.calendar import CHINA, LeapDay, add_years, parse_aware
from registry.credentials import CredentialType
from registry.credentials.lifecycle import Action, State, latest_effective_on, next_state
from registry.credentials.records import RecordIn, RegistrationIn
from registry.errors import FieldError
from registry.ids import LookupSecrets, ResidentId
from registry.issuing.build import Draft
from registry.issuing.changes import apply_change
from registry.issuing.status_lists import StatusLists
from registry.storage.models import Record, RecordParty, StatusChangeRow, StoredCredential

__all__ = [
    "BAR_YEARS",
    "Changed",
    "check_registrations",
    "supersessions",
]

BAR_YEARS = 5
"""A revoked registration bars a new one for five years."""

_HOLDING = (State.ACTIVE.value, State.SUSPENDED.value)


@dataclass(frozen=True)
class _Change:
    effective_on: date
    action: str
    state_after: str
    credential_id: str


@dataclass(frozen=True)
class _Held:
    """One of the person's registrations, as signed, with its changes in effect."""

    credential_id: str
    authority: str
    number: str
    first_day: date
    last_day: date
    term_starts_on: date
    changes: tuple[_Change, ...]

    def state_on(self, day: date) -> str:
        state = State.ACTIVE.value
        for change in self.changes:
            if change.effective_on <= day:
                state = change.state_after
        return state

    def holding_on(self, first: date, last: date) -> date | None:
        """The first day in ``first``..``last`` it is in force, if any."""
        start, end = max(first, self.first_day), min(last, self.last_day)
        if start > end:
            return None
        days = [start, *(c.effective_on for c in self.changes if start < c.effective_on <= end)]
        return next((day for day in days if self.state_on(day) in _HOLDING), None)


@dataclass(frozen=True)
class Changed:
    """What a change registration changes: the registration, the first day of its
    term, and the day it is superseded (``None``: a correction of a change
    registration, whose changed registration is superseded already)."""

    credential_id: str
    term_starts_on: date
    supersede_on: date | None


def _day(stamp: str) -> date:
    return parse_aware(stamp, "a validity time").astimezone(CHINA).date()


def _registrations(session: Session, keys: Sequence[str]) -> list[_Held]:
    """The registrations naming one of ``keys`` as holder, of any authority held here."""
    rows = session.exec(
        select(StoredCredential.id, StoredCredential.issuer_code, StoredCredential.canonical)
        .join(RecordParty, col(RecordParty.credential_id) == col(StoredCredential.id))
        .where(
            col(RecordParty.lookup_key).in_(list(keys)),
            col(RecordParty.role) == "holder",
            col(StoredCredential.type) == CredentialType.REGISTRATION,
        )
    ).all()
    documents = {credential_id: (issuer, canonical) for credential_id, issuer, canonical in rows}
    changes: dict[str, list[_Change]] = {}
    if documents:
        for row in session.exec(
            select(StatusChangeRow)
            .where(
                col(StatusChangeRow.target_id).in_(list(documents)),
                col(StatusChangeRow.cancelled_by).is_(None),
                col(StatusChangeRow.action) != Action.CANCEL_SCHEDULED.value,
            )
            .order_by(col(StatusChangeRow.recorded_at), col(StatusChangeRow.credential_id))
        ):
            changes.setdefault(row.target_id, []).append(
                _Change(row.effective_on, row.action, row.state_after, row.credential_id)
            )
    held = []
    for credential_id, (issuer, canonical) in sorted(documents.items()):
        document = json.loads(canonical)
        subject = document["credentialSubject"]
        first = _day(document["validFrom"])
        term = subject.get("termStartsOn")
        held.append(
            _Held(
                credential_id=credential_id,
                authority=issuer,
                number=str(subject.get("registrationNumber", "")),
                first_day=first,
                last_day=_day(document["validUntil"]) - timedelta(days=1),
                term_starts_on=date.fromisoformat(term) if isinstance(term, str) else first,
                changes=tuple(changes.get(credential_id, ())),
            )
        )
    return held


def _subject_of(session: Session, credential_id: str) -> dict[str, Any]:
    stored = session.get(StoredCredential, credential_id)
    if stored is None:
        return {}
    subject: dict[str, Any] = json.loads(stored.canonical).get("credentialSubject", {})
    return subject


def _revocations(session: Session, held: Iterable[_Held]) -> list[tuple[_Held, date, str]]:
    """Each revoked registration with its revocation's day and decision number; a
    correction signed as a revocation (``replacedBy``, before corrections superseded)
    is no decision and bars nothing."""
    found = []
    for registration in held:
        for change in registration.changes:
            if change.action != Action.REVOKE.value:
                continue
            subject = _subject_of(session, change.credential_id)
            if subject.get("replacedBy"):
                continue
            found.append(
                (registration, change.effective_on, str(subject.get("decisionNumber", "")))
            )
    return found


def _five_years_problem(
    item: RegistrationIn, revocations: list[tuple[_Held, date, str]]
) -> str | None:
    """Rule 1: a new registration takes effect five years after a revocation at the earliest."""
    for registration, revoked_on, decision in sorted(revocations, key=lambda r: r[1]):
        earliest = add_years(revoked_on, BAR_YEARS, leap_day=LeapDay.LAST_OF_FEBRUARY)
        if item.valid_from < earliest:
            return (
                f"registration {registration.number} ({registration.authority}) was revoked on "
                f"{revoked_on.isoformat()} by decision {decision}: a new registration may take "
                f"effect from {earliest.isoformat()} at the earliest"
            )
    return None


def _change_term_problem(
    item: RegistrationIn, changed: _Held, *, today: date, new_term: bool = False
) -> list[tuple[str, str]]:
    """Rule 3: the (field, message) problems of a change registration's days against
    the registration it changes. The term is kept: the change ends on that
    registration's last day and starts within it (not before the changed record's
    first day, nor before its last change, and at most a year ahead, when it is
    superseded). ``new_term`` is where a rule that a change starts a new term would
    be told; no rule says so yet, and it must stay ``False``."""
    problems: list[tuple[str, str]] = []
    if new_term:
        raise NotImplementedError("no rule lets a change registration start a new term")
    if item.valid_until != changed.last_day:
        problems.append(
            (
                "valid_until",
                f"a change registration keeps the term: it ends on {changed.last_day.isoformat()}, "
                f"the last day of registration {changed.number}",
            )
        )
    if not changed.first_day <= item.valid_from <= changed.last_day:
        problems.append(
            (
                "valid_from",
                f"a change registration starts within the term of registration "
                f"{changed.number}, {changed.first_day.isoformat()} to "
                f"{changed.last_day.isoformat()}",
            )
        )
    elif changed.changes and item.valid_from < changed.changes[-1].effective_on:
        problems.append(
            (
                "valid_from",
                f"precedes the last change of registration {changed.number}, effective "
                f"{changed.changes[-1].effective_on.isoformat()}",
            )
        )
    elif item.valid_from > latest_effective_on(today):
        problems.append(
            (
                "valid_from",
                f"is more than a year ahead: registration {changed.number} can be superseded "
                f"by {latest_effective_on(today).isoformat()}",
            )
        )
    return problems


def _find_changed(
    session: Session, item: RegistrationIn, held: list[_Held]
) -> tuple[_Held | None, str | None]:
    """The person's registration ``item.changes`` names, or why there is none."""
    reference = item.changes or ""
    own = [h for h in held if reference in (h.credential_id, h.number)]
    if len(own) > 1:
        own = [h for h in own if h.state_on(h.last_day) in _HOLDING] or own
    if len(own) > 1:
        return None, f"registration number {reference} is ambiguous: give the credential id"
    if not own:
        anyone = session.exec(
            select(Record.credential_id).where(
                col(Record.type) == CredentialType.REGISTRATION,
                (col(Record.credential_id) == reference) | (col(Record.number) == reference),
            )
        ).first()
        if anyone is not None:
            return None, f"registration {reference} belongs to someone else"
        return None, f"no registration {reference} in the registry"
    changed = own[0]
    if changed.authority != item.authority:
        return None, (
            f"registration {reference} is a registration of {changed.authority}: a change "
            "is registered by the authority that holds the registration"
        )
    return changed, None


def _changed(
    session: Session, item: RegistrationIn, held: list[_Held], *, today: date
) -> tuple[Changed | None, list[tuple[str, str]]]:
    """What a change registration changes, or its problems as (field, message)."""
    changed, problem = _find_changed(session, item, held)
    if changed is None:
        return None, [("changes", problem or "")]
    # A correction of a change registration names the registration it changed, which
    # that change superseded already.
    again = (
        item.replaces is not None
        and _subject_of(session, item.replaces).get("changes") == changed.credential_id
    )
    record = session.get(Record, changed.credential_id)
    if not again:
        state = record.state if record is not None else changed.state_on(today)
        if state != State.ACTIVE.value:
            return None, [
                (
                    "changes",
                    f"registration {item.changes} is {state}: only an active registration "
                    "can be changed",
                )
            ]
        if record is not None and record.scheduled_change_id is not None:
            return None, [
                (
                    "changes",
                    f"registration {item.changes} has a change scheduled "
                    f"({record.scheduled_change_id}): cancel it or wait for its day",
                )
            ]
    problems = _change_term_problem(item, changed, today=today)
    if problems:
        return None, problems
    return Changed(
        changed.credential_id, changed.term_starts_on, None if again else item.valid_from
    ), []


def _overlap_message(other: str, first: date, last: date, day: date) -> str:
    return (
        f"overlaps registration {other}, {first.isoformat()} to {last.isoformat()}, in force "
        f"on {day.isoformat()}: an engineer is registered with one employer at a time"
    )


def _kind_problem(item: RegistrationIn) -> str | None:
    if item.kind == "change" and item.changes is None:
        return "is required for a change registration"
    if item.kind != "change" and item.changes is not None:
        return "is only for a change registration (kind change)"
    return None


def _overlaps(
    item: RegistrationIn,
    held: list[_Held],
    leaving: set[str],
    earlier: list[tuple[str, RegistrationIn, frozenset[str]]],
    keys: frozenset[str],
) -> list[str]:
    """Rule 2: the registrations in force that ``item``'s term overlaps, stored (but
    for those this batch supersedes) or earlier in the batch."""
    problems = []
    for other in held:
        day = other.holding_on(item.valid_from, item.valid_until)
        # A registration this batch changes is named by its id or its number.
        if leaving.isdisjoint((other.credential_id, other.number)) and day is not None:
            problems.append(
                _overlap_message(
                    f"{other.number} of {other.authority}", other.first_day, other.last_day, day
                )
            )
    for named, before, before_keys in earlier:
        start = max(before.valid_from, item.valid_from)
        if not before_keys.isdisjoint(keys) and start <= min(before.valid_until, item.valid_until):
            problems.append(
                _overlap_message(
                    f"{before.registration_number} of {before.authority} ({named})",
                    before.valid_from,
                    before.valid_until,
                    start,
                )
            )
    return problems


def check_registrations(
    session: Session,
    items: Sequence[RecordIn],
    *,
    lookup: LookupSecrets,
    today: date,
    path: Callable[[int, str], str],
    name: Callable[[int], str],
) -> tuple[dict[int, Changed], list[FieldError]]:
    """Check a batch's registrations against the three rules (the module's docstring).

    Returns what each change registration changes (by item index) and every problem
    as a field error (``path(index, field)`` names the field, ``name(index)`` the
    item in a message). Writes nothing.
    """
    errors: list[FieldError] = []
    changed: dict[int, Changed] = {}
    # The registrations this batch corrects or changes: superseded by it, they hold no post.
    leaving = {item.replaces for item in items if item.replaces is not None}
    leaving |= {item.changes for item in items if isinstance(item, RegistrationIn) and item.changes}
    known: dict[frozenset[str], list[_Held]] = {}
    earlier: list[tuple[str, RegistrationIn, frozenset[str]]] = []
    for i, item in enumerate(items):
        if not isinstance(item, RegistrationIn):
            continue
        keys = frozenset(lookup.keys(ResidentId(item.holder.id_number)).values())
        if keys not in known:
            known[keys] = _registrations(session, sorted(keys))
        held = known[keys]
        kind_problem = _kind_problem(item)
        if kind_problem:
            errors.append(FieldError(path(i, "changes"), kind_problem))
        elif item.changes is not None:
            found, problems = _changed(session, item, held, today=today)
            errors.extend(FieldError(path(i, name), message) for name, message in problems)
            if found is not None:
                if any(c.credential_id == found.credential_id for c in changed.values()):
                    errors.append(
                        FieldError(
                            path(i, "changes"), f"{item.changes} is changed twice in this batch"
                        )
                    )
                changed[i] = found
                leaving.add(found.credential_id)
        bar = _five_years_problem(item, _revocations(session, held))
        if bar:
            errors.append(FieldError(path(i, "valid_from"), bar))
        errors.extend(
            FieldError(path(i, "valid_from"), problem)
            for problem in _overlaps(item, held, leaving, earlier, keys)
        )
        earlier.append((name(i), item, keys))
    return changed, errors


def supersessions(
    session: Session,
    lists: StatusLists,
    changed: dict[int, Changed],
    drafts: list[Draft],
    *,
    today: date,
    now: datetime,
) -> list[tuple[dict[str, Any], StatusChangeRow]]:
    """For each change registration: the ``StatusChange`` superseding the registration
    it changes from its first day (scheduled, if that day is ahead), bits set when it
    takes effect now. Each change's credential subject gets ``changes`` and
    ``termStartsOn``."""
    found = []
    for index, change in sorted(changed.items()):
        subject = drafts[index].document["credentialSubject"]
        subject["changes"] = change.credential_id
        subject["termStartsOn"] = change.term_starts_on.isoformat()
        if change.supersede_on is None:
            continue
        target = session.get(Record, change.credential_id)
        if target is None:
            continue  # a mirror's registration: refused when checked
        after = next_state(
            target.type, State(target.state), Action.SUPERSEDE, effective_on=change.supersede_on
        )
        found.append(
            apply_change(
                target,
                lists,
                action=Action.SUPERSEDE,
                after=after,
                reason="changed: superseded by a change registration",
                decision_number=None,
                effective_on=change.supersede_on,
                now=now,
                replaced_by=drafts[index].document["id"],
                scheduled=change.supersede_on > today,
            )
        )
        session.add(target)
    return found
