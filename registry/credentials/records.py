"""The record types an authority issues: what each says, validated when built.

Each input model holds what an issuing office decides, in the names the API and
bulk import use; ``subject()`` writes the credential's ``credentialSubject``.
Personal ID numbers come in, are validated, and leave only as a
``PersonIdentifier`` (masked form, a binding whose salt stays with the issuer, and
the federation's look-up key): never in clear, and never testable against a guess.
Field names are documented in ``docs/records.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from registry.calendar import Day, add_years
from registry.credentials.envelope import CredentialType
from registry.errors import InvalidInput, RegistryError
from registry.ids import (
    Category,
    CreditCodeText,
    LookupSecrets,
    PersonIdentifier,
    ProvinceCodeText,
    ResidentId,
    ResidentIdText,
    parse_category,
    parse_credit_code,
    parse_resident_id,
    province,
)
from registry.labels import (
    CATEGORY,
    CE_KIND,
    LISTED_KIND,
    MEASURE,
    REGISTRATION_KIND,
    RELATED_ROLE,
)
from registry.text import OrganisationName, PersonName, Reference, Text

__all__ = [
    "LISTING_YEARS",
    "MAX_CE_HOURS",
    "MAX_MEASURE_CODES",
    "MAX_REGISTRATION_YEARS",
    "ContinuingEducationIn",
    "HolderIn",
    "ListedIndividualIn",
    "ListedOrganisationIn",
    "ListedPersonIn",
    "ListingIn",
    "NamedParty",
    "OrganisationIn",
    "QualificationIn",
    "RecordIn",
    "RegistrationIn",
    "identify_person",
    "named_parties",
    "named_people",
]

MAX_CE_HOURS = 200
"""More hours than any single course grants: a typo, not a course."""

MAX_REGISTRATION_YEARS = 5
"""A registration is valid for at most five years: ``valid_until``, its last day, at
most ``add_years(valid_from, 5)`` (民法典第二百零一条、第二百零二条)."""

LISTING_YEARS = 3
"""A listing is in force for three years: through ``add_years(listed_on, 3)``."""

# What each text field may hold: registry.text.
_Text = Annotated[Text, Field(min_length=1, max_length=200)]
_PersonName = Annotated[PersonName, Field(min_length=1, max_length=200)]
_OrganisationName = Annotated[OrganisationName, Field(min_length=1, max_length=200)]
# Certificate and registration numbers: letters, digits and separators.
_Category = Annotated[
    Category,
    BeforeValidator(
        lambda value: _as_value_error(parse_category, value) if isinstance(value, str) else value
    ),
    CATEGORY.schema("专业类别: the category."),
]
_Number = Annotated[
    str, Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z][0-9A-Za-z\-_/]*$")
]


def _tags_required(schema: dict[str, Any]) -> None:
    # A union member's tag (`type`, `kind`) has a default so that code can build the
    # model without naming it; on the wire the union needs it to tell the members apart,
    # so the document says it is required.
    properties = schema.get("properties", {})
    for tag in ("type", "kind"):
        if "const" in properties.get(tag, {}) and tag not in schema.get("required", []):
            schema.setdefault("required", []).insert(0, tag)


class _Input(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="forbid", str_strip_whitespace=True, json_schema_extra=_tags_required
    )


class HolderIn(_Input):
    """A person: their name and resident ID number (which never leaves in clear)."""

    name: _PersonName
    id_number: ResidentIdText = Field(
        description=(
            "Resident ID number (GB 11643): signed only as a masked form, a binding and a "
            "look-up key, never in clear."
        ),
        repr=False,
    )

    @field_validator("id_number")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        return _as_value_error(parse_resident_id, value)


class OrganisationIn(_Input):
    """An organisation: its name and unified social credit code (GB 32100).

    A code whose check character does not match is refused as mistyped, unless
    ``pilot_code`` says it is a known early pilot code; the credential then says so
    (``creditCodeCheck: "pilot"``).
    """

    name: _OrganisationName
    # Before credit_code: fields are validated in this order, and the code's check
    # reads it.
    pilot_code: bool = Field(
        default=False,
        description=(
            "The credit code is a known early pilot code whose check character does not "
            "match: take it as it is, and say so in the credential. Without it such a code "
            "is refused as mistyped."
        ),
    )
    credit_code: CreditCodeText

    @field_validator("credit_code")
    @classmethod
    def _valid_code(cls, value: str, info: ValidationInfo) -> str:
        code = _as_value_error(parse_credit_code, value)
        if not code.check_ok and info.data.get("pilot_code") is not True:
            raise ValueError(
                "the check character does not match: the code was probably mistyped "
                "(for a known early pilot code, say pilot_code)"
            )
        return code.code

    @property
    def pilot(self) -> bool:
        """Whether the code is taken as a pilot code: said so, and its check fails."""
        return self.pilot_code and not parse_credit_code(self.credit_code).check_ok

    def subject(self) -> dict[str, Any]:
        """The organisation as a credential names it."""
        subject = {"name": self.name, "creditCode": self.credit_code}
        if self.pilot:
            subject["creditCodeCheck"] = "pilot"
        return subject


def identify_person(
    person: HolderIn, lookup: LookupSecrets
) -> tuple[dict[str, Any], PersonIdentifier, bytes]:
    """The person as a credential names them, their identifier, and the salt of its
    binding: the disclosure, which the issuer keeps and hands to the person alone."""
    identifier, salt = PersonIdentifier.of(ResidentId(person.id_number), lookup)
    return {"name": person.name, "identifier": identifier.json()}, identifier, salt


@dataclass(frozen=True)
class NamedParty:
    """Someone a record's credential names: a person (with the identifier the
    credential gives them) or an organisation (with its credit code)."""

    role: str
    name: str
    identifier: PersonIdentifier | None = None
    credit_code: str | None = None

    @property
    def person(self) -> bool:
        """Whether this is a person rather than an organisation."""
        return self.identifier is not None


def _field(value: Mapping[str, Any], key: str) -> str:
    found = value[key]
    if not isinstance(found, str):
        raise TypeError(f"{key} is not a string")
    return found


def _named_person(value: Mapping[str, Any], role: str) -> NamedParty:
    return NamedParty(
        role=role,
        name=_field(value, "name"),
        identifier=PersonIdentifier.from_json(value.get("identifier")),
    )


def _named_organisation(value: Mapping[str, Any], role: str) -> NamedParty:
    return NamedParty(
        role=role, name=_field(value, "name"), credit_code=_field(value, "creditCode")
    )


def named_parties(kind: str, subject: Mapping[str, Any]) -> list[NamedParty]:
    """Who a record of type ``kind`` names, in the order issuing indexes them (the
    ``record_party`` positions). Raises ``KeyError``, ``TypeError`` or
    ``InvalidResidentId`` for a subject not in the record format."""
    if kind == CredentialType.LISTING:
        listed = subject["listed"]
        first = (
            _named_person(listed, "listed")
            if listed["kind"] == "person"
            else _named_organisation(listed, "listed")
        )
        related = [_named_person(p, _field(p, "role")) for p in subject["relatedPersons"]]
        return [first, *related]
    holder = _named_person(subject["holder"], "holder")
    if kind == CredentialType.REGISTRATION:
        return [holder, _named_organisation(subject["employer"], "employer")]
    if kind == CredentialType.CE_CREDIT:
        return [holder, _named_organisation(subject["provider"], "provider")]
    return [holder]


def named_people(kind: str, document: Mapping[str, Any]) -> dict[int, PersonIdentifier]:
    """The identifier of each person a record's credential names, by party position;
    none for a credential that is not a record, or not in the record format."""
    try:
        parties = named_parties(kind, document["credentialSubject"])
    except (RegistryError, KeyError, TypeError):
        return {}
    return {
        position: party.identifier
        for position, party in enumerate(parties)
        if party.identifier is not None
    }


class _RecordIn(_Input):
    """What every record request says besides its content: who issues it, what it corrects."""

    authority: ProvinceCodeText = Field(
        description="The issuing authority (`CN-SH`, `CN-JS`, `CN-ZJ`, `CN-AH`, ...)."
    )
    replaces: Reference | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description=(
            "A correction of a data-entry mistake: the id of the record this one replaces. "
            "The old record is superseded (state `superseded`, not `revoked`: a correction "
            "is not a decision) by a StatusChange in the same transaction."
        ),
    )

    @field_validator("authority")
    @classmethod
    def _authority(cls, value: str) -> str:
        return _as_value_error(lambda code: province(code).iso, value)


class QualificationIn(_RecordIn):
    """职业资格: a junior registered safety engineer's lifelong certificate in a category."""

    type: Literal["SafetyEngineerQualification"] = "SafetyEngineerQualification"
    holder: HolderIn
    certificate_number: _Number
    category: _Category
    issued_on: Day
    level: Literal["junior"] = "junior"

    def subject(self, holder: dict[str, Any]) -> dict[str, Any]:
        """The ``credentialSubject``, given the committed holder."""
        return {
            "holder": holder,
            "certificateNumber": self.certificate_number,
            "level": self.level,
            "category": self.category.value,
            "issuedOn": self.issued_on.isoformat(),
        }


