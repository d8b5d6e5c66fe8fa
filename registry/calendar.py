"""China's calendar as the registry keeps it: the day in China, whole years from a
day, and times read with their zone.

Decisions are dated in China Standard Time (UTC+8, no daylight saving), whatever
the server's clock zone.

Periods of whole years follow one rule everywhere, the Civil Code's
(《中华人民共和国民法典》):

- 第二百零一条: a period counted in years, months or days does not count the day it
  starts on (开始的当日不计入); it is counted from the next day.
- 第二百零二条: a period counted in years or months ends on the corresponding day of
  the last month (到期月的对应日为期间的最后一日); where that month has no
  corresponding day, on the month's last day (月末日为期间的最后一日).

So ``add_years(start, n)`` is the corresponding day ``n`` years on, 29 February
landing on 28 February in a year without one, and a period of ``n`` years running
from a decision or listing on day D has ``add_years(D, n)`` as its last day: a
registration's term (``valid_until`` at most ``add_years(valid_from, 5)``), a
listing's three years (in force through ``add_years(listed_on, 3)``) and twelve months
before credit repair, and continuing-education cycle years alike.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, WithJsonSchema

from registry.errors import InvalidInput

__all__ = [
    "CHINA",
    "DAY_FORMS",
    "DAY_PATTERN",
    "FIRST_DAY",
    "LAST_DAY",
    "Day",
    "add_years",
    "china_today",
    "day_start",
    "parse_aware",
    "parse_day",
]

CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")
"""Decisions are dated in China Standard Time (UTC+8, no daylight saving)."""

# Far enough for any record; near enough that adding a day or a clock skew to the
# time never overflows.
_EARLIEST, _LATEST = 1900, 9000

FIRST_DAY = date(_EARLIEST, 1, 1)
"""The earliest day any date the registry is given may name."""

LAST_DAY = date(_LATEST, 12, 31)
"""The latest day any date the registry is given may name."""

_YEAR = r"(19[0-9]{2}|[2-8][0-9]{3}|9000)"
_MONTH, _DAY = r"(0?[1-9]|1[0-2])", r"(0?[1-9]|[12][0-9]|3[01])"
_MM, _DD = r"(0[1-9]|1[0-2])", r"(0[1-9]|[12][0-9]|3[01])"
DAY_PATTERN = (
    f"^({_YEAR}-{_MONTH}-{_DAY}|{_YEAR}/{_MONTH}/{_DAY}|{_YEAR}\\.{_MONTH}\\.{_DAY}"
    f"|{_YEAR}年{_MONTH}月{_DAY}日|{_YEAR}{_MM}{_DD})$"
)
"""The forms of a day, as a pattern a client or a fuzzer can check (``parse_day``)."""

DAY_FORMS = "2026-03-01, 2026/3/1, 2026.3.1, 2026年3月1日 or 20260301"
"""The forms of a day ``parse_day`` reads, as messages and notes list them."""

_FORMS = tuple(
    re.compile(form)
    for form in (
        r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})",
        r"([0-9]{4})/([0-9]{1,2})/([0-9]{1,2})",
        r"([0-9]{4})\.([0-9]{1,2})\.([0-9]{1,2})",
        r"([0-9]{4})年([0-9]{1,2})月([0-9]{1,2})日?",
        r"([0-9]{4})([0-9]{2})([0-9]{2})",
    )
)
# A date cell that Excel or WPS saved to CSV with its (empty) time of day.
_MIDNIGHT = re.compile(r"[T\s]+0?0:00(:00(\.0+)?)?$")
# Excel counts days from 30 December 1899 (its 1900 leap-year bug folded in); five
# digits are 1927 to 2173, nothing else a person writes.
_SERIAL = re.compile(r"([1-9][0-9]{4})(\.0+)?")
_EXCEL_EPOCH = date(1899, 12, 30)


def parse_day(value: str, *, excel_serial: bool = False) -> date:
    """A day as Chinese offices write it: ISO ``2026-03-01``, ``2026/3/1``, ``2026.3.1``,
    ``2026年3月1日`` or ``20260301`` (full-width digits and a midnight time of day
    too); with ``excel_serial``, also the five-digit day number of an Excel date cell
    exported as a number (a spreadsheet's column that holds dates only).

    Raises ``InvalidInput`` naming the forms, for a day that is not real, and for one
    outside ``FIRST_DAY`` to ``LAST_DAY``. The message never repeats the value.
    """
    text = unicodedata.normalize("NFKC", value).strip()
    text = re.sub(r"\s+", "", _MIDNIGHT.sub("", text))
    serial = _SERIAL.fullmatch(text) if excel_serial else None
    if serial is not None:
        day = _EXCEL_EPOCH + timedelta(days=int(serial.group(1)))
    else:
        found = next((m for form in _FORMS if (m := form.fullmatch(text))), None)
        if found is None:
            raise InvalidInput(f"a day is written {DAY_FORMS}")
        try:
            day = date(*(int(part) for part in found.groups()))
        except ValueError as exc:
            raise InvalidInput("is not a real date (no such month or day)") from exc
    if not FIRST_DAY <= day <= LAST_DAY:
        raise InvalidInput(f"must lie between {FIRST_DAY} and {LAST_DAY}")
    return day


def _day_input(value: object) -> object:
    # Pydantic would also take a number as seconds since 1970 (``date=0`` as
    # 1970-01-01), which nobody means, and a time as its day.
    if isinstance(value, datetime) or not isinstance(value, date | str):
        raise ValueError(f"a day is written {DAY_FORMS}")
    if isinstance(value, str):
        try:
            return parse_day(value)
        except InvalidInput as exc:
            raise ValueError(exc.message) from None
    return value


def _in_range(day: date) -> date:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"must lie between {FIRST_DAY} and {LAST_DAY}")
    return day


Day = Annotated[
    date,
    BeforeValidator(_day_input),
    AfterValidator(_in_range),
    WithJsonSchema(
        {
            "type": "string",
            # Not "date": that is RFC 3339's form only. FIRST_DAY to LAST_DAY, in every
            # form parse_day reads, as a pattern a client or a fuzzer can check.
            "format": "registry-day",
            "pattern": DAY_PATTERN,
            "description": f"A day: {DAY_FORMS}.",
        }
    ),
]
"""A day as every input of the registry takes it: any form ``parse_day`` reads, within
``FIRST_DAY`` and ``LAST_DAY``, refused otherwise (a 422 naming the field)."""


def china_today(now: datetime | None = None) -> date:
    """The date in China at ``now`` (default: the current time)."""
    return (now or datetime.now(UTC)).astimezone(CHINA).date()


def day_start(day: date) -> datetime:
    """The first instant of ``day`` in China, as an aware datetime."""
    return datetime.combine(day, time(0, 0), tzinfo=CHINA)


def add_years(start: date, years: int) -> date:
    """The day corresponding to ``start`` ``years`` on (back, if negative): the same month
    and day, or the month's last day where it has none (29 February in a year without
    one becomes 28 February). A period of ``years`` years running from ``start`` ends
    on this day (民法典第二百零一条、第二百零二条)."""
    try:
        return start.replace(year=start.year + years)
    except ValueError:  # 29 February, and the target year has none
        return start.replace(year=start.year + years, day=28)


def parse_aware(text: str, what: str) -> datetime:
    """An ISO 8601 date and time with a zone (``...+08:00`` or ``...Z``).

    ``what`` names the value in the error. Raises ``InvalidInput`` for anything
    else, a time without a zone included: a local time means a different instant
    in each province's server.
    """
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInput(f"{what}: {text!r} is not an ISO 8601 date and time") from exc
    if moment.tzinfo is None:
        raise InvalidInput(f"{what} needs a time zone, e.g. {text}+08:00 or {text}Z")
    try:
        utc_year = moment.astimezone(UTC).year
    except OverflowError:
        utc_year = 0
    if not _EARLIEST <= utc_year <= _LATEST:
        raise InvalidInput(f"{what} must lie between the years {_EARLIEST} and {_LATEST}")
    return moment
