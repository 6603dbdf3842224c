"""The record of each message (an outbox row, then proof it was sent once), each staff member's
preferences, and the running counts /metrics shows."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from notifications.kinds import KIND_CHOICES


class Notification(models.Model):
    """One message of a kind about one subject to one staff member. Made in the transaction of
    the change it reports (rolled back with it), delivered by a Celery task after the commit. The
    unique constraint is what makes a reminder go once, however often beat or a retry runs."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SENT = "sent"
        FAILED = "failed"  # every retry failed
        SKIPPED = "skipped"  # turned off, or the address went, before delivery

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=32, choices=KIND_CHOICES)
    # The id of what it is about (an access request, a grant, a case, a purge run) or, for the
    # purge lag, the day (UTC) it was noticed on: ids and dates only.
    subject = models.CharField(max_length=64)
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    attempted_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "subject", "recipient"], name="notification_once"),
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="notification_status_created")]

    def __str__(self) -> str:
        return f"{self.kind} {self.id}"


class NotificationPreferences(models.Model):
    """A staff member's choices: the kinds turned off, and the language of their e-mails. Not
    ledgered: they open nothing (the e-mail address, an account field, is)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    language = models.CharField(max_length=8, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE)
    muted = models.JSONField(default=list, blank=True, help_text="Kind codes turned off")

    def __str__(self) -> str:
        return f"preferences of {self.user_id}"


class NotificationTally(models.Model):
    """How many messages of a kind ended how, since the vault began: a counter that survives the
    deletion of the records (NOTIFY_RECORD_DAYS), for `vault_notifications_sent_total`."""

    class Outcome(models.TextChoices):
        SENT = "sent"
        RETRIED = "retried"  # a temporary failure; the delivery is tried again
        FAILED = "failed"
        NO_ADDRESS = "no_address"  # a recipient without an e-mail address, skipped

    kind = models.CharField(max_length=32, choices=KIND_CHOICES)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    count = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "outcome"], name="notification_tally_once")]

    def __str__(self) -> str:
        return f"{self.kind} {self.outcome}: {self.count}"