class RegistrationIn(_RecordIn):
    """注册: a licence to practise for one employer, valid for at most five years."""

    type: Literal["SafetyEngineerRegistration"] = "SafetyEngineerRegistration"
    holder: HolderIn
    registration_number: _Number
    qualification: Reference = Field(
        min_length=1,
        max_length=128,
        description=(
            "The qualification it rests on: its credential id (`urn:uuid:...`) or its "
            "certificate number."
        ),
    )
    category: _Category
    employer: OrganisationIn
    kind: Annotated[
        Literal["initial", "renewal", "change", "re-registration"],
        REGISTRATION_KIND.before(),
        REGISTRATION_KIND.schema("What the registration is."),
    ]
    changes: Reference | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description=(
            "变更的注册: for a change registration (`kind` `change`, and only then), the "
            "registration it changes: its credential id (`urn:uuid:...`) or registration "
            "number. It must be the same person's active registration with this authority. "
            "The term is kept: `valid_until` must be that registration's last day, and "
            "`valid_from` a day within it. The changed registration is superseded from "
            "`valid_from` in the same transaction (scheduled, if that day is ahead); the "
            "credential says `changes` (its id) and `termStartsOn` (the first day of the "
            "term)."
        ),
    )
    valid_from: Day
    valid_until: Day

    @field_validator("valid_until")
    @classmethod
    def _window(cls, value: date, info: ValidationInfo) -> date:
        start = info.data.get("valid_from")
        if not isinstance(start, date):
            return value  # valid_from is itself invalid, and reported
        if value <= start:
            raise ValueError("valid_until must follow valid_from")
        if value > add_years(start, MAX_REGISTRATION_YEARS):
            raise ValueError(f"a registration runs at most {MAX_REGISTRATION_YEARS} years")
        return value

    def subject(self, holder: dict[str, Any]) -> dict[str, Any]:
        """The ``credentialSubject``, given the committed holder."""
        return {
            "holder": holder,
            "registrationNumber": self.registration_number,
            "qualification": self.qualification,
            "category": self.category.value,
            "employer": self.employer.subject(),
            "kind": self.kind,
        }


