"""The e-mail of a notification: the facts it states (a short case id, what happened, when, the
deadline, a link), rendered in the recipient's language from its kind's plain-text template.

Only ids, times and counts are read here, never a customer or agent reference, an external id,
complaint or justification text, or a recording's size: a message leaves the vault's control.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.timesince import timesince

from core.templatetags.display_time import moment_text
from notifications import selectors
from notifications.kinds import KINDS, Kind
from notifications.models import Notification


def link(url_name: str, *args: Any) -> str:
    """A staff page's address under VAULT_PUBLIC_URL (a worker has no request to build it from)."""
    return settings.VAULT_PUBLIC_URL + reverse(url_name, args=args)


def short_id(value: Any) -> str:
    return str(value)[:8]  # as the pages show a case


def _case_facts(case: Any) -> dict[str, Any]:
    """A case as a message names it: its short id, its answer date and its page; nothing else."""
    return {
        "case": short_id(case.id),
        "respond_by": case.respond_by,
        "url": link("complaints:case-detail", case.id),
    }


def _facts(kind: Kind, subject: str, now: datetime) -> dict[str, Any] | None:
    """What the message of `kind` about `subject` states; None when there is nothing to say any
    more (the request was decided, the grant revoked, the case closed before delivery)."""
    if kind.code == "access_request_waiting":
        request = selectors.access_request(request_id=subject)
        if request is None or request.status != request.Status.PENDING:
            return None
        return {**_case_facts(request.case), "requested_at": request.requested_at,
                "url": link("complaints:approval-queue")}  # fmt: skip
    if kind.code == "access_decided":
        request = selectors.access_request(request_id=subject)
        if request is None or request.decided_at is None:
            return None
        grant = selectors.access_grant_of_request(request_id=request.pk)
        return {**_case_facts(request.case), "approved": request.status == request.Status.APPROVED,
                "decided_at": request.decided_at, "ends_at": grant.ends_at if grant else None}  # fmt: skip
    if kind.code == "grant_ending":
        grant = selectors.access_grant(grant_id=subject)
        if grant is None or grant.revoked_at is not None or grant.ends_at <= now:
            return None
        return {**_case_facts(grant.case), "ends_at": grant.ends_at}
    if kind.code == "answer_due":
        case = selectors.complaint_case(case_id=subject)
        if case is None or case.status == case.Status.CLOSED:
            return None
        return {**_case_facts(case), "days": settings.NOTIFY_ANSWER_DUE_DAYS}
    if kind.code == "purge_failed":
        run = selectors.failed_purge_run(run_id=subject)
        if run is None:
            return None
        return {"run": short_id(run.id), "started_at": run.started_at, "failed": run.failed,
                "abandoned": run.abandoned_at is not None, "url": link("retention:dashboard")}  # fmt: skip
    if kind.code == "purge_lag":
        lag = selectors.purge_lag(now=now)
        if not lag.exceeded:
            return None
        return {"lag": lag.seconds, "threshold": lag.threshold, "url": link("retention:dashboard")}
    raise ValueError(f"no message for kind {kind.code!r}")


def _as_text(facts: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Times in DISPLAY_TIME_ZONE with the zone named, durations in words, in the active language."""
    shown: dict[str, Any] = {}
    for name, value in facts.items():
        if isinstance(value, datetime):
            shown[name] = moment_text(value)
        elif name in ("lag", "threshold"):
            shown[name] = timesince(now - timedelta(seconds=float(value)), now)
        else:
            shown[name] = value
    return shown


def compose(notification: Notification, *, address: str, language: str) -> EmailMessage | None:
    """The message to `address` in `language`, or None when there is nothing to say any more."""
    kind = KINDS[notification.kind]
    now = timezone.now()
    facts = _facts(kind, notification.subject, now)
    if facts is None:
        return None
    with translation.override(language):
        context = {**_as_text(facts, now), "preferences_url": link("notification-preferences")}
        text = render_to_string(kind.template, context)
    subject, _, body = text.strip().partition("\n")
    return EmailMessage(
        subject=settings.NOTIFY_SUBJECT_PREFIX + " ".join(subject.split()),
        body=body.strip() + "\n",
        to=[address],
        # RFC 3834: an automatic message, so out-of-office replies are not sent back to it.
        headers={"Auto-Submitted": "auto-generated", "Content-Language": language},
    )
