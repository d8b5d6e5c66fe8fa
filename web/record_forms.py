"""The console's forms for one record: a qualification, a registration, CE hours or a
listing as flat form fields, each paired with its place in the API's request model
(``registry.credentials.records``). Reading a form into the model, and a record back
into its form, is ``web.record_input``.

The form's fields are flat (``employer_code``); the models are nested
(``employer.credit_code``): ``FORMS`` pairs each field with its place in the model,
so that a model's error and ``check_records``' finds land beside the field a person
typed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from registry.credentials.records import (
    ContinuingEducationIn,
    ListingIn,
    QualificationIn,
    RegistrationIn,
)
from registry.labels import (
    CATEGORY,
    CE_KIND,
    MEASURE,
    REGISTRATION_KIND,
    RELATED_ROLE,
    Enumeration,
)
from web.i18n import N_

__all__ = ["FORMS", "RELATED_ROWS", "Field", "RecordForm", "form_of_type"]


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
    group: int | None = None
    """The row of a repeated part (a listing's persons responsible), from 1."""

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


RELATED_ROWS = 3
"""The persons responsible a listing's form takes (the API takes up to 20)."""


def _related(row: int) -> tuple[Field, ...]:
    """The fields of the person responsible in ``row``: role, name, ID number."""
    at = ("related_persons", f"#{row}")
    return (
        Field(
            f"related_{row}_role",
            (*at, "role"),
            N_("Role in the company"),
            "select",
            RELATED_ROLE,
            True,
            group=row,
        ),
        Field(f"related_{row}_name", (*at, "name"), N_("Name"), optional=True, group=row),
        Field(
            f"related_{row}_id_number",
            (*at, "id_number"),
            N_("Resident ID number"),
            "secret",
            optional=True,
            group=row,
        ),
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
                *(field for row in range(1, RELATED_ROWS + 1) for field in _related(row)),
            ),
        ),
    )
}
_BY_TYPE = {form.credential_type: form for form in FORMS.values()}


def form_of_type(credential_type: str) -> RecordForm | None:
    """The form that issues records of ``credential_type``, if there is one."""
    return _BY_TYPE.get(credential_type)
