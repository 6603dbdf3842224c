"""Notification actions: plan a kind's messages (a pending record per recipient, in the
transaction of the change), plan the reminders beat asks for, deliver one message, count how each
ended, set a staff member's preferences, forget old records.

Each (kind, subject, recipient) is planned once (a unique constraint): a reminder beat that runs
twice, or two beats, make no second message. Delivery marks the record sent after the SMTP server
took the message; a worker that dies between the two sends it again (at least once).
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Collection, Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import InvalidInput
from notifications import messages, selectors
from notifications.kinds import (
    ACCESS_DECIDED,
    ACCESS_REQUEST_WAITING,
    ANSWER_DUE,
    GRANT_ENDING,
    KINDS,
    PURGE_FAILED,
    PURGE_LAG,
    Kind,
    kinds_for_role,
)
from notifications.models import Notification, NotificationPreferences, NotificationTally
from staff.roles import role_of

logger = logging.getLogger(__name__)
Outcome = NotificationTally.Outcome


def _count(kind: str, outcome: str, number: int = 1) -> None:
    tally, _ = NotificationTally.objects.get_or_create(kind=kind, outcome=outcome)
    NotificationTally.objects.filter(pk=tally.pk).update(count=F("count") + number)


def plan(*, kind: Kind, subject: Any, recipients: Iterable[Any], now: datetime | None = None) -> list[Any]:
    """A pending record for each recipient who has not turned the kind off; the ids of the ones
    made now (the caller enqueues their delivery after the commit). A recipient without an e-mail
    address gets a skipped record instead, counted once (`no_address`) and logged without naming
    them."""
    now = now or timezone.now()
    muted = selectors.muted_user_ids(kind=kind)
    made, no_address = [], 0
    with transaction.atomic():
        for user in recipients:
            if user.pk in muted:
                continue
            status = Notification.Status.PENDING if user.email else Notification.Status.SKIPPED
            notification, created = Notification.objects.get_or_create(
                kind=kind.code,
                subject=str(subject),
                recipient=user,
                defaults={"created_at": now, "status": status},
            )
            if not created:
                continue
            if status == Notification.Status.PENDING:
                made.append(notification.id)
            else:
                no_address += 1
        if no_address:
            _count(kind.code, Outcome.NO_ADDRESS, no_address)
            logger.warning(
                "notification %s about %s: %d recipient(s) without an e-mail address skipped",
                kind.code, subject, no_address,
            )  # fmt: skip
    return made


# --- the events (complaints.signals, retention.signals) -----------------------------------------


def plan_access_requested(*, request_id: Any) -> list[Any]:
    """Every data protection officer but the requester (four-eyes: never the one deciding)."""
    request = selectors.access_request(request_id=request_id)
    if request is None:
        return []
    recipients = selectors.candidates(kind=ACCESS_REQUEST_WAITING, only=~Q(pk=request.requester_id))
    return plan(kind=ACCESS_REQUEST_WAITING, subject=request.pk, recipients=recipients)


def plan_access_decided(*, request_id: Any) -> list[Any]:
    """The officer who requested it."""
    request = selectors.access_request(request_id=request_id)
    if request is None:
        return []
    recipients = selectors.candidates(kind=ACCESS_DECIDED, only=Q(pk=request.requester_id))
    return plan(kind=ACCESS_DECIDED, subject=request.pk, recipients=recipients)


def plan_purge_failed(*, run_id: Any) -> list[Any]:
    return plan(kind=PURGE_FAILED, subject=run_id, recipients=selectors.candidates(kind=PURGE_FAILED))


# --- the reminders (beat) -------------------------------------------------------------------------


def plan_reminders(*, now: datetime | None = None) -> list[Any]:
    """Grants ending within a day (their grantee), answer dates within NOTIFY_ANSWER_DUE_DAYS (the
    case's officer), the purge lag over NOTIFY_PURGE_LAG_SECONDS (operators, once a day while it
    lasts); and messages whose delivery task was lost, enqueued again. Safe to run twice."""
    now = now or timezone.now()
    made: list[Any] = []
    for grant_id, grantee_id in selectors.grants_ending(now=now):
        recipients = selectors.candidates(kind=GRANT_ENDING, only=Q(pk=grantee_id))
        made += plan(kind=GRANT_ENDING, subject=grant_id, recipients=recipients, now=now)
    for case_id, officer_id in selectors.cases_due(now=now):
        recipients = selectors.candidates(kind=ANSWER_DUE, only=Q(pk=officer_id))
        made += plan(kind=ANSWER_DUE, subject=case_id, recipients=recipients, now=now)
    if selectors.purge_lag(now=now).exceeded:
        day = now.date().isoformat()  # UTC: one message a day while the lag lasts
        made += plan(kind=PURGE_LAG, subject=day, recipients=selectors.candidates(kind=PURGE_LAG), now=now)
    lost = timedelta(seconds=settings.NOTIFY_RETRY_BACKOFF_SECONDS * 2**settings.NOTIFY_MAX_RETRIES + 3600)
    return made + [i for i in selectors.undelivered(before=now - lost) if i not in made]


# --- delivery -------------------------------------------------------------------------------------

# What a temporary failure raises (a refused or dropped connection, a 4xx answer, a timeout).
TEMPORARY_ERRORS = (smtplib.SMTPException, OSError)


def deliver(*, notification_id: Any) -> str:
    """Send one pending message; what became of it. Raises TEMPORARY_ERRORS for the task to retry.
    A message already sent, or no longer wanted, is not sent (a redelivered task is harmless)."""
    notification = Notification.objects.select_related("recipient").filter(pk=notification_id).first()
    if notification is None or notification.status != Notification.Status.PENDING:
        return "done"
    user, kind = notification.recipient, KINDS[notification.kind]
    preferences = selectors.preferences_of(user_id=user.pk)
    wanted = (
        user.is_active
        and role_of(user) == kind.role
        and (kind.required or kind.code not in preferences.muted)
    )
    message = messages.compose(notification, address=user.email, language=preferences.language)
    if not (wanted and user.email and message is not None):
        _finish(notification, Notification.Status.SKIPPED)
        return str(Notification.Status.SKIPPED)
    Notification.objects.filter(pk=notification.pk).update(
        attempts=F("attempts") + 1, attempted_at=timezone.now()
    )
    message.send()
    _finish(notification, Notification.Status.SENT, outcome=Outcome.SENT)
    logger.info("notification %s (%s) sent", notification.pk, kind.code)
    return str(Notification.Status.SENT)


def _finish(notification: Notification, status: str, *, outcome: str | None = None) -> None:
    with transaction.atomic():
        changed = Notification.objects.filter(pk=notification.pk, status=Notification.Status.PENDING).update(
            status=status, sent_at=timezone.now() if status == Notification.Status.SENT else None
        )
        if changed and outcome:
            _count(notification.kind, outcome)


def count_retry(*, notification_id: Any, error: BaseException) -> None:
    """A temporary failure: counted and logged by the error's kind only (an SMTP answer may quote
    the address)."""
    notification = Notification.objects.filter(pk=notification_id).first()
    if notification is not None:
        _count(notification.kind, Outcome.RETRIED)
        logger.warning(
            "notification %s (%s) not delivered yet, retrying: %s %s",
            notification.pk, notification.kind, type(error).__name__, getattr(error, "smtp_code", ""),
        )  # fmt: skip


def give_up(*, notification_id: Any, error: BaseException) -> None:
    """Every retry failed: the record says so, /metrics counts it, the log names the error's kind."""
    notification = Notification.objects.filter(pk=notification_id).first()
    if notification is None:
        return
    _finish(notification, Notification.Status.FAILED, outcome=Outcome.FAILED)
    logger.error(
        "notification %s (%s) failed after %d attempt(s): %s %s",
        notification.pk, notification.kind, notification.attempts, type(error).__name__,
        getattr(error, "smtp_code", ""),
    )  # fmt: skip


