"""Legal holds (a complaint keeps a recording past its expiry) and the record of purge runs."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _


class LegalHold(models.Model):
    """While any unreleased hold names a session, its recording is not purged."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    session = models.ForeignKey("recorder.Session", on_delete=models.PROTECT, related_name="legal_holds")
    case_id = models.UUIDField(
        null=True, blank=True, db_index=True, help_text="The complaint case holding it"
    )
    reason = models.CharField(max_length=200)
    placed_at = models.DateTimeField()
    placed_by = models.CharField(max_length=150)
    released_at = models.DateTimeField(null=True, blank=True)
    released_by = models.CharField(max_length=150, blank=True)

    class Meta:
        indexes = [models.Index(fields=["session", "released_at"], name="hold_session_active")]

    def __str__(self) -> str:
        return f"hold on {self.session_id}"


class PurgeRun(models.Model):
    """One run of the purge (beat or command): what it did, for operators and auditors."""

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", _("Schedule")
        COMMAND = "command", _("Command")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    dry_run = models.BooleanField(default=False)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    # Saved after every batch: a run whose worker died stops progressing, and the next run marks
    # it abandoned instead of leaving it "running" for ever.
    progressed_at = models.DateTimeField(null=True, blank=True)
    abandoned_at = models.DateTimeField(null=True, blank=True)
    shredded = models.PositiveIntegerField(default=0)
    purged = models.PositiveIntegerField(default=0)
    # Sessions that never got a recording, pseudonymised RECORDING_RETENTION after they ended.
    pseudonymised = models.PositiveIntegerField(default=0)
    skipped_held = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"purge run {self.started_at:%Y-%m-%d %H:%M}"
