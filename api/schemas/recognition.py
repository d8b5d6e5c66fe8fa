"""What goes over the wire about recognition agreements."""

from __future__ import annotations

import datetime as dt
from datetime import date
from typing import Any

from pydantic import BaseModel, Field

__all__ = ["AgreementOut", "AgreementsOut"]


class AgreementOut(BaseModel):
    """One agreement: what it recognises, between whom, when, on what basis."""

    id: str
    issuer: str = Field(description="The party that proposed it; its log holds it.")
    parties: list[str]
    direction: str = Field(description="`mutual`, or `one-way` from `source` to `target`.")
    source: str | None = None
    target: str | None = None
    kinds: list[str] = Field(description="`qualification`, `registration`, `continuing-education`.")
    categories: list[str] | None = Field(description="`null`: every category.")
    levels: list[str]
    effective_from: date
    effective_until: date | None = Field(description="Its last day in force; `null`: open.")
    terminated_on: date | None = Field(
        description="The day a party's termination takes effect, if one did."
    )
    termination: str | None = Field(description="The id of the terminating `StatusChange`.")
    basis_number: str
    basis_title: str
    credential: dict[str, Any] = Field(description="The signed credential, every party's proof.")


class AgreementsOut(BaseModel):
    """The agreements in force on a day."""

    date: dt.date
    agreements: list[AgreementOut]
