"""Where the events of the layers below become messages: complaints' and retention's signals, sent
inside their transactions. The records are made in that transaction (rolled back with it) and
their delivery is enqueued only once it commits, so a change that rolls back sends nothing."""

from __future__ import annotations

from functools import partial
from typing import Any

from django.db import transaction

from complaints.signals import access_decided, access_requested
from notifications import services, tasks
from retention.signals import purge_run_failed


def _after_commit(made: list[Any]) -> None:
    if made:
        transaction.on_commit(partial(tasks.enqueue, made))


def on_access_requested(*, request_id: Any, **kwargs: Any) -> None:
    _after_commit(services.plan_access_requested(request_id=request_id))


def on_access_decided(*, request_id: Any, **kwargs: Any) -> None:
    _after_commit(services.plan_access_decided(request_id=request_id))


def on_purge_run_failed(*, run_id: Any, **kwargs: Any) -> None:
    _after_commit(services.plan_purge_failed(run_id=run_id))


def connect() -> None:
    access_requested.connect(on_access_requested, dispatch_uid="notifications.access_requested")
    access_decided.connect(on_access_decided, dispatch_uid="notifications.access_decided")
    purge_run_failed.connect(on_purge_run_failed, dispatch_uid="notifications.purge_run_failed")
