"""The console's forms for one record: a qualification, a registration, CE hours or a
listing as flat form fields, read into the API's own request models
(``registry.credentials.records``), with every problem put beside the field it is
about, and a record's content read back into the form to correct it.

The form's fields are flat (``employer_code``); the models are nested
(``employer.credit_code``): ``FORMS`` pairs each field with its place in the model,
both ways, so that a model's error and ``check_records``' finds land beside the
field a person typed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ValidationError

from registry.calendar import china_today
from registry.credentials.records import (
    ContinuingEducationIn,
    ListingIn,
    QualificationIn,
    RecordIn,
    RegistrationIn,
)
from registry.errors import FieldError
from registry.labels import CATEGORY, CE_KIND, MEASURE, REGISTRATION_KIND, Enumeration
from registry.messages import Language, translate
from web.i18n import N_

__all__ = [
    "FORMS",
    "Field",
    "RecordForm",
    "field_errors",
    "form_of_type",
    "read_record",
    "values_of",
]

Errors = dict[str, list[str]]


@dataclass(frozen=True)
class Field:
    """One field of a form: its name, its place in the model, how it is typed in
    (``text``, ``date``, ``number``, ``select``, ``lines``, ``checks``, ``secret``),
    its label, its choices (an enumeration's codes) and whether it may stay empty."""

    name: str
    path: tuple[str, ...]
    label: str
    widget: str = "text"
    choices: Enumeration | None = None
    optional: bool = False
    hint: str | None = None

    def words(self, value: Any) -> tuple[str, str]:
        """A value as the confirmation shows it, in Chinese and in English: a choice by
        its label, several by theirs."""
        named = {code: (zh, en) for code, zh, en in self.options()}
        values = value if isinstance(value, list) else [value]
        found = [named.get(str(v), (str(v), str(v))) for v in values]
        return "、".join(zh for zh, _ in found), ", ".join(en for _, en in found)

    def options(self) -> list[tuple[str, str, str]]:
        """Each choice: its code, its Chinese label, its English name."""
        if self.choices is None:
            return []
        return [
            (code, label, code.replace("-", " ").capitalize())
            for code, label in self.choices.labels.items()
        ]


@dataclass(frozen=True)
class RecordForm:
    """The form of one kind of record: its address slug, its type, its title, its
    model and its fields."""

    slug: str
    credential_type: str
    title: str
    model: type[BaseModel]
    fields: tuple[Field, ...]

    def field_of(self, path: tuple[str, ...]) -> str | None:
        """The field at ``path`` in the model (or the one holding it)."""
        for cut in range(len(path), 0, -1):
            for field in self.fields:
                if field.path == path[:cut]:
                    return field.name
        return None


_ID_HINT = N_("18 characters. Signed only masked; never kept or shown in clear.")
_HOLDER = (
    Field("holder_name", ("holder", "name"), N_("Name")),
    Field("id_number", ("holder", "id_number"), N_("Resident ID number"), "secret", hint=_ID_HINT),
)


def _pilot(name: str, party: str) -> Field:
    """The box that takes a credit code whose check character fails as a known early
    pilot code (the credential then says so), as the API's ``pilot_code`` does."""
    return Field(
        name,
        (party, "pilot_code"),
        N_("An early pilot code: its check character does not match"),
        "check",
        optional=True,
    )


_LISTED_KIND = Enumeration(
    "a kind of party", "主体类型", {"organisation": "单位", "person": "个人"}
)

FORMS: dict[str, RecordForm] = {
    form.slug: form
    for form in (
        RecordForm(
            "qualification",
            "SafetyEngineerQualification",
            N_("Junior safety-engineer qualification"),
            QualificationIn,
            (
                *_HOLDER,
                Field("certificate_number", ("certificate_number",), N_("Certificate number")),
                Field("category", ("category",), N_("Category"), "select", CATEGORY),
                Field("issued_on", ("issued_on",), N_("Issued on"), "date"),
            ),
        ),
        RecordForm(
            "registration",
            "SafetyEngineerRegistration",
            N_("Junior safety-engineer registration"),
            RegistrationIn,
            (
                *_HOLDER,
                Field("registration_number", ("registration_number",), N_("Registration number")),
                Field(
                    "qualification",
                    ("qualification",),
                    N_("Qualification it rests on"),
                    hint=N_("Its certificate number, or its credential id."),
                ),
                Field("category", ("category",), N_("Category"), "select", CATEGORY),
                Field("employer_name", ("employer", "name"), N_("Employer")),
                Field(
                    "employer_code", ("employer", "credit_code"), N_("Unified social credit code")
                ),
                _pilot("employer_pilot", "employer"),
                Field("kind", ("kind",), N_("Kind of registration"), "select", REGISTRATION_KIND),
                Field(
                    "changes",
                    ("changes",),
                    N_("Registration it changes"),
                    optional=True,
                    hint=N_("For a change of employer only: its registration number."),
                ),
                Field("valid_from", ("valid_from",), N_("Valid from"), "date"),
                Field("valid_until", ("valid_until",), N_("Valid until"), "date"),
            ),
        ),
        RecordForm(
            "ce",
            "ContinuingEducationCredit",
            N_("Continuing-education hours"),
            ContinuingEducationIn,
            (
                *_HOLDER,
                Field("course_title", ("course_title",), N_("Course")),
                Field("provider_name", ("provider", "name"), N_("Training provider")),
                Field(
                    "provider_code", ("provider", "credit_code"), N_("Unified social credit code")
                ),
                _pilot("provider_pilot", "provider"),
                Field("hours", ("hours",), N_("Hours"), "number"),
                Field("kind", ("kind",), N_("Kind of hours"), "select", CE_KIND),
                Field("completed_on", ("completed_on",), N_("Completed on"), "date"),
            ),
        ),
        RecordForm(
            "listing",
            "UntrustworthinessListing",
            N_("Production-safety untrustworthiness listing"),
            ListingIn,
            (
                Field(
                    "listed_kind", ("listed", "kind"), N_("Kind of party"), "select", _LISTED_KIND
                ),
                Field("listed_name", ("listed", "name"), N_("Name of the listed party")),
                Field(
                    "listed_code",
                    ("listed", "credit_code"),
                    N_("Unified social credit code"),
                    optional=True,
                    hint=N_("For an organisation."),
                ),
                _pilot("listed_pilot", "listed"),
                Field(
                    "listed_id_number",
                    ("listed", "id_number"),
                    N_("Resident ID number"),
                    "secret",
                    optional=True,
                    hint=N_("For a person. Signed only masked; never kept or shown in clear."),
                ),
                Field("legal_basis", ("legal_basis",), N_("Legal basis")),
                Field(
                    "penalty_decision_number",
                    ("penalty_decision_number",),
                    N_("Penalty decision number"),
                ),
                Field(
                    "listing_decision_number",
                    ("listing_decision_number",),
                    N_("Listing decision number"),
                ),
                Field("listed_on", ("listed_on",), N_("Listed on"), "date"),
                Field(
                    "measures",
                    ("measures",),
                    N_("Measures"),
                    "lines",
                    hint=N_("One measure a line, as the decision words it."),
                ),
                Field(
                    "measure_codes",
                    ("measure_codes",),
                    N_("Measures coded"),
                    "checks",
                    MEASURE,
                    optional=True,
                ),
            ),
        ),
    )
}
_BY_TYPE = {form.credential_type: form for form in FORMS.values()}


def form_of_type(credential_type: str) -> RecordForm | None:
    """The form that issues records of ``credential_type``, if there is one."""
    return _BY_TYPE.get(credential_type)


def _placed(target: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for step in path[:-1]:
        target = target.setdefault(step, {})
    target[path[-1]] = value


def _request(form: RecordForm, values: Mapping[str, Any], authority: str) -> dict[str, Any]:
    """The request the form's values make, as the API would receive it: empty fields
    left out (a required one is then named missing)."""
    body: dict[str, Any] = {"type": form.credential_type, "authority": authority}
    listed_kind = str(values.get("listed_kind") or "")
    for field in form.fields:
        value = values.get(field.name)
        if field.widget == "lines":
            value = [line.strip() for line in str(value or "").splitlines() if line.strip()]
        elif field.widget == "checks":
            value = list(value or [])
        elif field.widget == "check":
            value = True if value else None
        if value in ("", None, []):
            continue
        # A listing names an organisation by its credit code, a person by their number.
        if field.name in ("listed_code", "listed_pilot") and listed_kind == "person":
            continue
        if field.name == "listed_id_number" and listed_kind != "person":
            continue
        _placed(body, field.path, value)
    if values.get("replaces"):
        body["replaces"] = str(values["replaces"])
    return body


def _message(text: str, lang: Language) -> str:
    return translate(str(text).removeprefix("Value error, "), lang)


def _validation_errors(form: RecordForm, exc: ValidationError, lang: Language) -> Errors:
    found: Errors = {}
    for error in exc.errors():
        # A union's member shows as a step of its own (``listed.organisation.name``).
        path = tuple(str(step) for step in error["loc"] if step not in ("organisation", "person"))
        name = form.field_of(path) or ("replaces" if path[:1] == ("replaces",) else "form")
        found.setdefault(name, []).append(_message(error["msg"], lang))
    return found


def read_record(
    form: RecordForm, values: Mapping[str, Any], *, authority: str, lang: Language
) -> tuple[RecordIn | None, Errors]:
    """The record the form's ``values`` ask for, issued by ``authority``, or ``None``
    and each problem by the field it is about (in ``lang``)."""
    try:
        item: RecordIn = form.model.model_validate(_request(form, values, authority))  # type: ignore[assignment]  # the form's model is one of RecordIn's
    except ValidationError as exc:
        return None, _validation_errors(form, exc, lang)
    return item, {}


def field_errors(form: RecordForm, problems: list[FieldError], lang: Language) -> Errors:
    """``check_records``' problems by the field of ``form`` each is about."""
    found: Errors = {}
    for problem in problems:
        path = tuple(problem.field.split("."))
        name = form.field_of(path) or ("replaces" if path[:1] == ("replaces",) else "form")
        found.setdefault(name, []).append(_message(problem.message, lang))
    return found


def _dig(subject: Mapping[str, Any], *steps: str) -> Any:
    found: Any = subject
    for step in steps:
        found = found.get(step) if isinstance(found, Mapping) else None
    return found


def values_of(form: RecordForm, document: Mapping[str, Any]) -> dict[str, Any]:
    """A record's content (its signed ``document``) as ``form``'s values, to correct it:
    everything but an ID number, which the credential does not carry in clear and must
    be typed again."""
    subject: Mapping[str, Any] = document.get("credentialSubject") or {}
    values: dict[str, Any] = {}
    if form.slug == "registration":
        # A registration's term is its credential's validity: from the first instant of
        # its first day to the first instant after its last, in China.
        first = _china_day(document.get("validFrom"))
        after = _china_day(document.get("validUntil"))
        if first is not None:
            values["valid_from"] = first.isoformat()
        if after is not None:
            values["valid_until"] = (after - timedelta(days=1)).isoformat()
    for field in form.fields:
        if field.widget == "secret":
            continue
        if field.widget == "check":
            if _dig(subject, field.path[0], "creditCodeCheck") == "pilot":
                values[field.name] = "1"
            continue
        camel = "".join(
            part if n == 0 else part.capitalize()
            for n, part in enumerate(field.path[-1].split("_"))
        )
        if field.path[0] in ("holder", "employer", "provider", "listed") and len(field.path) == 2:
            key = {"credit_code": "creditCode"}.get(field.path[1], camel)
            value = _dig(subject, field.path[0], key)
        elif field.name == "course_title":
            value = _dig(subject, "course", "title")
        else:
            value = subject.get(camel)
        if field.widget == "lines" and isinstance(value, list):
            value = "\n".join(str(v) for v in value)
        if value is not None and field.name not in values:
            values[field.name] = value
    return values


def _china_day(value: object) -> date | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return china_today(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        return None