class ContinuingEducationIn(_RecordIn):
    """继续教育学时: hours earned on a course, general (公需) or professional (专业)."""

    type: Literal["ContinuingEducationCredit"] = "ContinuingEducationCredit"
    holder: HolderIn
    course_title: _Text
    provider: OrganisationIn
    hours: float = Field(gt=0, le=MAX_CE_HOURS, json_schema_extra={"multipleOf": 0.5})
    kind: Annotated[
        Literal["general", "professional"],
        CE_KIND.before(),
        CE_KIND.schema("学时类型: general (公需) or professional (专业) hours."),
    ]
    completed_on: Day

    @field_validator("hours")
    @classmethod
    def _half_hours(cls, value: float) -> float:
        if value * 2 != int(value * 2):
            raise ValueError("hours are counted in halves")
        return value

    def subject(self, holder: dict[str, Any]) -> dict[str, Any]:
        """The ``credentialSubject``, given the committed holder."""
        hours: int | float = int(self.hours) if self.hours == int(self.hours) else self.hours
        return {
            "holder": holder,
            "course": {"title": self.course_title},
            "provider": self.provider.subject(),
            "hours": hours,
            "kind": self.kind,
            "completedOn": self.completed_on.isoformat(),
        }


_T = TypeVar("_T")


def _as_value_error(parse: Callable[[str], _T], value: str) -> _T:
    # Pydantic reports ValueErrors as field errors; the domain parsers raise
    # InvalidInput with a message that never echoes an ID number.
    try:
        return parse(value)
    except InvalidInput as exc:
        raise ValueError(exc.message) from None


class ListedPersonIn(HolderIn):
    """A person named in a listing, in the terms of 《安全生产严重失信主体名单管理办法》
    (应急管理部令第11号): the unit's principal, a responsible person, a directly
    responsible person, or another person bearing responsibility
    (``registry.labels.RELATED_ROLE``)."""

    role: Annotated[
        Literal["principal", "responsible", "directly-responsible", "other-responsible"],
        RELATED_ROLE.before(),
        RELATED_ROLE.schema(
            "How the listing names the person, in the terms of 《安全生产严重失信主体名单"
            "管理办法》 (应急管理部令第11号)."
        ),
    ]


MAX_MEASURE_CODES = len(MEASURE.codes)
"""A listing's coded measures: each code at most once."""

_MeasureCode = Annotated[
    Literal[
        "key-supervision",
        "restrict-funding",
        "restrict-procurement",
        "restrict-practice",
        "other",
    ],
    MEASURE.before(),
    MEASURE.schema("A measure the listing takes (措施代码)."),
]


