"""System checks: a bad RECORDING_RETENTION stops the service at start, not at the first ingest."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, register

from core.periods import RetentionPeriodError, parse_period


@register()
def retention_period_is_valid(app_configs: Any, **kwargs: Any) -> list[Error]:
    try:
        parse_period(settings.RECORDING_RETENTION)
    except RetentionPeriodError as error:
        return [Error(str(error), hint="Set RECORDING_RETENTION to e.g. P3M.", id="retention.E001")]
    return []
