"""Retention periods: ISO 8601 durations added in calendar terms (isodate).

Months are calendar months with the day clamped to the month's end, so 31 January + P3M is
30 April, and 29 February + P1Y is 28 February.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import isodate


class RetentionPeriodError(ValueError):
    """The configured retention is not a positive ISO 8601 duration."""


def parse_period(text: str) -> timedelta | isodate.Duration:
    try:
        period = isodate.parse_duration(text.strip())
    except (isodate.ISO8601Error, ValueError) as error:
        raise RetentionPeriodError(f"{text!r} is not an ISO 8601 duration such as P3M") from error
    reference = datetime(2001, 1, 1, tzinfo=UTC)
    if reference + period <= reference:
        raise RetentionPeriodError(f"{text!r} is not a positive duration")
    return period


def add_period(moment: datetime, text: str) -> datetime:
    """`moment + period` in UTC; `moment` must be timezone-aware."""
    if moment.tzinfo is None:
        raise ValueError("add_period needs a timezone-aware datetime")
    result: datetime = moment.astimezone(UTC) + parse_period(text)
    return result
