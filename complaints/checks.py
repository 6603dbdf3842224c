"""System checks: a bad ACCESS_WINDOW stops the service at start, not at the first approval."""

from __future__ import annotations

from typing import Any

from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured

from complaints.services import access_window


@register()
def access_window_is_valid(app_configs: Any, **kwargs: Any) -> list[Error]:
    try:
        access_window()
    except ImproperlyConfigured as error:
        return [Error(str(error), hint="Set ACCESS_WINDOW to e.g. PT72H or 72.", id="complaints.E001")]
    return []
