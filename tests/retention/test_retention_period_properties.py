"""ISO 8601 retention periods (core/periods.py) against an independent calendar oracle:
months land on the same day of the target month, clamped to its end, at the same UTC time;
days and hours are exact; and any text at all either parses to a positive period or is refused
with RetentionPeriodError, never another exception (a bad setting must stop start-up clearly)."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.periods import RetentionPeriodError, add_period, parse_period

offsets = st.integers(-14 * 60, 14 * 60).map(lambda minutes: timezone(timedelta(minutes=minutes)))
moments = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2200, 1, 1), timezones=offsets)
PROPERTY = settings(max_examples=300, deadline=None)


def months_later(moment: datetime, months: int) -> datetime:
    """The oracle: calendar arithmetic by hand, month-end clamped, in UTC."""
    utc = moment.astimezone(UTC)
    index = utc.year * 12 + (utc.month - 1) + months
    year, month = divmod(index, 12)
    day = min(utc.day, calendar.monthrange(year, month + 1)[1])
    return utc.replace(year=year, month=month + 1, day=day)


@PROPERTY
@given(moment=moments, months=st.integers(1, 120))
def test_property_months_are_calendar_months_clamped_to_the_month_end(moment: datetime, months: int) -> None:
    result = add_period(moment, f"P{months}M")
    assert result == months_later(moment, months)
    assert result.utcoffset() == timedelta(0)
    assert result > moment


@PROPERTY
@given(moment=moments, years=st.integers(1, 10), months=st.integers(0, 11))
def test_property_years_are_twelve_months(moment: datetime, years: int, months: int) -> None:
    assert add_period(moment, f"P{years}Y{months}M") == months_later(moment, 12 * years + months)


@PROPERTY
@given(moment=moments, days=st.integers(1, 400), hours=st.integers(0, 48))
def test_property_days_and_hours_are_exact(moment: datetime, days: int, hours: int) -> None:
    assert add_period(moment, f"P{days}DT{hours}H") == moment + timedelta(days=days, hours=hours)


@PROPERTY
@given(earlier=moments, later=moments, months=st.integers(1, 36))
def test_property_a_later_recording_never_expires_on_an_earlier_day(
    earlier: datetime, later: datetime, months: int
) -> None:
    """Month-end clamping keeps the time of day, so within the clamped day order can flip
    (29 Jan 12:00 + P1M = 28 Feb 12:00, 30 Jan 00:00 + P1M = 28 Feb 00:00 in a common year);
    the expiry day never goes backwards."""
    if later < earlier:
        earlier, later = later, earlier
    assert add_period(earlier, f"P{months}M").date() <= add_period(later, f"P{months}M").date()


def test_month_end_clamping_keeps_the_time_of_day_even_where_that_reorders_one_day() -> None:
    assert add_period(datetime(2025, 1, 29, 12, tzinfo=UTC), "P1M") == datetime(2025, 2, 28, 12, tzinfo=UTC)
    assert add_period(datetime(2025, 1, 30, 0, tzinfo=UTC), "P1M") == datetime(2025, 2, 28, 0, tzinfo=UTC)


def designator(letter: str) -> st.SearchStrategy[str]:
    """An optional "<number><letter>": small, huge (past any date) or fractional numbers."""
    number = st.integers(0, 10**13).map(str) | st.decimals(0, 10**6, places=2).map(str)
    return st.just("") | number.map(lambda value: value + letter)


duration_like = st.builds(
    lambda sign, y, mo, w, d, h, mi, s: f"{sign}P{y}{mo}{w}{d}" + (f"T{h}{mi}{s}" if h or mi or s else ""),
    st.sampled_from(["", "-"]), designator("Y"), designator("M"), designator("W"), designator("D"),
    designator("H"), designator("M"), designator("S"),
)  # fmt: skip


@PROPERTY
@given(text=st.text(max_size=40) | duration_like)
def test_property_any_text_parses_to_a_positive_period_or_is_refused_clearly(text: str) -> None:
    moment = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)
    try:
        parse_period(text)
        result = add_period(moment, text)
    except RetentionPeriodError:
        return
    assert result > moment


@pytest.mark.parametrize(
    "text",
    ["P0M", "P0D", "PT0S", "P0Y0M0DT0H0M0S", "-P3M", "-PT1H", "P0W", "P10000Y", "P1.5M", "PT999999999999H"],
)
def test_zero_negative_endless_and_fractional_month_periods_are_refused(text: str) -> None:
    # The last three crashed with OverflowError/ValueError (start-up check included) until the
    # property above found them.
    with pytest.raises(RetentionPeriodError):
        parse_period(text)
