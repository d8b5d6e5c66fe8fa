"""Which state a record is in, and which changes the law allows from there.

Registrations can be suspended, reinstated, revoked and cancelled (注销). Listings
can be lifted early by credit repair (not before the earliest removal date), have a
lift reversed (the repair was obtained by fraud), or be withdrawn (the penalty was
overturned: as if never in force from the effective date). Any record can be
revoked, by a decision. A correction of a data-entry mistake is not a decision:
it retires the record it replaces by ``supersede`` (state ``superseded``), which a
change registration (变更注册) also does to the registration it changes; nobody asks
for it as a status change. Revoked, cancelled, withdrawn and superseded are final.

A change may be decided now to take effect on a later day, up to a year ahead
(``latest_effective_on``); until that day it is the record's one scheduled change,
which ``cancel-scheduled`` can cancel (``registry.issuing.scheduled``).
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from registry.calendar import Day
from registry.credentials.envelope import CredentialType
from registry.errors import Conflict, InvalidInput
from registry.labels import ACTION
from registry.text import Text

__all__ = [
    "ACTIONS",
    "ISSUING_ONLY",
    "Action",
    "State",
    "StatusChangeIn",
    "initial_state",
    "latest_effective_on",
    "next_state",
    "status_bits",
    "status_purposes",
]


class State(StrEnum):
    """Where a record stands (its Chinese labels: ``registry.labels.STATE``)."""

    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"
    CANCELLED = "cancelled"
    LISTED = "listed"
    LIFTED = "lifted"
    WITHDRAWN = "withdrawn"
    SUPERSEDED = "superseded"


class Action(StrEnum):
    """What a status change does (its Chinese labels: ``registry.labels.ACTION``)."""

    SUSPEND = "suspend"
    REINSTATE = "reinstate"
    REVOKE = "revoke"
    CANCEL = "cancel"
    LIFT = "lift"
    REVERSE_LIFT = "reverse-lift"
    WITHDRAW = "withdraw"
    CANCEL_SCHEDULED = "cancel-scheduled"
    SUPERSEDE = "supersede"


_ACTIONS: dict[str, dict[tuple[State, Action], State]] = {
    CredentialType.REGISTRATION: {
        (State.ACTIVE, Action.SUSPEND): State.SUSPENDED,
        (State.SUSPENDED, Action.REINSTATE): State.ACTIVE,
        (State.ACTIVE, Action.REVOKE): State.REVOKED,
        (State.SUSPENDED, Action.REVOKE): State.REVOKED,
        (State.ACTIVE, Action.CANCEL): State.CANCELLED,
        (State.SUSPENDED, Action.CANCEL): State.CANCELLED,
    },
    CredentialType.LISTING: {
        (State.LISTED, Action.LIFT): State.LIFTED,
        (State.LIFTED, Action.REVERSE_LIFT): State.LISTED,
        (State.LISTED, Action.WITHDRAW): State.WITHDRAWN,
        (State.LIFTED, Action.WITHDRAW): State.WITHDRAWN,
        (State.LISTED, Action.REVOKE): State.REVOKED,
        (State.LIFTED, Action.REVOKE): State.REVOKED,
    },
    CredentialType.QUALIFICATION: {(State.ACTIVE, Action.REVOKE): State.REVOKED},
    CredentialType.CE_CREDIT: {(State.ACTIVE, Action.REVOKE): State.REVOKED},
}

_FINAL = (State.REVOKED, State.CANCELLED, State.WITHDRAWN, State.SUPERSEDED)

ACTIONS: dict[str, dict[tuple[State, Action], State]] = {
    kind: {
        **moves,
        # A correction (or a change registration) supersedes a record in any state
        # that is not final.
        **{
            (state, Action.SUPERSEDE): State.SUPERSEDED
            for state in dict.fromkeys(s for s, _ in moves)
            if state not in _FINAL
        },
    }
    for kind, moves in _ACTIONS.items()
}
"""For each record type: (state, action) -> the state it leads to. Nothing else is legal."""

ISSUING_ONLY = frozenset({Action.SUPERSEDE})
"""Actions only issuing takes (a correction, a change registration): never a status
change someone asks for."""


def initial_state(credential_type: str) -> State:
    """The state a newly issued record of this type is in."""
    if credential_type not in ACTIONS:
        raise InvalidInput(f"{credential_type} records do not change state")
    return State.LISTED if credential_type == CredentialType.LISTING else State.ACTIVE


def next_state(
    credential_type: str,
    current: State,
    action: Action,
    *,
    effective_on: date,
    earliest_removal_on: date | None = None,
) -> State:
    """The state ``action`` leads to; raises ``Conflict`` saying why it is not allowed."""
    allowed = ACTIONS.get(credential_type)
    if allowed is None:
        raise InvalidInput(f"{credential_type} records do not change state")
    if current in _FINAL:
        raise Conflict(f"the record is {current.value}: that is final")
    target = allowed.get((current, action))
    if target is None:
        possible = sorted(a.value for (s, a) in allowed if s == current and a not in ISSUING_ONLY)
        raise Conflict(
            f"{action.value} is not allowed for a {current.value} {credential_type}; "
            f"allowed: {', '.join(possible) or 'nothing'}"
        )
    if action is Action.LIFT:
        if earliest_removal_on is None:
            raise InvalidInput("lifting a listing needs its earliest removal date")
        if effective_on < earliest_removal_on:
            raise Conflict(
                f"credit repair can lift a listing from {earliest_removal_on.isoformat()} "
                f"(12 months after listing), not {effective_on.isoformat()}"
            )
    return target


def latest_effective_on(today: date) -> date:
    """The last day a change decided ``today`` may take effect: a year ahead (28
    February for a change decided on 29 February)."""
    try:
        return today.replace(year=today.year + 1)
    except ValueError:
        return today.replace(year=today.year + 1, day=28)


def status_purposes(credential_type: str) -> tuple[str, ...]:
    """The status lists a record of this type has an entry in.

    Every record can be revoked; registrations can also be suspended, and listings
    lifted, which is a suspension: a reversed lift clears the bit again.
    """
    if credential_type in (CredentialType.REGISTRATION, CredentialType.LISTING):
        return ("revocation", "suspension")
    if credential_type in ACTIONS:
        return ("revocation",)
    return ()


def status_bits(state: State) -> dict[str, bool]:
    """The status-list bits that say ``state``: revocation for the final states
    (superseded among them: the record is permanently invalid), suspension for a
    suspended registration or a lifted listing."""
    return {
        "revocation": state in _FINAL,
        "suspension": state in (State.SUSPENDED, State.LIFTED),
    }


_Text = Annotated[Text, Field(min_length=1, max_length=500)]


class StatusChangeIn(BaseModel):
    """A decision that changes a record's state: what, why, by which decision, from when."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    action: Annotated[
        Action,
        ACTION.before(),
        ACTION.schema(
            "What the decision does to the record. `supersede` is not a decision: only a "
            "correction (`replaces`) or a change registration (`changes`) supersedes a "
            "record, when it is issued."
        ),
    ]
    reason: _Text = Field(description="Why, in words the public record can carry.")
    decision_number: _Text = Field(description="The number of the decision document.")
    effective_on: Day = Field(
        description=(
            "The day it takes effect: any day from the record's last change up to a year "
            "ahead. A later day schedules it: the record keeps its state until that day "
            "and changes on it; until then `cancel-scheduled` can cancel it. A "
            "cancellation itself takes effect today or earlier."
        )
    )

    @field_validator("action")
    @classmethod
    def _decided(cls, value: Action) -> Action:
        if value in ISSUING_ONLY:
            raise ValueError(
                "a record is superseded only by issuing its correction (replaces) or a "
                "change registration (changes), not by a status change"
            )
        return value
