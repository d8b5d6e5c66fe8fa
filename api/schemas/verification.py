"""What goes over the wire when engineers are verified: the questions and the batch's
answers. A single verification answers with a signed report (``SignedDocument``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import InitErrorDetails, PydanticCustomError

from api.schemas.common import one_way_of
from registry.calendar import Day
from registry.errors import InvalidInput
from registry.ids import (
    PROVINCES,
    CreditCodeText,
    ResidentIdText,
    parse_category,
    parse_credit_code,
    parse_resident_id,
    province,
    province_short_name,
)
from registry.labels import CATEGORY
from registry.policies import load_policies
from registry.text import PersonName, Printable
from registry.verification import EngineerQuery
from registry.verification.batch import MAX_BATCH

__all__ = ["EngineerIn", "ReasonOut", "VerdictRowOut", "VerifyBatchIn", "VerifyBatchOut"]


_RULED_REGIONS: dict[str, Any] = {
    "type": "string",
    # The regions whose rules the registry carries (registry/ce/policies), by either code.
    "enum": [
        code
        for p in PROVINCES
        if p.iso in {policy.authority for policy in load_policies().policies}
        for code in (p.iso, p.gb, p.name_zh, province_short_name(p))
    ],
}


_CATEGORIES = CATEGORY.json_schema("Only this category.")


_READERS: dict[str, Callable[[str], object]] = {
    "id_number": parse_resident_id,
    "region": province,
    "category": parse_category,
    "employer": parse_credit_code,
}


def _way_problem(id_number: object, registration_number: object, name: object) -> str | None:
    """Why the way a person is named is not one the registry looks up, if it is not."""
    if (id_number is None) == (registration_number is None):
        return "give id_number, or registration_number and name"
    if registration_number is not None and not name:
        return "a registration number is looked up with the holder's name"
    return None


class EngineerIn(BaseModel):
    """Who to verify, where and when."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra=one_way_of(("id_number",), ("registration_number", "name")),
    )

    id_number: ResidentIdText | None = Field(
        default=None,
        repr=False,
        description="The resident ID number (GB 11643). Or give registration_number and name.",
    )
    registration_number: Printable | None = Field(
        default=None, max_length=64, description="A registration number, with the holder's name."
    )
    name: PersonName | None = Field(default=None, max_length=200, description="The holder's name.")
    region: Annotated[Printable, WithJsonSchema(_RULED_REGIONS)] = Field(
        description="Where the person will work: `CN-SH`, `CN-JS`, `CN-ZJ` or `CN-AH` (or "
        "`310000`, or the name: `上海市`, `上海`)."
    )
    category: Annotated[Printable, WithJsonSchema(_CATEGORIES)] | None = Field(
        default=None, description=CATEGORY.description("Only this category.")
    )
    date: Day | None = Field(default=None, description="The day asked about (default: today).")
    employer: CreditCodeText | None = Field(
        default=None,
        description=(
            "The employer asking (its unified social credit code): the answer then says "
            "whether the engineer is registered to it. An engineer practises for the one "
            "employer registered (不得同时受聘于两个或两个以上单位)."
        ),
    )

    @field_validator("id_number", "region", "category", "employer")
    @classmethod
    def _readable(cls, value: str | None, info: ValidationInfo) -> str | None:
        # Checked here as the query will read them, so that a bad ID number, region or
        # category is reported with the row's other problems, not after them.
        if value is not None:
            try:
                _READERS[info.field_name or ""](value)
            except InvalidInput as exc:
                raise ValueError(exc.message) from None
        return value

    @model_validator(mode="wrap")
    @classmethod
    def _one_way(cls, value: Any, handler: ModelWrapValidatorHandler[EngineerIn]) -> EngineerIn:
        # Checked on what was given even when a field is wrong, and reported with the
        # field errors: a row's problems come back at once, never in rounds.
        try:
            model = handler(value)
        except ValidationError as exc:
            given = value if isinstance(value, dict) else {}
            problem = _way_problem(
                given.get("id_number"), given.get("registration_number"), given.get("name")
            )
            if problem is None:
                raise
            details: list[InitErrorDetails] = [
                {"type": e["type"], "loc": e["loc"], "input": e["input"], "ctx": e.get("ctx", {})}
                for e in exc.errors()
            ]
            details.append(
                {"type": PydanticCustomError("value_error", problem), "loc": (), "input": value}
            )
            raise ValidationError.from_exception_data(exc.title, details) from None
        problem = _way_problem(model.id_number, model.registration_number, model.name)
        if problem is not None:
            raise ValueError(problem)
        return model

    def query(self) -> EngineerQuery:
        """The domain's question."""
        return EngineerQuery(
            region=self.region,
            id_number=self.id_number,
            registration_number=self.registration_number,
            name=self.name,
            category=self.category,
            on=self.date,
            employer=self.employer,
        )


class VerifyBatchIn(BaseModel):
    """Up to 10,000 people to verify."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rows: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=MAX_BATCH,
        description="Each row as for `/v1/verify/engineer`; a bad row is answered as that "
        "row's error.",
    )


class ReasonOut(BaseModel):
    """One reason for a verdict, with a stable code, in Chinese and English."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(examples=["registration-valid"])
    holds: bool | None = Field(default=None, description="Whether the condition holds.")
    decides: bool | None = Field(
        default=None,
        description=(
            "Whether the reason decides the verdict (the verdict is `qualified` exactly "
            "when every deciding reason holds) or only informs beside it (continuing "
            "education, listings whose measures do not restrict practice, another "
            "registration in force, a mirrored log not confirmed with its origin within "
            "the node's bound: `mirror-stale`). docs/verification.md lists every code."
        ),
    )
    zh: str
    en: str


class AskedOut(BaseModel):
    """What a row asked, echoed beside its answer: never the whole ID number."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True)

    name: str | None = None
    resident_id_masked: str | None = Field(
        default=None,
        description="The ID number asked about, masked as records show it (an invalid one "
        "too: its first and last four characters at most).",
        examples=["3101**********021X"],
    )
    registration_number: str | None = None
    employer: str | None = Field(
        default=None, description="The employer's credit code the row asked for, as given."
    )


class LabelOut(BaseModel):
    """A verdict's label for people, beside its code."""

    model_config = ConfigDict(extra="forbid")

    zh: str = Field(examples=["合格"], description="合格, 不合格, 未查到, 姓名不符 or 输入有误.")
    en: str = Field(examples=["qualified"])


class VerdictRowOut(BaseModel):
    """One row's answer: the verdict, whom it is about and every reason; or the row's
    error. Either way, what the row asked."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True)

    row: int = Field(description="The row's number, from 1, in the order asked.")
    asked: AskedOut = Field(description="What the row asked (an invalid row too).")
    verdict_label: LabelOut | None = Field(
        default=None,
        description="The verdict for people: 合格 (qualified), 不合格 (not qualified), "
        "未查到 (no record found), 姓名不符 (the registration number exists under another "
        "name) or 输入有误 (the row is invalid; see `error`).",
    )
    found: bool | None = Field(default=None, description="Whether any record was found.")
    verdict: Literal["qualified", "not-qualified"] | None = None
    region: str | None = None
    date: dt.date | None = None
    name: str | None = Field(default=None, description="The holder's name, if any record.")
    resident_id_masked: str | None = Field(default=None, examples=["3101**********021X"])
    reasons: list[ReasonOut] | None = None
    error: str | None = Field(default=None, description="Why the row could not be answered.")


class VerifyBatchOut(BaseModel):
    """One result per row, in order."""

    model_config = ConfigDict(extra="forbid")

    results: list[VerdictRowOut]
