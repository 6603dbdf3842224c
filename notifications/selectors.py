"""Reads for notifications: who receives a kind, their preferences, what the reminders are due
for, and the few facts (ids, times, counts) a message states. Never free text or references."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet

from complaints.models import AccessGrant, AccessRequest, ComplaintCase
from notifications.kinds import Kind
from notifications.models import Notification, NotificationPreferences, NotificationTally
from retention.models import PurgeRun
from retention.selectors import purge_lag_seconds, purge_run
from staff.roles import users_with_role


def preferences_of(*, user_id: Any) -> NotificationPreferences:
    """The staff member's preferences, or the defaults (everything on, LANGUAGE_CODE), unsaved."""
    found = NotificationPreferences.objects.filter(user_id=user_id).first()
    return found or NotificationPreferences(user_id=user_id, language=settings.LANGUAGE_CODE, muted=[])


def candidates(*, kind: Kind, only: Q | None = None) -> QuerySet[Any]:
    """Active staff members holding the kind's role (narrowed by `only`), whether or not they
    have an address or turned the kind off: the planner counts and skips those."""
    users = get_user_model().objects.filter(is_active=True, pk__in=users_with_role(kind.role).values("pk"))
    return users.filter(only) if only is not None else users


def muted_user_ids(*, kind: Kind) -> set[Any]:
    if kind.required:
        return set()
    # JSON containment is not on every backend's SQLite; preferences are one small row a person.
    return {p.user_id for p in NotificationPreferences.objects.all() if kind.code in (p.muted or [])}


def access_request(*, request_id: Any) -> AccessRequest | None:
    return AccessRequest.objects.select_related("case").filter(pk=request_id).first()


def access_grant(*, grant_id: Any) -> AccessGrant | None:
    return AccessGrant.objects.select_related("case").filter(pk=grant_id).first()


def access_grant_of_request(*, request_id: Any) -> AccessGrant | None:
    return AccessGrant.objects.filter(request_id=request_id).first()


def complaint_case(*, case_id: Any) -> ComplaintCase | None:
    return ComplaintCase.objects.filter(pk=case_id).first()


def failed_purge_run(*, run_id: Any) -> PurgeRun | None:
    return purge_run(run_id=run_id)


def grants_ending(*, now: datetime) -> list[tuple[Any, Any]]:
    """(grant id, grantee id) of active grants ending within NOTIFY_GRANT_ENDING_HOURS, on cases
    not closed."""
    soon = now + timedelta(hours=settings.NOTIFY_GRANT_ENDING_HOURS)
    grants = AccessGrant.objects.active(now).filter(ends_at__lte=soon).exclude(case__status="closed")
    return list(grants.values_list("id", "grantee_id"))


def cases_due(*, now: datetime) -> list[tuple[Any, Any]]:
    """(case id, officer id) of cases not closed whose answer date is within NOTIFY_ANSWER_DUE_DAYS."""
    soon = now + timedelta(days=settings.NOTIFY_ANSWER_DUE_DAYS)
    cases = ComplaintCase.objects.exclude(status=ComplaintCase.Status.CLOSED).filter(
        respond_by__gt=now, respond_by__lte=soon
    )
    return list(cases.values_list("id", "opened_by_id"))


@dataclass(frozen=True)
class PurgeLag:
    seconds: float
    threshold: int

    @property
    def exceeded(self) -> bool:
        return self.seconds > self.threshold


def purge_lag(*, now: datetime) -> PurgeLag:
    return PurgeLag(purge_lag_seconds(now=now), settings.NOTIFY_PURGE_LAG_SECONDS)


def undelivered(*, before: datetime) -> list[Any]:
    """Ids of messages still pending whose last attempt (or making) is older than `before`: their
    task was lost (the broker was down at the commit, a worker died for good). Older than any
    retry's back-off, so a message in back-off is not sent twice."""
    stale = Q(attempted_at__lt=before) | Q(attempted_at__isnull=True, created_at__lt=before)
    pending = Notification.objects.filter(status=Notification.Status.PENDING)
    return list(pending.filter(stale).values_list("id", flat=True)[:1000])


def tallies() -> list[tuple[str, str, int]]:
    """(kind, outcome, count) of every message since the vault began, for /metrics."""
    rows = NotificationTally.objects.order_by("kind", "outcome").values_list("kind", "outcome", "count")
    return [(kind, outcome, int(count)) for kind, outcome, count in rows]
