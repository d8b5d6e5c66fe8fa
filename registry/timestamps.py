"""Reading times that people and documents write: ISO 8601, always with a zone."""

from __future__ import annotations

from datetime import UTC, datetime

from registry.errors import InvalidInput

__all__ = ["parse_aware"]

# Far enough for any record; near enough that adding a day or a clock skew to the
# time never overflows.
_EARLIEST, _LATEST = 1900, 9000


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
