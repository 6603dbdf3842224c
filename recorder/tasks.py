"""Celery tasks of the recorder: ids in, one service call, safe to run twice."""

from celery import shared_task

from recorder.ingest import reconcile_abandoned_uploads as reconcile


@shared_task(acks_late=True, time_limit=600, soft_time_limit=540)
def reconcile_abandoned_uploads() -> int:
    return reconcile()
