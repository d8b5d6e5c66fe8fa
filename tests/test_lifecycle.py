"""Every legal and every illegal state change, and the credit-repair date."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from pydantic import ValidationError

from registry.credentials.lifecycle import (
    ACTIONS,
    Action,
    State,
    StatusChangeIn,
    initial_state,
    next_state,
    status_bits,
)
from registry.errors import Conflict, InvalidInput

DAY = timedelta(days=1)
EARLIEST = date(2027, 3, 1)
CASES = [(kind, state, action) for kind in ACTIONS for state in State for action in Action]


@pytest.mark.parametrize(("kind", "state", "action"), CASES)
def test_every_transition(kind: str, state: State, action: Action) -> None:
    expected = ACTIONS[kind].get((state, action))
    kwargs = {"effective_on": EARLIEST, "earliest_removal_on": EARLIEST}
    if expected is None:
        with pytest.raises(Conflict, match=r"final|not allowed"):
            next_state(kind, state, action, **kwargs)
    else:
        assert next_state(kind, state, action, **kwargs) is expected


def test_credit_repair_waits_twelve_months() -> None:
    kind = "UntrustworthinessListing"
    with pytest.raises(Conflict, match="from 2027-03-01"):
        next_state(kind, State.LISTED, Action.LIFT, effective_on=EARLIEST - DAY,
                   earliest_removal_on=EARLIEST)  # fmt: skip
    lifted = next_state(
        kind, State.LISTED, Action.LIFT, effective_on=EARLIEST, earliest_removal_on=EARLIEST
    )
    assert lifted is State.LIFTED
    assert next_state(kind, lifted, Action.REVERSE_LIFT, effective_on=EARLIEST) is State.LISTED


def test_initial_states_and_unknown_types() -> None:
    assert initial_state("UntrustworthinessListing") is State.LISTED
    assert initial_state("SafetyEngineerRegistration") is State.ACTIVE
    with pytest.raises(InvalidInput):
        initial_state("TrustList")
    with pytest.raises(InvalidInput):
        next_state("TrustList", State.ACTIVE, Action.REVOKE, effective_on=EARLIEST)
    with pytest.raises(Conflict, match="allowed: cancel, revoke, suspend"):
        next_state("SafetyEngineerRegistration", State.ACTIVE, Action.LIFT, effective_on=EARLIEST)


@pytest.mark.parametrize("kind", sorted(ACTIONS))
def test_a_correction_supersedes_from_every_state_that_is_not_final(kind: str) -> None:
    """《注册安全工程师职业资格制度规定》 tells 撤销 (a decision) apart from correcting a
    record: a correction supersedes the record from any state it can be corrected in, and
    a superseded record, like a revoked one, is final and permanently invalid."""
    states = {state for state, _ in ACTIONS[kind]}
    assert states, kind
    for state in states:
        assert next_state(kind, state, Action.SUPERSEDE, effective_on=EARLIEST) is (
            State.SUPERSEDED
        )
    with pytest.raises(Conflict, match="final"):
        next_state(kind, State.SUPERSEDED, Action.REVOKE, effective_on=EARLIEST)
    assert status_bits(State.SUPERSEDED) == {"revocation": True, "suspension": False}


def test_nobody_asks_for_a_supersession() -> None:
    """A correction is not a decision (《注册安全工程师职业资格制度规定》): no status change
    supersedes, and a refused change does not offer it."""
    with pytest.raises(ValidationError, match=r"correction \(replaces\)"):
        StatusChangeIn(
            action=Action.SUPERSEDE,
            reason="更正",
            decision_number="沪应急注〔2026〕1号",
            effective_on=EARLIEST,
        )
    with pytest.raises(Conflict) as refused:
        next_state("SafetyEngineerRegistration", State.ACTIVE, Action.LIFT, effective_on=EARLIEST)
    assert "supersede" not in refused.value.message
