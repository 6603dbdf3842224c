"""Carry the request id into Celery tasks, and give workers and beat the same log format as web.

A task published while serving a request gets the id as a message header; the worker sets it
around the task, so the task's log lines name the request that caused it. Tasks beat starts get
a fresh id each, so one run's lines can still be told apart.
"""

from __future__ import annotations

import logging.config
import uuid
from typing import Any

from celery import signals

from ops.logs import current_request_id

logger = logging.getLogger(__name__)

HEADER = "vault_request_id"


@signals.setup_logging.connect
def use_django_logging(**kwargs: Any) -> None:
    """Keep Celery from installing its own handlers: Django's LOGGING (JSON or plain) applies."""
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


@signals.before_task_publish.connect
def add_request_id(headers: dict[str, Any] | None = None, **kwargs: Any) -> None:
    request_id = current_request_id.get()
    if headers is not None and request_id:
        headers[HEADER] = request_id


@signals.task_prerun.connect
def enter_request_id(task: Any = None, **kwargs: Any) -> None:
    request_id = getattr(task.request, HEADER, None) if task is not None else None
    current_request_id.set(str(request_id or uuid.uuid4().hex))
    logger.info("task %s started", getattr(task, "name", "?"))


@signals.task_postrun.connect
def leave_request_id(task: Any = None, state: str | None = None, **kwargs: Any) -> None:
    logger.info("task %s finished: %s", getattr(task, "name", "?"), state or "unknown")
    current_request_id.set(None)
