"""Reads of retention data."""

from __future__ import annotations

from django.db.models import QuerySet

from retention.models import PurgeRun


def purge_runs() -> QuerySet[PurgeRun]:
    return PurgeRun.objects.order_by("-started_at")
