"""Complaint cases, their access requests and the access grants approval creates.

Holding an active grant is the capability to decrypt the recordings it names; only
`complaints.services` creates grants (after a second person approved), and `complaints.playback`
unseals for nothing else. State changes go through `complaints.services`, never through `save()`.
"""

from __future__ import annotations

import operator
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ComplaintCase(models.Model):
    """One customer's complaint about one or more of their sessions (DESIGN "Complaint workflow").

    open --request--> awaiting_approval --approve--> access_granted --window ends--> access_expired
    awaiting_approval --reject--> open; access_expired --request--> awaiting_approval;
    any state but closed --close with outcome--> closed.
    """

    class Channel(models.TextChoices):
        PHONE = "phone", _("Phone")
        EMAIL = "email", _("E-mail")
        LETTER = "letter", _("Letter")
        WEB_FORM = "web_form", _("Web form")
        IN_PERSON = "in_person", _("In person")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        AWAITING_APPROVAL = "awaiting_approval", _("Awaiting approval")
        ACCESS_GRANTED = "access_granted", _("Access granted")
        ACCESS_EXPIRED = "access_expired", _("Access expired")
        CLOSED = "closed", _("Closed")

    class Outcome(models.TextChoices):
        ABUSE_CONFIRMED = "abuse_confirmed", _("Abuse confirmed")
        ABUSE_NOT_CONFIRMED = "abuse_not_confirmed", _("Abuse not confirmed")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    class RedactionReason(models.TextChoices):
        RETENTION_EXPIRED = "retention_expired", _("CASE_RETENTION passed after closing")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # The reference as the complainant gave it, and its keyed hash: sessions are matched on the
    # hash, because a purged session keeps only the hash (recorder.pseudonyms).
    customer_ref = models.CharField(max_length=200)
    customer_ref_hash = models.CharField(max_length=64, db_index=True, editable=False)
    channel = models.CharField(max_length=16, choices=Channel.choices)
    complaint = models.TextField(max_length=10_000)
    received_at = models.DateTimeField(help_text="When the complaint arrived")
    respond_by = models.DateTimeField(help_text="Deadline for answering the customer")
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.OPEN, db_index=True)
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="complaint_cases_opened"
    )
    opened_at = models.DateTimeField()
    outcome = models.CharField(max_length=24, choices=Outcome.choices, blank=True)
    summary = models.TextField(max_length=10_000, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="complaint_cases_closed",
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    # The key (hex) of the keyed hashes the ledger keeps instead of the case's free texts
    # (complaints.commitments); erased with the texts when the case is redacted.
    text_key = models.CharField(max_length=64, blank=True, editable=False)
    redacted_at = models.DateTimeField(null=True, blank=True)
    redaction_reason = models.CharField(max_length=24, choices=RedactionReason.choices, blank=True)
    sessions = models.ManyToManyField(  # type: ignore[var-annotated]
        "recorder.Session", through="CaseSession", related_name="complaint_cases"
    )

    class Meta:
        ordering = ["-opened_at"]
        permissions = [
            ("request_access", "May request access to a case's recordings"),
            ("play_recording", "May play a recording under an access grant made out to them"),
            ("decide_access_request", "May approve or reject access requests of others"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status="closed", closed_at__isnull=False) & ~models.Q(outcome="")
                | ~models.Q(status="closed") & models.Q(closed_at__isnull=True, outcome=""),
                name="case_closed_has_outcome",
            ),
        ]

    def __str__(self) -> str:
        return f"case {self.id}"

    def may_request_access(self, *, by: Any) -> bool:
        """Whether `by` may ask for access now: the case's own officer, while it is open or its
        access has expired (the workflow's states from which a request starts)."""
        return self.opened_by_id == by.pk and self.status in (self.Status.OPEN, self.Status.ACCESS_EXPIRED)

    def may_close(self, *, by: Any) -> bool:
        """Whether `by` may close the case: its own officer, once, in any state but closed."""
        return self.opened_by_id == by.pk and self.status != self.Status.CLOSED


