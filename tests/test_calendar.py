"""China's calendar: the day in China, whole years from a day under each leap-day rule,
and aware times."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from registry.calendar import LeapDay, add_years, china_today, day_start, parse_aware
from registry.credentials.records import MAX_REGISTRATION_YEARS, RegistrationIn
from registry.demo import credit_code, resident_id
from registry.errors import InvalidInput

LEAP_DAY = date(2024, 2, 29)


def test_a_limit_from_29_february_ends_on_28_february() -> None:
    assert add_years(LEAP_DAY, 1, leap_day=LeapDay.LAST_OF_FEBRUARY) == date(2025, 2, 28)
    assert add_years(LEAP_DAY, 5, leap_day=LeapDay.LAST_OF_FEBRUARY) == date(2029, 2, 28)
    assert add_years(LEAP_DAY, -1, leap_day=LeapDay.LAST_OF_FEBRUARY) == date(2023, 2, 28)


def test_a_cycle_from_29_february_turns_on_1_march() -> None:
    assert add_years(LEAP_DAY, 1, leap_day=LeapDay.FIRST_OF_MARCH) == date(2025, 3, 1)
    assert add_years(LEAP_DAY, 5, leap_day=LeapDay.FIRST_OF_MARCH) == date(2029, 3, 1)
    assert add_years(LEAP_DAY, -1, leap_day=LeapDay.FIRST_OF_MARCH) == date(2023, 3, 1)


def test_29_february_stays_where_the_target_year_has_one() -> None:
    for rule in LeapDay:
        assert add_years(LEAP_DAY, 4, leap_day=rule) == date(2028, 2, 29)


@given(st.dates(min_value=date(1901, 1, 1), max_value=date(8000, 12, 31)), st.integers(-50, 50))
def test_the_rules_differ_only_on_29_february(day: date, years: int) -> None:
    limit = add_years(day, years, leap_day=LeapDay.LAST_OF_FEBRUARY)
    cycle = add_years(day, years, leap_day=LeapDay.FIRST_OF_MARCH)
    if (day.month, day.day) != (2, 29):
        assert limit == cycle == day.replace(year=day.year + years)
    else:
        assert (cycle - limit).days in (0, 1)


def test_the_registration_limit_and_the_ce_cycle_each_follow_their_rule() -> None:
    # A registration from 29 February may run five years, to 28 February ...
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
