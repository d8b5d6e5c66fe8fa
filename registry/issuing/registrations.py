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

Everything here only reads; ``registry.issuing.change_registrations.supersessions``
builds the changes issuing signs for rule 3.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date, timedelta

from sqlmodel import Session

from registry.calendar import add_years
from registry.credentials.lifecycle import Action
from registry.credentials.records import RecordIn, RegistrationIn
from registry.errors import FieldError, NotFound
from registry.ids import LookupSecrets, ResidentId
from registry.issuing.change_registrations import Changed, changed_registration, kind_problem
from registry.issuing.held import HeldRegistration, registrations_held, subject_of
from registry.policies import PolicyBook

__all__ = ["BAR_YEARS", "check_registrations"]

BAR_YEARS = 5
"""A revoked registration bars a new one for five years."""


def _revocations(
    session: Session, held: Iterable[HeldRegistration]
) -> list[tuple[HeldRegistration, date, str]]:
    """Each revoked registration with its revocation's day and decision number; a
    correction signed as a revocation (``replacedBy``, before corrections superseded)
    is no decision and bars nothing."""
    found = []
    for registration in held:
        for change in registration.changes:
            if change.action != Action.REVOKE.value:
                continue
            subject = subject_of(session, change.credential_id)
            if subject.get("replacedBy"):
                continue
            found.append(
                (registration, change.effective_on, str(subject.get("decisionNumber", "")))
            )
    return found


def _five_years_problem(
    item: RegistrationIn, revocations: list[tuple[HeldRegistration, date, str]]
) -> str | None:
    """Rule 1: a new registration takes effect after the five years that follow a
    revocation, at the earliest: the years run from the day after it and end on its
    fifth anniversary (民法典第二百零一条、第二百零二条), so the day after that. A
    registration that began before the revocation (an earlier one, entered late) is
    not barred."""
    for registration, revoked_on, decision in sorted(revocations, key=lambda r: r[1]):
        earliest = add_years(revoked_on, BAR_YEARS) + timedelta(days=1)
        if revoked_on <= item.valid_from < earliest:
            return (
                f"registration {registration.number} ({registration.authority}) was revoked on "
                f"{revoked_on.isoformat()} by decision {decision}: a new registration may take "
                f"effect from {earliest.isoformat()} at the earliest"
            )
    return None


def _overlap_message(other: str, first: date, last: date, day: date) -> str:
    return (
        f"overlaps registration {other}, {first.isoformat()} to {last.isoformat()}, in force "
        f"on {day.isoformat()}: an engineer is registered with one employer at a time"
    )


def _overlaps(
    item: RegistrationIn,
    held: list[HeldRegistration],
    leaving: set[str],
    earlier: dict[str, list[tuple[str, RegistrationIn]]],
    keys: frozenset[str],
) -> list[str]:
    """Rule 2: the registrations in force that ``item``'s term overlaps, stored (but
    for those this batch supersedes), and the first earlier in the batch it overlaps
    (``earlier``: the batch's registrations so far, by the holder's look-up keys).
    One in-batch overlap is enough to fix: a batch of one person's many registrations
    is answered with one problem an item, not one for every pair."""
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
    for named, before in (found for key in keys for found in earlier.get(key, ())):
        start = max(before.valid_from, item.valid_from)
        if start <= min(before.valid_until, item.valid_until):
            problems.append(
                _overlap_message(
                    f"{before.registration_number} of {before.authority} ({named})",
                    before.valid_from,
                    before.valid_until,
                    start,
                )
            )
            break
    return problems


def _keeps_term(policies: PolicyBook, item: RegistrationIn) -> bool:
    """Whether a change registration keeps the term it changes: yes, unless the
    authority's official rule in force on its first day says otherwise."""
    try:
        return policies.for_term(item.authority, item.valid_from).change_keeps_term
    except NotFound:
        return True


def check_registrations(
    session: Session,
    items: Sequence[RecordIn],
    *,
    lookup: LookupSecrets,
    policies: PolicyBook,
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
    people = {
        i: frozenset(lookup.keys(ResidentId(item.holder.id_number)).values())
        for i, item in enumerate(items)
        if isinstance(item, RegistrationIn)
    }
    by_key = registrations_held(session, [key for keys in people.values() for key in keys])
    earlier: dict[str, list[tuple[str, RegistrationIn]]] = {}
    for i, item in enumerate(items):
        if not isinstance(item, RegistrationIn):
            continue
        keys = people[i]
        # One person, one registration however many of their keys name it.
        held = list({h.credential_id: h for k in keys for h in by_key.get(k, ())}.values())
        wrong_kind = kind_problem(item.kind, item.changes)
        if wrong_kind:
            errors.append(FieldError(path(i, "changes"), wrong_kind))
        elif item.changes is not None:
            keeps_term = _keeps_term(policies, item)
            found, problems = changed_registration(
                session, item, held, today=today, keeps_term=keeps_term
            )
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
        for key in keys:
            earlier.setdefault(key, []).append((name(i), item))
    return changed, errors
