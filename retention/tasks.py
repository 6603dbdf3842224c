"""Celery tasks of retention: the scheduled purge. Safe to run twice or side by side."""

from celery import shared_task

from retention.models import PurgeRun
from retention.services import purge_expired


@shared_task(acks_late=True)
def purge_expired_recordings() -> dict[str, int]:
    run = purge_expired(trigger=PurgeRun.Trigger.SCHEDULE)
    return {"shredded": run.shredded, "purged": run.purged, "failed": run.failed}