# --- preferences and forgetting -------------------------------------------------------------------


def set_preferences(*, user: Any, language: str, muted: Collection[str]) -> NotificationPreferences:
    """The kinds of the user's role they turned off, and their e-mail language. An access request
    awaiting their decision cannot be turned off. Not ledgered: preferences open nothing."""
    if language not in dict(settings.LANGUAGES):
        raise InvalidInput(_("Choose one of the offered languages."), code="invalid_language")
    own = {kind.code: kind for kind in kinds_for_role(role_of(user))}
    for code in muted:
        if code not in own:
            raise InvalidInput(
                _("Your role does not receive this notification."), code="unknown_notification"
            )
        if own[code].required:
            raise InvalidInput(
                _("Access requests awaiting your decision cannot be turned off."),
                code="notification_required",
            )
    with transaction.atomic():
        preferences, _created = NotificationPreferences.objects.select_for_update().get_or_create(user=user)
        kept = [code for code in preferences.muted or [] if code not in own]  # another role's, kept
        preferences.language, preferences.muted = language, sorted({*kept, *muted})
        preferences.full_clean()
        preferences.save()
    return preferences


def forget_old_notifications(*, now: datetime | None = None) -> int:
    """Delete the records older than NOTIFY_RECORD_DAYS (their reminders' windows are long past)."""
    now = now or timezone.now()
    old = Notification.objects.filter(created_at__lt=now - timedelta(days=settings.NOTIFY_RECORD_DAYS))
    deleted, _ = old.delete()
    return deleted
