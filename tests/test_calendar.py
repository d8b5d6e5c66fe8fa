"""China's calendar: the day in China, whole years from a day by the Civil Code's
periods, and aware times."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from registry.calendar import add_years, china_today, day_start, parse_aware
from registry.ce import Credit, Standing, assess, load_policies
from registry.credentials.records import MAX_REGISTRATION_YEARS, RegistrationIn
from registry.demo import credit_code, resident_id
from registry.errors import InvalidInput

LEAP_DAY = date(2024, 2, 29)


def test_a_period_of_years_ends_on_the_corresponding_day() -> None:
    """民法典第二百零二条: 到期月的对应日为期间的最后一日, 没有对应日的, 月末日为期间的最后一日."""
    assert add_years(date(2024, 3, 10), 3) == date(2027, 3, 10)
    assert add_years(LEAP_DAY, 1) == date(2025, 2, 28)
    assert add_years(LEAP_DAY, 5) == date(2029, 2, 28)
    assert add_years(LEAP_DAY, -1) == date(2023, 2, 28)
    assert add_years(LEAP_DAY, 4) == date(2028, 2, 29)


@given(st.dates(min_value=date(1901, 1, 1), max_value=date(8000, 12, 31)), st.integers(-50, 50))
def test_only_29_february_moves(day: date, years: int) -> None:
    """民法典第二百零二条: the corresponding day, else the month's last day."""
    moved = add_years(day, years)
    if (day.month, day.day) != (2, 29):
        assert moved == day.replace(year=day.year + years)
    else:
        assert (moved.month, moved.day) in ((2, 28), (2, 29))


def test_a_registration_from_29_february_runs_until_28_february() -> None:
    """民法典第二百零一条、第二百零二条: five years from 2024-02-29 end on 2029-02-28."""
    fields = {
        "authority": "CN-SH",
        "holder": {"name": "王五", "id_number": resident_id("310101", "19850312", "021")},
        "registration_number": "SH-REG-1",
        "qualification": "SH-2019-C-0001",
        "category": "chemical",
        "employer": {"name": "上海某公司", "credit_code": credit_code("91310000MA1FL0001")},
        "kind": "initial",
        "valid_from": LEAP_DAY.isoformat(),
    }
    RegistrationIn.model_validate({**fields, "valid_until": "2029-02-28"})
    with pytest.raises(ValidationError, match=f"at most {MAX_REGISTRATION_YEARS} years"):
        RegistrationIn.model_validate({**fields, "valid_until": "2029-03-01"})


def test_the_day_in_china() -> None:
    # 16:00 UTC is already the next day in China.
    assert china_today(datetime(2026, 11, 26, 16, 0, tzinfo=UTC)) == date(2026, 11, 27)
    assert china_today(datetime(2026, 11, 26, 15, 59, tzinfo=UTC)) == date(2026, 11, 26)
    assert day_start(date(2026, 11, 27)) == datetime(2026, 11, 26, 16, 0, tzinfo=UTC)


def test_times_must_carry_a_zone() -> None:
    assert parse_aware("2026-11-26T08:00:00+08:00", "t") == datetime(2026, 11, 26, 0, 0, tzinfo=UTC)
    with pytest.raises(InvalidInput, match="needs a time zone"):
        parse_aware("2026-11-26T08:00:00", "t")


def test_a_ce_term_year_turns_on_the_same_corresponding_day() -> None:
    """民法典第二百零二条: a year of a CE term from 29 February turns on 28 February, as
    the registration's term and a listing's years are counted (no longer on 1 March)."""
    policy = replace(
        load_policies().for_term("CN-SH", LEAP_DAY),
        standing=Standing.OFFICIAL,
        min_hours_per_year=Fraction(8),
    )

    def shortfalls(completed_on: date) -> list[str]:
        credit = Credit("c", "CN-SH", Fraction(48), "professional", completed_on)
        found = assess(
            [credit],
            policy=policy,
            region="CN-SH",
            term=(LEAP_DAY, date(2029, 2, 28)),
            on=date(2025, 6, 1),
            agreements=[],
        )
        return [r.en for r in found.shortfalls]

    assert shortfalls(date(2025, 2, 27)) == [
        "year 2 of the cycle (from 2025-02-28) requires 8 hours; 0 counted"
    ]
    assert shortfalls(date(2025, 2, 28)) == [
        "year 1 of the cycle (from 2024-02-29) requires 8 hours; 0 counted"
    ]