class ListedOrganisationIn(OrganisationIn):
    """The organisation a listing names."""

    kind: Literal["organisation"] = "organisation"


class ListedIndividualIn(HolderIn):
    """A person a listing names on their own."""

    kind: Literal["person"] = "person"


class ListingIn(_RecordIn):
    """严重失信主体名单: an entry on the production-safety untrustworthiness list.

    The dates that follow from the listing date are computed, not entered, by the
    Civil Code's periods (民法典第二百零一条、第二百零二条; ``registry.calendar``):
    the listing is in force through ``add_years(listed_on, 3)``, so it expires the day
    after; credit repair may lift it from the day after ``add_years(listed_on, 1)``.
    """

    type: Literal["UntrustworthinessListing"] = "UntrustworthinessListing"
    listed: Annotated[ListedOrganisationIn | ListedIndividualIn, Field(discriminator="kind")]
    related_persons: list[ListedPersonIn] = Field(default_factory=list, max_length=20)
    legal_basis: _Text
    penalty_decision_number: _Text
    listing_decision_number: _Text
    listed_on: Day
    measures: list[_Text] = Field(min_length=1, max_length=20)
    measure_codes: list[_MeasureCode] = Field(
        default_factory=list,
        max_length=MAX_MEASURE_CODES,
        description=(
            "The measures coded (措施代码), each at most once; optional. The credential "
            "carries them as `measureCodes` only when there are any."
        ),
    )

    @field_validator("measure_codes")
    @classmethod
    def _each_measure_once(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("each measure code at most once")
        return value

    @model_validator(mode="before")
    @classmethod
    def _listed_kind(cls, value: object) -> object:
        # `listed` is told apart by its kind before any field validator runs: a
        # Chinese label (单位, 个人) is read as its code first.
        if isinstance(value, dict) and isinstance(value.get("listed"), dict):
            listed = value["listed"]
            kind = listed.get("kind")
            if isinstance(kind, str) and kind not in LISTED_KIND.codes:
                try:
                    code = LISTED_KIND.parse(kind)
                except InvalidInput:
                    return value  # the union answers with the kinds it takes
                return {**value, "listed": {**listed, "kind": code}}
        return value

    @property
    def last_day_in_force(self) -> date:
        """The listing's last day in force: its three years run from the day after
        ``listed_on`` to the corresponding day three years on, 28 February for a
        listing of 29 February where that year has none (民法典第二百零一条、第二百零二条)."""
        return add_years(self.listed_on, LISTING_YEARS)

    @property
    def earliest_removal_on(self) -> date:
        """The first day credit repair may lift the listing: the day after its first
        twelve months are complete (counted as ``last_day_in_force``)."""
        return add_years(self.listed_on, 1) + timedelta(days=1)

    @property
    def expires_on(self) -> date:
        """The day the listing ends by itself, the first day it is no longer in force:
        the day after ``last_day_in_force``."""
        return self.last_day_in_force + timedelta(days=1)

    def people(self) -> list[HolderIn]:
        """Every person whose number the listing commits to, listed first."""
        listed = [self.listed] if isinstance(self.listed, ListedIndividualIn) else []
        return [*listed, *self.related_persons]

    def subject(self, committed: list[dict[str, Any]]) -> dict[str, Any]:
        """The ``credentialSubject``, given the people committed in ``people()`` order."""
        people = iter(committed)
        if isinstance(self.listed, ListedIndividualIn):
            listed: dict[str, Any] = {"kind": "person", **next(people)}
        else:
            listed = {"kind": "organisation", **self.listed.subject()}
        return {
            "listed": listed,
            "relatedPersons": [
                {**next(people), "role": person.role} for person in self.related_persons
            ],
            "legalBasis": self.legal_basis,
            "penaltyDecisionNumber": self.penalty_decision_number,
            "listingDecisionNumber": self.listing_decision_number,
            "listedOn": self.listed_on.isoformat(),
            "earliestRemovalOn": self.earliest_removal_on.isoformat(),
            "expiresOn": self.expires_on.isoformat(),
            "measures": list(self.measures),
            # Only when coded: a listing without codes keeps the form it always had.
            **({"measureCodes": list(self.measure_codes)} if self.measure_codes else {}),
        }


RecordIn = Annotated[
    QualificationIn | RegistrationIn | ContinuingEducationIn | ListingIn,
    Field(discriminator="type"),
]
"""Any record an authority issues, told apart by ``type``: the ``CredentialType`` value,
written as a plain string so that a wrong type is answered with the names a client
can send."""
