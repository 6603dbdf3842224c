"""System checks: a bad ACCESS_WINDOW or CASE_RETENTION stops the service at start, not at first use."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured

from complaints.services import access_window
from core.periods import RetentionPeriodError, parse_period


@register()
def access_window_is_valid(app_configs: Any, **kwargs: Any) -> list[Error]:
    try:
        access_window()
    except ImproperlyConfigured as error:
        return [Error(str(error), hint="Set ACCESS_WINDOW to e.g. PT72H or 72.", id="complaints.E001")]
    return []


@register()
def case_retention_is_valid(app_configs: Any, **kwargs: Any) -> list[Error]:
    try:
        parse_period(settings.CASE_RETENTION)
    except RetentionPeriodError as error:
        return [Error(str(error), hint="Set CASE_RETENTION to e.g. P1Y.", id="complaints.E002")]
    return []
