"""Staff's successful sign-ins (axes' access log: user name, address, browser) are personal data,
kept SIGNIN_LOG_DAYS for the sign-in throttle and then deleted by a daily beat task."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessLog
from django.utils import timezone

from config.celery import app
from ops.tasks import forget_old_sign_ins

pytestmark = pytest.mark.django_db


def sign_in_record(username: str, days_ago: float) -> AccessLog:
    record = AccessLog.objects.create(
        username=username, ip_address="198.51.100.20", user_agent="browser", http_accept="*/*", path_info="/"
    )
    AccessLog.objects.filter(pk=record.pk).update(attempt_time=timezone.now() - timedelta(days=days_ago))
    return record


def test_sign_ins_older_than_the_kept_days_are_deleted_by_a_daily_beat_task(settings) -> None:
    scheduled = {entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert scheduled["ops.tasks.forget_old_sign_ins"] == 24 * 60 * 60
    app.loader.import_default_modules()
    assert "ops.tasks.forget_old_sign_ins" in app.tasks
    days = settings.SIGNIN_LOG_DAYS
    assert days == 90  # the README's default
    old = [sign_in_record("ada", days + 1), sign_in_record("grace", 400)]
    kept = [sign_in_record("ada", days - 1), sign_in_record("grace", 0)]
    assert forget_old_sign_ins.apply().get() == len(old)
    assert set(AccessLog.objects.values_list("pk", flat=True)) == {record.pk for record in kept}
    assert forget_old_sign_ins.apply().get() == 0  # safe to run twice
