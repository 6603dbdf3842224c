"""A temporary SMTP failure (451) is retried and the message then delivered once; a message whose
every retry fails is recorded failed, counted in /metrics and logged without its address."""

from __future__ import annotations

import pytest
from django.test import Client

from notifications.models import Notification
from notifications.selectors import tallies
from tests.notifications.conftest import request_access

pytestmark = [pytest.mark.django_db, pytest.mark.local_store]


def test_a_message_refused_for_now_is_retried_and_delivered_once(
    smtp, addressed, opened, django_capture_on_commit_callbacks
) -> None:
    addressed.other_dpo.email = ""
    addressed.other_dpo.save(update_fields=["email"])
    smtp.refuse_next = 1
    request_access(addressed, opened, django_capture_on_commit_callbacks)
    assert smtp.refused == 1
    assert smtp.addressees() == ["dora@staff.example.org"]
    notification = Notification.objects.get(recipient=addressed.dpo)
    assert (notification.status, notification.attempts) == ("sent", 2)
    assert {("access_request_waiting", "retried", 1), ("access_request_waiting", "sent", 1)} <= set(tallies())


def test_a_message_whose_every_retry_fails_is_recorded_counted_and_logged_without_its_address(
    smtp, addressed, opened, django_capture_on_commit_callbacks, caplog, settings
) -> None:
    addressed.other_dpo.email = ""
    addressed.other_dpo.save(update_fields=["email"])
    smtp.refuse_next = 100
    request_access(addressed, opened, django_capture_on_commit_callbacks)
    assert smtp.received == []
    notification = Notification.objects.get(recipient=addressed.dpo)
    assert notification.status == "failed"
    assert notification.attempts == settings.NOTIFY_MAX_RETRIES + 1 == smtp.refused
    assert ("access_request_waiting", "failed", 1) in tallies()
    ours = [r for r in caplog.records if r.name.startswith("notifications")]
    assert any("failed after" in r.getMessage() and "SMTPDataError" in r.getMessage() for r in ours)
    assert not any("dora" in r.getMessage() for r in ours)
    metrics = Client().get("/metrics").content.decode()
    assert 'vault_notifications_sent_total{kind="access_request_waiting",outcome="failed"} 1.0' in metrics
    # A repeated delivery of the failed message sends nothing.
    from notifications.tasks import deliver_notification

    assert deliver_notification.apply(args=[str(notification.id)]).get() == "done"
