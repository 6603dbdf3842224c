"""Beat's reminders: the grantee a day before the grant ends, the case's officer
NOTIFY_ANSWER_DUE_DAYS before the answer date, operators while the purge lag passes its threshold;
each once per (kind, subject, recipient), however often beat runs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from complaints import services
from complaints.models import ComplaintCase
from notifications.models import Notification
from notifications.tasks import forget_old_notifications, send_reminders
from tests.notifications.conftest import assert_no_personal_data, request_access

pytestmark = [pytest.mark.django_db, pytest.mark.local_store]


def test_reminders_are_on_beat(settings) -> None:
    scheduled = {entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert scheduled["notifications.tasks.send_reminders"] == settings.NOTIFY_EVERY_SECONDS
    assert scheduled["notifications.tasks.forget_old_notifications"] == 24 * 60 * 60


def test_the_grantee_is_reminded_once_a_day_before_the_grant_ends(
    smtp, addressed, opened, django_capture_on_commit_callbacks
) -> None:
    request = request_access(addressed, opened, django_capture_on_commit_callbacks)
    grant = services.approve_access_request(approver=addressed.dpo, request_id=request.id, reason="Yes.")
    smtp.received.clear()
    send_reminders.apply().get()
    assert smtp.received == []  # 72 hours left
    grant.ends_at = timezone.now() + timedelta(hours=20)
    grant.save(update_fields=["ends_at"])
    send_reminders.apply().get()
    send_reminders.apply().get()  # beat again, or a second beat
    assert smtp.addressees() == ["olivia@staff.example.org"]
    assert smtp.received[0].subject == f"[Vault] Case {opened.short}: your access to the recordings ends soon"
    assert_no_personal_data(smtp, "Yes.", *opened.secrets())


def test_the_officer_is_reminded_once_of_the_answer_date(smtp, addressed, opened, settings) -> None:
    assert settings.NOTIFY_ANSWER_DUE_DAYS == 3  # the README's default
    send_reminders.apply().get()
    assert smtp.received == []  # 30 days ahead
    ComplaintCase.objects.filter(pk=opened.case.pk).update(respond_by=timezone.now() + timedelta(days=2))
    assert send_reminders.apply().get() == 1
    assert send_reminders.apply().get() == 0
    assert smtp.addressees() == ["olivia@staff.example.org"]
    assert smtp.received[0].subject.startswith(f"[Vault] Case {opened.short}: the answer is due by ")
    assert "within the next 3 days" in smtp.received[0].body
    assert_no_personal_data(smtp, *opened.secrets())


def test_a_closed_case_is_not_reminded(smtp, addressed, opened) -> None:
    ComplaintCase.objects.filter(pk=opened.case.pk).update(respond_by=timezone.now() + timedelta(days=1))
    services.close_case(
        officer=addressed.officer, case_id=opened.case.id, outcome="withdrawn", summary="Done."
    )
    send_reminders.apply().get()
    assert smtp.received == []


def test_operators_are_told_once_a_day_while_the_purge_lag_passes_its_threshold(
    smtp, addressed, recording_maker, settings
) -> None:
    settings.NOTIFY_PURGE_LAG_SECONDS = 3600
    recording_maker(1, expires_in=timedelta(minutes=-30))
    send_reminders.apply().get()
    assert smtp.received == []  # half an hour: within the threshold
    recording_maker(1, expires_in=timedelta(hours=-2))
    send_reminders.apply().get()
    send_reminders.apply().get()
    assert smtp.addressees() == ["otto@staff.example.org"]
    assert smtp.received[0].subject.replace("\xa0", " ") == "[Vault] The purge is behind by 2 hours"
    assert "https://vault.example.org/operations/" in smtp.received[0].body


def test_records_are_forgotten_after_the_kept_days(smtp, addressed, opened, settings) -> None:
    ComplaintCase.objects.filter(pk=opened.case.pk).update(respond_by=timezone.now() + timedelta(days=2))
    send_reminders.apply().get()
    old = Notification.objects.get()
    Notification.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - timedelta(days=settings.NOTIFY_RECORD_DAYS + 1)
    )
    assert forget_old_notifications.apply().get() == 1
    assert not Notification.objects.exists()
