"""Retention services other apps call: the expiry date a recording gets at ingest."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings

from retention.periods import add_period


def expiry_for(*, received_at: datetime) -> datetime:
    """When a recording received at `received_at` must be gone (RECORDING_RETENTION later)."""
    return add_period(received_at, settings.RECORDING_RETENTION)
