"""Recorder clients, sessions with their consent and rights timeline, and sealed recordings."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _


class RecorderClient(models.Model):
    """A remote-support tool. Its API token is stored only as a SHA-256 digest."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100, unique=True)
    token_digest = models.CharField(max_length=64, unique=True, editable=False)
    token_prefix = models.CharField(
        max_length=16, editable=False, help_text="First characters, to recognise it"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name

    @property
    def is_authenticated(self) -> bool:
        """REST framework treats `request.user` as the caller: a recorder client is one."""
        return True


class Session(models.Model):
    """A remote-support session, registered by the client with the customer's prior consent.

    The raw customer and agent references are erased at purge (or RECORDING_RETENTION after the
    session ended, if it never got a recording) and the external id replaced by its keyed hash;
    the references' keyed hashes stay, so a later complaint still finds the tombstone.
    """

    class InitiatedBy(models.TextChoices):
        CUSTOMER = "customer"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    client = models.ForeignKey(RecorderClient, on_delete=models.PROTECT, related_name="sessions")
    external_id = models.CharField(max_length=200)
    # NULL (not "") once erased at purge: "erased" must differ from "never given".
    customer_ref = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    customer_ref_hash = models.CharField(max_length=64, db_index=True)
    agent_ref = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    agent_ref_hash = models.CharField(max_length=64, db_index=True)
    initiated_by = models.CharField(max_length=16, choices=InitiatedBy.choices)
    started_at = models.DateTimeField()
    consent_granted_at = models.DateTimeField()
    consent_view = models.BooleanField()
    consent_control = models.BooleanField()
    ended_at = models.DateTimeField(null=True, blank=True)
    registered_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # The purge's claim of sessions that never got a recording, in due order (shredding.py).
        indexes = [
            models.Index(
                Coalesce("ended_at", "registered_at"),
                "id",
                name="session_unrecorded_due",
                condition=models.Q(customer_ref__isnull=False),
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["client", "external_id"], name="session_unique_external_id"),
            models.CheckConstraint(
                condition=~models.Q(consent_control=True, consent_view=False),
                name="session_control_needs_view",
            ),
        ]

    def __str__(self) -> str:
        return f"session {self.id}"


class SessionEvent(models.Model):
    """One change of rights reported by the client; the timeline is append-only."""

    class Type(models.TextChoices):
        SCOPE_CHANGED = "scope_changed"
        INTERRUPTED = "interrupted"
        RESUMED = "resumed"
        ENDED = "ended"

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="events")
    position = models.PositiveIntegerField()
    type = models.CharField(max_length=16, choices=Type.choices)
    at = models.DateTimeField()
    view = models.BooleanField()
    control = models.BooleanField()
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["session", "position"]
        constraints = [models.UniqueConstraint(fields=["session", "position"], name="session_event_position")]

    def __str__(self) -> str:
        return f"{self.type} at {self.at.isoformat()}"


class Recording(models.Model):
    """A session's sealed recording: the age header lives here, the payload in the object store.

    Erasing `header` is crypto-shredding: the wrapped file key exists nowhere else.
    """

    class State(models.TextChoices):
        RECEIVING = "receiving", _("Receiving")
        LOCKED = "locked", _("Locked")
        SHREDDED = "shredded", _("Shredded")
        PURGED = "purged", _("Purged")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    session = models.OneToOneField(Session, on_delete=models.PROTECT, related_name="recording")
    state = models.CharField(max_length=16, choices=State.choices, default=State.RECEIVING, db_index=True)
    media_type = models.CharField(max_length=255)
    object_key = models.CharField(max_length=200, unique=True)
    size = models.PositiveBigIntegerField(null=True, blank=True, help_text="Plaintext bytes")
    payload_size = models.PositiveBigIntegerField(null=True, blank=True, help_text="Sealed payload bytes")
    header = models.BinaryField(null=True, blank=True, editable=False)
    fingerprint = models.CharField(max_length=64, blank=True, editable=False)
    recipients = models.JSONField(
        default=list, blank=True, help_text="Stanza types and key ids of the header"
    )
    upload_started_at = models.DateTimeField()
    last_activity_at = models.DateTimeField()
    received_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    shredded_at = models.DateTimeField(null=True, blank=True)
    purged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        # The purge claims by state in expiry order, then shredded rows in shredding order.
        indexes = [
            models.Index(fields=["state", "expires_at", "id"], name="recording_purge_due"),
            models.Index(fields=["state", "shredded_at", "id"], name="recording_purge_shredded"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(state="locked")
                | models.Q(header__isnull=False, expires_at__isnull=False),
                name="recording_locked_has_header_and_expiry",
            ),
        ]

    def __str__(self) -> str:
        return f"recording {self.id} ({self.state})"
