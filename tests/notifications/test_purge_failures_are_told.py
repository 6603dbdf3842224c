"""Operators are told when a purge run is abandoned (its worker died) or fails to delete."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from retention.models import PurgeRun
from retention.services import mark_abandoned_runs

pytestmark = [pytest.mark.django_db]


def test_operators_are_told_once_of_an_abandoned_purge_run(
    smtp, addressed, settings, django_capture_on_commit_callbacks
) -> None:
    started = timezone.now() - timedelta(hours=2)
    run = PurgeRun.objects.create(trigger="schedule", started_at=started, progressed_at=started)
    with django_capture_on_commit_callbacks(execute=True):
        assert mark_abandoned_runs(now=timezone.now()) == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert mark_abandoned_runs(now=timezone.now()) == 0
    assert smtp.addressees() == ["otto@staff.example.org"]
    assert smtp.received[0].subject == f"[Vault] Purge run {str(run.id)[:8]} was abandoned"
