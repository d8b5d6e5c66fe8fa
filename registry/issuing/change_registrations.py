"""变更注册: a change registration keeps the term of the registration it changes.

It names the registration it ``changes``: the same person's, active, with the same
authority. It ends on that registration's last day and starts within its term; the
credential says ``changes`` and ``termStartsOn`` (the first day of the term), and the
changed registration is superseded from the change's first day in the same signed
act (scheduled, if that day is ahead). ``_change_term_problem`` holds the term rule,
in one place, so that a rule letting a change start a new term can be told to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlmodel import Session, col, select

from registry.credentials import CredentialType
from registry.credentials.lifecycle import Action, State, latest_effective_on, next_state
from registry.credentials.records import RegistrationIn
from registry.issuing.build import Draft
from registry.issuing.changes import apply_change
from registry.issuing.held import HOLDING, HeldRegistration, subject_of
from registry.issuing.status_lists import StatusLists
from registry.storage.models import Record, StatusChangeRow

__all__ = ["Changed", "changed_registration", "kind_problem", "supersessions"]


def kind_problem(kind: str, changes: str | None) -> str | None:
    """What is wrong with ``changes`` for a registration of ``kind``: a change
    registration names what it changes, and no other registration does."""
    if kind == "change" and changes is None:
        return "is required for a change registration"
    if kind != "change" and changes is not None:
        return "is only for a change registration (kind change)"
    return None


@dataclass(frozen=True)
class Changed:
    """What a change registration changes: the registration, the first day of its
    term, and the day it is superseded (``None``: a correction of a change
    registration, whose changed registration is superseded already)."""

    credential_id: str
    term_starts_on: date
    supersede_on: date | None


def _change_term_problem(
    item: RegistrationIn, changed: HeldRegistration, *, today: date, keeps_term: bool = True
) -> list[tuple[str, str]]:
    """The (field, message) problems of a change registration's days against the
    registration it changes (``registry.issuing.registrations``, rule 3). The term is
    kept: the change ends on that registration's last day and starts within it (not
    before its first day, nor before its last change, and at most a year ahead: the
    day it is superseded). The whole term rule is here, so that a province's rule
    that a change starts a new term can be told to this one function."""
    problems: list[tuple[str, str]] = []
    # Where the authority's official rule says a change starts a new term
    # (``change_keeps_term = false``), the change runs its own term, up to five years.
    if keeps_term and item.valid_until != changed.last_day:
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
    session: Session, item: RegistrationIn, held: list[HeldRegistration]
) -> tuple[HeldRegistration | None, str | None]:
    """The person's registration ``item.changes`` names, or why there is none."""
    reference = item.changes or ""
    own = [h for h in held if reference in (h.credential_id, h.number)]
    if len(own) > 1:
        own = [h for h in own if h.state_on(h.last_day) in HOLDING] or own
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


def changed_registration(
    session: Session,
    item: RegistrationIn,
    held: list[HeldRegistration],
    *,
    today: date,
    keeps_term: bool = True,
) -> tuple[Changed | None, list[tuple[str, str]]]:
    """What a change registration changes, or its problems as (field, message).
    ``keeps_term`` false: the authority's rule says a change starts a new term, which
    then begins on the change's first day."""
    changed, problem = _find_changed(session, item, held)
    if changed is None:
        return None, [("changes", problem or "")]
    # A correction of a change registration names the registration it changed, which
    # that change superseded already.
    again = (
        item.replaces is not None
        and subject_of(session, item.replaces).get("changes") == changed.credential_id
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
    problems = _change_term_problem(item, changed, today=today, keeps_term=keeps_term)
    if problems:
        return None, problems
    term_starts_on = changed.term_starts_on if keeps_term else item.valid_from
    return Changed(changed.credential_id, term_starts_on, None if again else item.valid_from), []


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