class CaseSession(models.Model):
    """A session linked to a case, and the legal hold the link placed on it."""

    case = models.ForeignKey(ComplaintCase, on_delete=models.PROTECT, related_name="links")
    session = models.ForeignKey("recorder.Session", on_delete=models.PROTECT, related_name="case_links")
    linked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    linked_at = models.DateTimeField()
    hold_id = models.UUIDField(help_text="retention.LegalHold placed when linked")

    class Meta:
        ordering = ["linked_at", "id"]
        constraints = [models.UniqueConstraint(fields=["case", "session"], name="case_session_once")]

    def __str__(self) -> str:
        return f"{self.session_id} in {self.case_id}"


class AccessRequest(models.Model):
    """An officer asks to see a case's recordings; a different person (a DPO) decides."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        CANCELLED = "cancelled", _("Cancelled (case closed)")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    case = models.ForeignKey(ComplaintCase, on_delete=models.PROTECT, related_name="access_requests")
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="access_requests"
    )
    justification = models.TextField(max_length=5_000)
    requested_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="access_decisions",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(max_length=5_000, blank=True, help_text="The decider's reason")

    class Meta:
        ordering = ["requested_at", "id"]
        constraints = [
            # Four-eyes, as a database guarantee behind the service's check: nobody decides their
            # own request, whatever path writes the row.
            models.CheckConstraint(
                condition=~models.Q(decided_by=models.F("requester")), name="request_not_self_decided"
            ),
            models.UniqueConstraint(
                fields=["case"], condition=models.Q(status="pending"), name="one_pending_request_per_case"
            ),
        ]

    def __str__(self) -> str:
        return f"access request {self.id} ({self.status})"


# "This grant is active at `at`", written once: not revoked, started, not yet ended. The database
# reads it as a filter (AccessGrant.objects.active) and Python as AccessGrant.is_active, both made
# from these conditions; tests/complaints/test_active_grant.py holds the two to each other.
_ACTIVE_AT: tuple[tuple[str, str, Any], ...] = (
    ("revoked_at", "isnull", True),
    ("starts_at", "lte", "at"),
    ("ends_at", "gt", "at"),
)
_IN_PYTHON: dict[str, Callable[[Any, Any], bool]] = {
    "isnull": lambda value, wanted: (value is None) == wanted,
    "lte": operator.le,
    "gt": operator.gt,
}


def grant_active_at(at: datetime, *, through: str = "") -> models.Q:
    """The filter of grants active at `at`; `through` is the path to the grant from the model
    queried (e.g. "accessgrant__")."""
    return models.Q(
        **{
            f"{through}{field}__{lookup}": at if value == "at" else value
            for field, lookup, value in _ACTIVE_AT
        }
    )


class AccessGrantQuerySet(models.QuerySet["AccessGrant"]):
    def active(self, at: datetime) -> AccessGrantQuerySet:
        return self.filter(grant_active_at(at))


class AccessGrant(models.Model):
    """The capability to decrypt the named recordings, for the grantee, until `ends_at`."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    case = models.ForeignKey(ComplaintCase, on_delete=models.PROTECT, related_name="grants")
    request = models.OneToOneField(AccessRequest, on_delete=models.PROTECT, related_name="grant")
    grantee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="access_grants"
    )
    recordings = models.ManyToManyField("recorder.Recording", related_name="access_grants")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AccessGrantQuerySet.as_manager()

    class Meta:
        ordering = ["-starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")), name="grant_ends_after_start"
            )
        ]

    def __str__(self) -> str:
        return f"grant {self.id}"

    def is_active(self, at: datetime) -> bool:
        return all(
            _IN_PYTHON[lookup](getattr(self, field), at if value == "at" else value)
            for field, lookup, value in _ACTIVE_AT
        )
