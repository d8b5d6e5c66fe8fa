"""The untrustworthiness list for inspectors: the date rules on each boundary day."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from registry.enforcement import listing_status

LISTED = date(2024, 3, 10)
EARLIEST = date(2025, 3, 10)  # 12 months on: the first day credit repair may lift it
EXPIRES = date(2027, 3, 10)  # 3 years on: the first day it is no longer in force
DAY = timedelta(days=1)


def _status(on: date, *changes: tuple[date, str]) -> str:
    return listing_status(listed_on=LISTED, expires_on=EXPIRES, changes=changes, on=on).status


@pytest.mark.parametrize(
    ("on", "expected"),
    [
        (LISTED - DAY, "not-yet-in-force"),
        (LISTED, "in-force"),
        (EXPIRES - DAY, "in-force"),
        (EXPIRES, "expired"),
        (date(2040, 1, 1), "expired"),
    ],
)
def test_in_force_from_the_listing_date_until_the_day_before_expiry(
    on: date, expected: str
) -> None:
    assert _status(on) == expected
    assert listing_status(listed_on=LISTED, expires_on=EXPIRES, changes=(), on=on).in_force == (
        expected == "in-force"
    )


def test_a_lift_takes_effect_on_its_day_and_expiry_still_comes() -> None:
    lift = (EARLIEST, "lifted")
    assert _status(EARLIEST - DAY, lift) == "in-force"
    assert _status(EARLIEST, lift) == "lifted"
    assert _status(EXPIRES - DAY, lift) == "lifted"
    assert _status(EXPIRES, lift) == "expired"
    found = listing_status(listed_on=LISTED, expires_on=EXPIRES, changes=[lift], on=EARLIEST)
    assert found.since == EARLIEST


def test_a_reversed_lift_restores_the_listing_from_its_day() -> None:
    lift, reversal = (EARLIEST, "lifted"), (date(2025, 6, 1), "listed")
    assert _status(date(2025, 5, 31), lift, reversal) == "lifted"
    assert _status(date(2025, 6, 1), lift, reversal) == "in-force"
    assert _status(EXPIRES - DAY, lift, reversal) == "in-force"
    assert _status(EXPIRES, lift, reversal) == "expired"
    # Reversed from the lift's own day: as if it had never been lifted.
    void = (EARLIEST, "listed")
    assert _status(EARLIEST, lift, void) == "in-force"


def test_a_withdrawal_removes_it_from_its_day_as_if_never_in_force() -> None:
    withdrawal = (date(2025, 1, 1), "withdrawn")
    assert _status(date(2024, 12, 31), withdrawal) == "in-force"
    assert _status(date(2025, 1, 1), withdrawal) == "withdrawn"
    assert _status(EXPIRES, withdrawal) == "withdrawn"  # not "expired": it was undone
    # Dated on the listing date, the decision was overturned entirely.
    voided = (LISTED, "withdrawn")
    assert _status(LISTED, voided) == "withdrawn"
    assert not listing_status(
        listed_on=LISTED, expires_on=EXPIRES, changes=[voided], on=LISTED + DAY
    ).in_force
    # A lifted listing can still be withdrawn.
    assert _status(date(2026, 1, 1), (EARLIEST, "lifted"), (date(2026, 1, 1), "withdrawn")) == (
        "withdrawn"
    )


def test_changes_apply_in_the_order_recorded_each_from_its_day() -> None:
    # Recorded: a lift, then its reversal dated back to the lift's day, then a
    # second lift. On each day, the last change in force by then decides.
    changes = ((EARLIEST, "lifted"), (EARLIEST, "listed"), (date(2026, 1, 1), "lifted"))
    assert _status(EARLIEST, *changes) == "in-force"
    assert _status(date(2025, 12, 31), *changes) == "in-force"
    assert _status(date(2026, 1, 1), *changes) == "lifted"
