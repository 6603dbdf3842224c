"""Retention periods: ISO 8601 durations added in calendar terms (isodate).

Months are calendar months with the day clamped to the month's end, so 31 January + P3M is
30 April, and 29 February + P1Y is 28 February.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import isodate
from django.conf import settings


class RetentionPeriodError(ValueError):
    """The configured retention is not a positive ISO 8601 duration."""


def parse_period(text: str) -> timedelta | isodate.Duration:
    try:
        period = isodate.parse_duration(text.strip())
    except (isodate.ISO8601Error, ValueError, OverflowError) as error:
        raise RetentionPeriodError(f"{text!r} is not an ISO 8601 duration such as P3M") from error
    reference = datetime(2001, 1, 1, tzinfo=UTC)
    if _plus(reference, period, text) <= reference:
        raise RetentionPeriodError(f"{text!r} is not a positive duration")
    return period


def _plus(moment: datetime, period: timedelta | isodate.Duration, text: str) -> datetime:
    # isodate parses what datetime cannot add: fractional months (P1.5M) raise ValueError, and
    # P10000Y or PT999999999999H overflow; both must read as a bad setting, not a crash.
    try:
        result: datetime = moment + period
    except (OverflowError, ValueError) as error:
        raise RetentionPeriodError(
            f"{text!r} cannot be added to a date (too long or fractional months)"
        ) from error
    return result


def add_period(moment: datetime, text: str) -> datetime:
    """`moment + period` in UTC; `moment` must be timezone-aware."""
    if moment.tzinfo is None:
        raise ValueError("add_period needs a timezone-aware datetime")
    return _plus(moment.astimezone(UTC), parse_period(text), text)


def expiry_for(*, received_at: datetime) -> datetime:
    """When a recording received at `received_at` must be gone (RECORDING_RETENTION later)."""
    return add_period(received_at, settings.RECORDING_RETENTION)
