"""Celery tasks of the complaint workflow on beat: grant expiry, case redaction. Safe to run twice."""

from celery import shared_task

from complaints.redaction import redact_closed_cases as redact
from complaints.services import expire_access_grants as expire


@shared_task(acks_late=True)
def expire_access_grants() -> int:
    return expire()


@shared_task(acks_late=True)
def redact_closed_cases() -> int:
    return redact()
