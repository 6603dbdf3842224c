"""Expiry dates: ISO 8601 durations in calendar months, clamped to the month's end, stored in UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from core.periods import RetentionPeriodError, add_period


@pytest.mark.parametrize(
    ("start", "period", "expected"),
    [
        (datetime(2026, 1, 31, 12, 0, tzinfo=UTC), "P3M", datetime(2026, 4, 30, 12, 0, tzinfo=UTC)),
        (datetime(2026, 11, 30, 9, 0, tzinfo=UTC), "P3M", datetime(2027, 2, 28, 9, 0, tzinfo=UTC)),
        (datetime(2023, 11, 30, 9, 0, tzinfo=UTC), "P3M", datetime(2024, 2, 29, 9, 0, tzinfo=UTC)),
        (datetime(2024, 2, 29, 8, 0, tzinfo=UTC), "P3M", datetime(2024, 5, 29, 8, 0, tzinfo=UTC)),
        (datetime(2024, 2, 29, 8, 0, tzinfo=UTC), "P1Y", datetime(2025, 2, 28, 8, 0, tzinfo=UTC)),
        (datetime(2026, 3, 15, 0, 0, tzinfo=UTC), "P90D", datetime(2026, 6, 13, 0, 0, tzinfo=UTC)),
        (datetime(2026, 3, 15, 0, 0, tzinfo=UTC), "PT36H", datetime(2026, 3, 16, 12, 0, tzinfo=UTC)),
    ],
)
def test_calendar_months_are_clamped_to_the_month_end(
    start: datetime, period: str, expected: datetime
) -> None:
    assert add_period(start, period) == expected


def test_a_local_time_is_stored_as_utc() -> None:
    cest = timezone(timedelta(hours=2))
    result = add_period(datetime(2026, 1, 31, 23, 30, tzinfo=cest), "P3M")  # 21:30 UTC on 31 January
    assert result == datetime(2026, 4, 30, 21, 30, tzinfo=UTC)
    assert result.utcoffset() == timedelta(0)


@pytest.mark.parametrize("period", ["3M", "P", "P-3M", "PT0S", "three months", ""])
def test_a_bad_period_is_refused(period: str) -> None:
    with pytest.raises(RetentionPeriodError):
        add_period(datetime(2026, 1, 1, tzinfo=UTC), period)


@pytest.mark.django_db  # the system checks also read the accounts (staff.E001)
def test_a_bad_retention_setting_stops_the_service_at_start(settings) -> None:
    settings.RECORDING_RETENTION = "3 months"
    with pytest.raises(SystemCheckError, match=r"retention\.E001"):
        call_command("check")


@pytest.mark.django_db
@pytest.mark.parametrize("period", ["P3M", "P1D"])
def test_ingest_sets_expiry_from_the_setting(make_recordings, settings, period: str) -> None:
    settings.RECORDING_RETENTION = period
    [recording] = make_recordings(1, expires_in=None)
    assert recording.received_at is not None
    assert recording.expires_at == add_period(recording.received_at, period)
