"""The end of a complaint case's personal data: redaction CASE_RETENTION after closing.

The customer reference becomes its keyed hash; the complaint, the closing summary and every
access request's justification and decision reason become a marker saying when and why they
went; the case's commitment key is erased with them (complaints.commitments), so the ledger's
commitments name nothing any more. Dates, outcome, links and the ledger history stay.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.services import Actor, record_event
from complaints.models import AccessRequest, ComplaintCase
from core.periods import add_period, parse_period

# x + P1Y <= now can hold for an x up to a few days after now - P1Y (a month's end clamps).
MONTH_END_SLACK = timedelta(days=4)
Reason = ComplaintCase.RedactionReason


def marker(*, at: datetime, reason: str) -> str:
    return f"[redacted {at.date().isoformat()}: {reason}]"


def redaction_due(*, case: ComplaintCase, now: datetime) -> bool:
    return case.closed_at is not None and add_period(case.closed_at, settings.CASE_RETENTION) <= now


def redact_case(*, case_id: uuid.UUID, reason: str, actor: Actor) -> bool:
    """Redact one case (its own transaction, with its `case.redacted` entry); False if it was
    redacted already. Callers decide whether it is due (closed and retention passed, or an erasure)."""
    with transaction.atomic():
        case = ComplaintCase.objects.select_for_update().filter(pk=case_id, redacted_at__isnull=True).first()
        if case is None:
            return False
        now = timezone.now()
        text = marker(at=now, reason=reason)
        requests = AccessRequest.objects.filter(case=case)
        redacted_requests = requests.update(justification=text, reason=text)
        case.customer_ref = case.customer_ref_hash
        case.complaint = text
        if case.summary:
            case.summary = text
        case.text_key = ""
        case.redacted_at, case.redaction_reason = now, reason
        case.save(
            update_fields=[
                "customer_ref", "complaint", "summary", "text_key", "redacted_at", "redaction_reason"
            ]
        )  # fmt: skip
        record_event(
            action="case.redacted",
            actor=actor,
            case_id=case.id,
            details={"reason": reason, "redacted_at": now.isoformat(), "access_requests": redacted_requests},
        )
    return True


def redact_closed_cases(*, now: datetime | None = None) -> int:
    """Celery beat: redact every case closed CASE_RETENTION ago. Safe to run twice or side by side."""
    now = now or timezone.now()
    cutoff = now - parse_period(settings.CASE_RETENTION) + MONTH_END_SLACK
    candidates = ComplaintCase.objects.filter(
        status=ComplaintCase.Status.CLOSED, redacted_at__isnull=True, closed_at__lte=cutoff
    ).order_by("closed_at", "id")
    actor = Actor.job("case-retention")
    redacted = 0
    for case in candidates.only("id", "closed_at").iterator():
        if redaction_due(case=case, now=now):
            redacted += redact_case(case_id=case.id, reason=Reason.RETENTION_EXPIRED, actor=actor)
    return redacted
