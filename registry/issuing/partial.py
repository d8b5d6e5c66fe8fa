"""What an invalid item still says: the checks against the registry, on its valid fields.

An item whose fields do not all validate is no record input, so ``check_records``
cannot read it. Its valid fields are checked here the same way (a day in the future,
the record it replaces, the qualification a registration rests on, a CE credit the
authority already holds in force), so that one
answer reports every problem of the item: a bad date and a qualification that is not
in the registry together, never one round for the fields and another for the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from functools import cache
from typing import Annotated, Any

from pydantic import TypeAdapter, ValidationError
from sqlmodel import Session

from registry.calendar import china_today
from registry.credentials import CredentialType
from registry.credentials.records import (
    ContinuingEducationIn,
    ListingIn,
    QualificationIn,
    RegistrationIn,
)
from registry.errors import FieldError
from registry.ids import LookupSecrets
from registry.issuing.change_registrations import kind_problem
from registry.issuing.duplicates import DUPLICATE_FIELD, duplicate_message, find_duplicates
from registry.issuing.qualifications import find_qualification, resolve_qualification
from registry.issuing.records import _replaceable

__all__ = ["CHECKED_FIELDS", "check_valid_fields", "valid_fields"]

_MODELS: dict[str, Any] = {
    CredentialType.QUALIFICATION: QualificationIn,
    CredentialType.REGISTRATION: RegistrationIn,
    CredentialType.CE_CREDIT: ContinuingEducationIn,
    CredentialType.LISTING: ListingIn,
}

_DAYS: dict[str, str] = {
    CredentialType.QUALIFICATION: "issued_on",
    CredentialType.CE_CREDIT: "completed_on",
    CredentialType.LISTING: "listed_on",
}

# A CE credit is known by its holder, provider, course title and completion day.
_CREDIT = ("holder", "provider", "course_title", "completed_on")

CHECKED_FIELDS = (
    "replaces",
    "kind",
    "changes",
    "qualification",
    "holder",
    "category",
    "provider",
    "course_title",
    *sorted(set(_DAYS.values())),
)
"""The fields the registry checks an item against."""


@cache
def _adapter(record_type: str, name: str) -> TypeAdapter[Any]:
    field = _MODELS[record_type].model_fields[name]
    annotated: Any = (
        Annotated[field.annotation, *field.metadata] if field.metadata else field.annotation
    )
    return TypeAdapter(annotated)


def valid_fields(record_type: str, item: Mapping[str, Any], failed: set[str]) -> dict[str, Any]:
    """The fields of ``item`` (an input of ``record_type`` that did not validate) that the
    registry checks and that are valid by themselves, validated; ``failed`` names the
    fields already found wrong."""
    model = _MODELS.get(record_type)
    values: dict[str, Any] = {}
    if model is None:
        return values
    for name in CHECKED_FIELDS:
        if name in failed or name not in item or name not in model.model_fields:
            continue
        try:
            values[name] = _adapter(record_type, name).validate_python(item[name])
        except ValidationError:
            continue  # reported with the item's other field errors
    return values


def check_valid_fields(
    session: Session,
    record_type: str,
    values: Mapping[str, Any],
    *,
    authority: str,
    lookup: LookupSecrets,
    now: datetime,
    known: dict[str, Any] | None = None,
) -> list[FieldError]:
    """``check_records``'s problems with the valid fields of one invalid item
    (``valid_fields``), named by field. ``known`` keeps the qualifications looked up
    (pass one dict for the items of one file). Writes nothing."""
    known = {} if known is None else known
    errors: list[FieldError] = []
    day = _DAYS.get(record_type)
    found = values.get(day) if day else None
    if day and isinstance(found, date) and found > china_today(now):
        errors.append(FieldError(day, "is in the future"))
    model = _MODELS[record_type]
    if values.get("replaces") is not None:
        probe = model.model_construct(authority=authority, replaces=values["replaces"])
        problem = _replaceable(session, probe, set())
        if problem:
            errors.append(FieldError("replaces", problem))
    if record_type == CredentialType.REGISTRATION and "qualification" in values:
        if "holder" in values and "category" in values:
            # Only what the qualification check reads: the other fields may be invalid.
            read = {name: values[name] for name in ("qualification", "holder", "category")}
            registration = RegistrationIn.model_construct(**read)
            _, problem = resolve_qualification(session, registration, lookup, known)
        else:  # only whether it is there: whose and which category cannot be asked
            reference = values["qualification"]
            if reference not in known:
                known[reference] = find_qualification(session, reference)
            problem = known[reference] if isinstance(known[reference], str) else None
        if problem:
            errors.append(FieldError("qualification", problem))
    if record_type == CredentialType.REGISTRATION and "kind" in values:
        problem = kind_problem(values["kind"], values.get("changes"))
        if problem:
            errors.append(FieldError("changes", problem))
    if record_type == CredentialType.CE_CREDIT and all(name in values for name in _CREDIT):
        # Only what the duplicate check reads: the other fields may be invalid.
        read = {name: values[name] for name in (*_CREDIT, "replaces") if name in values}
        credit = ContinuingEducationIn.model_construct(authority=authority, **read)
        errors.extend(
            FieldError(DUPLICATE_FIELD, duplicate_message(duplicate, str))
            for duplicate in find_duplicates(session, [credit], lookup=lookup)
        )
    return errors
