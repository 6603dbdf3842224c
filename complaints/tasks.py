"""Celery tasks of the complaint workflow: grant expiry on beat. Safe to run twice."""

from celery import shared_task

from complaints.services import expire_access_grants as expire


@shared_task(acks_late=True)
def expire_access_grants() -> int:
    return expire()
