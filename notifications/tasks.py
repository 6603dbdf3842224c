"""Celery tasks of notifications: deliver one message (retried on temporary SMTP failures), the
reminders on beat, forgetting old records. Each takes ids and is safe to run twice."""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, shared_task
from django.conf import settings
from kombu.exceptions import OperationalError

from notifications import services

logger = logging.getLogger(__name__)


class DeliveryTask(Task):  # type: ignore[misc]
    """Counts each retry, and a message whose retries are spent, on its record and in /metrics."""

    def on_retry(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        services.count_retry(notification_id=args[0], error=exc)

    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        services.give_up(notification_id=args[0], error=exc)


@shared_task(
    bind=True,
    base=DeliveryTask,
    acks_late=True,
    autoretry_for=services.TEMPORARY_ERRORS,
    max_retries=settings.NOTIFY_MAX_RETRIES,
    retry_backoff=settings.NOTIFY_RETRY_BACKOFF_SECONDS,
    retry_backoff_max=600,
    retry_jitter=True,
    # Above EMAIL_TIMEOUT: a hung server fails the attempt (retried) before the worker kills it.
    soft_time_limit=settings.EMAIL_TIMEOUT * 3,
    time_limit=settings.EMAIL_TIMEOUT * 3 + 30,
)
def deliver_notification(self: Task, notification_id: str) -> str:
    return services.deliver(notification_id=notification_id)


def enqueue(notification_ids: list[Any]) -> None:
    """Publish the deliveries (called after the commit that made the records). A broker that cannot
    take them loses nothing: the records stay pending and the reminders' beat enqueues them again."""
    for notification_id in notification_ids:
        try:
            deliver_notification.apply_async(
                args=[str(notification_id)], retry=True, retry_policy={"max_retries": 3, "interval_max": 1}
            )
        except OperationalError as error:
            logger.warning(
                "notification %s left pending, the broker refused it: %s",
                notification_id,
                type(error).__name__,
            )


@shared_task(acks_late=True)
def send_reminders() -> int:
    made = services.plan_reminders()
    enqueue(made)
    return len(made)


@shared_task(acks_late=True)
def forget_old_notifications() -> int:
    return services.forget_old_notifications()
