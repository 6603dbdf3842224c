"""Complaint workflow actions: open, link, request, approve/reject (four-eyes), close, expire.

Each action checks who may do it, changes state and writes its ledger event (actor, and a
commitment to the reason typed: complaints.commitments) in one transaction. Refusals of access
are ledger events too (`access.denied`), written in their own transaction so they survive the
refusal. Playback lives in `complaints.playback`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import isodate
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop

from audit.services import Actor, record_event
from complaints import commitments, selectors, signals
from complaints.access import actor_of, case_for, parse_uuid, require_role
from complaints.models import AccessGrant, AccessRequest, CaseSession, ComplaintCase
from core.batching import rows_per_statement
from core.errors import Conflict, Forbidden, InvalidInput, NotFound
from recorder.models import Recording, Session
from recorder.pseudonyms import customer_hash
from retention.services import place_legal_hold, release_legal_hold
from staff.authorisation import record_denial
from staff.roles import APPROVER, OFFICER
from staff.step_up import require_own_credentials

User = AbstractBaseUser | AnonymousUser
# Answer a complaint within one month (GDPR art. 12(3)); the officer may set another deadline.
RESPONSE_TIME = timedelta(days=30)
CLOCK_SKEW = timedelta(minutes=5)  # an officer's clock may run a little ahead of ours
EARLIEST_RECEIVED = datetime(2000, 1, 1, tzinfo=UTC)  # before any recording this vault holds


def access_window() -> timedelta:
    """ACCESS_WINDOW: an ISO 8601 duration without months or years (PT72H, P3D) or hours (72)."""
    text = str(settings.ACCESS_WINDOW).strip()
    try:
        window = timedelta(hours=float(text)) if text.replace(".", "", 1).isdigit() else None
        if window is None:
            parsed = isodate.parse_duration(text)
            window = parsed if isinstance(parsed, timedelta) else None
    except (isodate.ISO8601Error, ValueError, OverflowError):
        window = None
    if window is None or window <= timedelta(0):
        raise ImproperlyConfigured(
            f"ACCESS_WINDOW={text!r} must be a positive ISO 8601 duration such as PT72H, or hours"
        )
    return window


def _clean_text(value: str, *, field: str, code: str) -> str:
    text = (value or "").strip()
    if not text:
        raise InvalidInput(gettext("%(field)s must not be empty.") % {"field": field}, code=code)
    return text


def _full_clean(instance: Any, **kwargs: Any) -> None:
    try:
        instance.full_clean(**kwargs)
    except ValidationError as error:
        messages = "; ".join(f"{k}: {' '.join(v)}" for k, v in error.message_dict.items())
        raise InvalidInput(messages, code="invalid") from error


# --- cases and sessions ---------------------------------------------------------------------


def search_sessions(
    *,
    officer: Any,
    customer_ref: str,
    started_from: datetime | None = None,
    started_until: datetime | None = None,
) -> QuerySet[Session]:
    """An officer's search of a customer's sessions (metadata only); the search is on record."""
    require_role(officer, OFFICER, gettext_noop("search a customer's sessions"))
    customer_ref = _clean_text(customer_ref, field="customer_ref", code="customer_ref_required")
    if started_from and started_until and started_until <= started_from:
        raise InvalidInput(gettext("The end of the range must come after its start."), code="invalid_range")
    sessions = selectors.find_sessions(
        customer_ref=customer_ref, started_from=started_from, started_until=started_until
    )
    with transaction.atomic():
        record_event(
            action="sessions.searched",
            actor=actor_of(officer),
            details={"customer_ref_hash": customer_hash(customer_ref), "found": sessions.count()},
        )
    return sessions


def visible_cases(*, user: Any) -> QuerySet[ComplaintCase]:
    """The cases `user` may list (officers: their own; DPOs: all); anyone else is refused on record."""
    require_role(user, (OFFICER, APPROVER), gettext_noop("list complaint cases"), reason="no_case_role")
    return selectors.cases_for_user(user=user)


@dataclass(frozen=True)
class NewCaseAttempt:
    """What the new-case form's one action came to: the case opened, or the customer's sessions
    to show again with why nothing was opened."""

    case: ComplaintCase | None
    sessions: QuerySet[Session] | None
    error: str


def start_case(
    *, officer: Any, searching: bool, data: dict[str, Any], complete: bool, session_ids: list[str]
) -> NewCaseAttempt:
    """The new-case form: a search of the customer's sessions (`searching`), or opening the case
    with the picked ones. `complete` says the form's fields were all valid. When opening is
    refused, or the form is incomplete, the sessions are searched again so the officer's picks stay
    on screen: each showing is a search on record, as the search button's is."""
    found: QuerySet[Session] | None = None
    error = ""
    if complete:
        try:
            if searching:
                found = search_sessions(
                    officer=officer,
                    customer_ref=data["customer_ref"],
                    started_from=data["started_from"],
                    started_until=data["started_until"],
                )
            else:
                case = open_case(
                    officer=officer,
                    customer_ref=data["customer_ref"],
                    channel=data["channel"],
                    complaint=data["complaint"],
                    session_ids=session_ids,
                    received_at=data["received_at"],
                )
                return NewCaseAttempt(case=case, sessions=None, error="")
        except (InvalidInput, NotFound) as refused:
            error = refused.detail
    if found is None and not searching and "customer_ref" in data:
        try:
            found = search_sessions(
                officer=officer,
                customer_ref=data["customer_ref"],
                started_from=data.get("started_from"),
                started_until=data.get("started_until"),
            )
        except InvalidInput:
            found = None
    return NewCaseAttempt(case=None, sessions=found, error=error)


def _sessions_of_customer(
    *, user: Any, customer_ref_hash: str, session_ids: Iterable[uuid.UUID | str], case_id: uuid.UUID | None
) -> list[Session]:
    """The named sessions, each of which must be this customer's: another customer's session is
    as unknown as a missing one (and the attempt is on record)."""
    found = []
    for session_id in dict.fromkeys(str(s) for s in session_ids):
        parsed = parse_uuid(session_id)
        session = (
            Session.objects.filter(id=parsed, customer_ref_hash=customer_ref_hash).first() if parsed else None
        )
        if session is None:
            record_denial(
                user=user,
                reason="session_not_of_customer",
                case_id=case_id,
                details={"requested_session": session_id[:64]},
            )
            raise NotFound(
                gettext("No session %(session)s of this customer is known.") % {"session": session_id[:64]},
                code="session_not_found",
            )
        found.append(session)
    return found


def open_case(
    *,
    officer: Any,
    customer_ref: str,
    channel: str,
    complaint: str,
    session_ids: Sequence[uuid.UUID | str] = (),
    received_at: datetime | None = None,
    respond_by: datetime | None = None,
) -> ComplaintCase:
    """Open a customer's complaint case; each linked session is put under a legal hold."""
    require_role(officer, OFFICER, gettext_noop("open a complaint case"))
    now = timezone.now()
    received_at = received_at or now
    respond_by = respond_by or received_at + RESPONSE_TIME
    _check_case_dates(received_at=received_at, respond_by=respond_by, now=now)
    case = ComplaintCase(
        customer_ref=_clean_text(customer_ref, field="customer_ref", code="customer_ref_required"),
        channel=channel,
        complaint=_clean_text(complaint, field="complaint", code="complaint_required"),
        received_at=received_at,
        respond_by=respond_by,
        opened_by=officer,
        opened_at=now,
        text_key=commitments.new_key(),
    )
    case.customer_ref_hash = customer_hash(case.customer_ref)
    _full_clean(case, exclude=["opened_by"])
    sessions = _sessions_of_customer(
        user=officer, customer_ref_hash=case.customer_ref_hash, session_ids=session_ids, case_id=None
    )
    with transaction.atomic():
        case.save(force_insert=True)
        record_event(
            action="case.opened",
            actor=actor_of(officer),
            case_id=case.id,
            details={"channel": case.channel, "sessions": [str(s.id) for s in sessions]},
        )
        _link(case=case, sessions=sessions, officer=officer)
    return case


def _check_case_dates(*, received_at: datetime, respond_by: datetime, now: datetime) -> None:
    """Dates a person typed wrong, refused before anything is kept (for the API and the page)."""
    if received_at > now + CLOCK_SKEW:
        raise InvalidInput(gettext("received_at must not be in the future."), code="received_in_future")
    if received_at < EARLIEST_RECEIVED:
        raise InvalidInput(gettext("received_at must not be before 2000."), code="received_implausibly_early")
    if respond_by < received_at:
        raise InvalidInput(
            gettext("respond_by must not come before received_at."), code="respond_by_before_received_at"
        )


def _link(*, case: ComplaintCase, sessions: list[Session], officer: Any) -> list[CaseSession]:
    actor = actor_of(officer)
    already = set(case.links.values_list("session_id", flat=True))
    links = []
    for session in sessions:
        if session.id in already:
            continue
        hold = place_legal_hold(
            session_id=session.id, reason=f"complaint case {case.id}", actor=actor, case_id=case.id
        )
        links.append(
            CaseSession.objects.create(
                case=case, session=session, linked_by=officer, linked_at=timezone.now(), hold_id=hold.id
            )
        )
        record_event(
            action="case.session_linked",
            actor=actor,
            case_id=case.id,
            session_id=session.id,
            details={"hold": str(hold.id)},
        )
    return links


def link_sessions(
    *, officer: Any, case_id: uuid.UUID | str, session_ids: Sequence[uuid.UUID | str]
) -> list[CaseSession]:
    """Link more of the customer's sessions to the case (a legal hold on each); returns the new links."""
    require_role(officer, OFFICER, gettext_noop("link sessions to a case"))
    case = case_for(user=officer, case_id=case_id, acting=True)
    if not session_ids:
        raise InvalidInput(gettext("Name at least one session."), code="sessions_required")
    sessions = _sessions_of_customer(
        user=officer, customer_ref_hash=case.customer_ref_hash, session_ids=session_ids, case_id=case.id
    )
    with transaction.atomic():
        case = ComplaintCase.objects.select_for_update().get(pk=case.pk)
        if case.status == ComplaintCase.Status.CLOSED:
            raise Conflict(gettext("The case is closed."), code="case_closed")
        if case.status == ComplaintCase.Status.AWAITING_APPROVAL:
            # The DPO decides on the recordings linked when access was requested; a session linked
            # now would be granted by an approval that never saw it.
            raise Conflict(
                gettext(
                    "Access is awaiting a data protection officer's decision on the sessions linked so "
                    "far; link more sessions once it is decided."
                ),
                code="access_request_pending",
            )
        return _link(case=case, sessions=sessions, officer=officer)


# --- access requests and decisions ------------------------------------------------------------


def _playable_recordings(case: ComplaintCase) -> list[Recording]:
    return list(
        Recording.objects.filter(session__case_links__case=case, state=Recording.State.LOCKED).order_by("id")
    )


def request_access(*, officer: Any, case_id: uuid.UUID | str, justification: str) -> AccessRequest:
    """Ask a DPO for access to the case's recordings; the case awaits approval."""
    require_role(officer, OFFICER, gettext_noop("request access to recordings"))
    require_own_credentials(officer, doing="request_access")
    case = case_for(user=officer, case_id=case_id, acting=True)
    justification = _clean_text(justification, field="justification", code="justification_required")
    with transaction.atomic():
        case = ComplaintCase.objects.select_for_update().get(pk=case.pk)
        if case.status not in (ComplaintCase.Status.OPEN, ComplaintCase.Status.ACCESS_EXPIRED):
            raise Conflict(
                gettext("Access can be requested only for an open case; this one is %(status)s.")
                % {"status": case.get_status_display()},
                code="case_not_open",
            )
        if not _playable_recordings(case):
            raise Conflict(
                gettext("The case links no recording that can still be played."), code="nothing_to_play"
            )
        request = AccessRequest(
            case=case, requester=officer, justification=justification, requested_at=timezone.now()
        )
        _full_clean(request, exclude=["case", "requester"], validate_constraints=False)
        request.save(force_insert=True)
        case.status = ComplaintCase.Status.AWAITING_APPROVAL
        case.save(update_fields=["status"])
        record_event(
            action="case.access_requested",
            actor=actor_of(officer),
            case_id=case.id,
            details={
                "request": str(request.id),
                **commitments.details(case.text_key, justification, where="request.justification"),
            },
        )
        signals.access_requested.send(sender=AccessRequest, request_id=request.id)
    return request


def _decidable(*, approver: Any, request_id: uuid.UUID | str, deciding: str) -> AccessRequest:
    """The pending request `approver` may decide: a DPO, and never the requester (four-eyes)."""
    doing = (
        gettext_noop("approve access requests")
        if deciding == "approve"
        else gettext_noop("reject access requests")
    )
    require_role(approver, APPROVER, doing)
    require_own_credentials(approver, doing=f"{deciding}_access")
    parsed = parse_uuid(request_id)
    request = AccessRequest.objects.filter(id=parsed).select_related("case").first() if parsed else None
    if request is None:
        record_denial(user=approver, reason="request_not_found", details={"requested": str(request_id)[:64]})
        raise NotFound(gettext("No such access request."), code="request_not_found")
    if request.requester_id == approver.pk:
        record_denial(
            user=approver, reason="four_eyes", case_id=request.case_id, details={"request": str(request.id)}
        )
        raise Forbidden(gettext("Nobody may decide their own access request."), code="four_eyes")
    return request


def _lock_pending(request: AccessRequest) -> tuple[AccessRequest, ComplaintCase]:
    # Case first, then request: the order close_case takes them in, so the two cannot deadlock.
    case = ComplaintCase.objects.select_for_update().get(pk=request.case_id)
    locked = AccessRequest.objects.select_for_update().get(pk=request.pk)
    if locked.status != AccessRequest.Status.PENDING:
        raise Conflict(
            gettext("The request is %(status)s already.") % {"status": locked.get_status_display()},
            code="request_decided",
        )
    return locked, case


def approve_access_request(*, approver: Any, request_id: uuid.UUID | str, reason: str) -> AccessGrant:
    """Approve: the requester gets a grant for the case's recordings, ending after ACCESS_WINDOW."""
    request = _decidable(approver=approver, request_id=request_id, deciding="approve")
    reason = _clean_text(reason, field="reason", code="reason_required")
    window = access_window()
    with transaction.atomic():
        request, case = _lock_pending(request)
        recordings = _playable_recordings(case)
        if not recordings:
            raise Conflict(
                gettext("The case links no recording that can still be played."), code="nothing_to_play"
            )
        now = timezone.now()
        request.status = AccessRequest.Status.APPROVED
        request.decided_by, request.decided_at, request.reason = approver, now, reason
        request.save(update_fields=["status", "decided_by", "decided_at", "reason"])
        grant = AccessGrant.objects.create(
            case=case, request=request, grantee_id=request.requester_id, starts_at=now, ends_at=now + window
        )
        # The grant is new: its rows are inserted, a statement's worth at a time (a case may
        # link more recordings than one statement can bind; `set()` would bind them all at once).
        through = AccessGrant.recordings.through
        through.objects.bulk_create(
            [through(accessgrant=grant, recording=recording) for recording in recordings],
            batch_size=rows_per_statement(2),
        )
        case.status = ComplaintCase.Status.ACCESS_GRANTED
        case.save(update_fields=["status"])
        record_event(
            action="case.access_approved",
            actor=actor_of(approver),
            case_id=case.id,
            details={
                "request": str(request.id),
                "grant": str(grant.id),
                "grantee": str(request.requester_id),
                "recordings": [str(r.id) for r in recordings],
                "ends_at": grant.ends_at.isoformat(),
                **commitments.details(case.text_key, reason, where="request.reason"),
            },
        )
        signals.access_decided.send(sender=AccessRequest, request_id=request.id)
    return grant


def reject_access_request(*, approver: Any, request_id: uuid.UUID | str, reason: str) -> AccessRequest:
    """Reject with a reason: the case is open again."""
    request = _decidable(approver=approver, request_id=request_id, deciding="reject")
    reason = _clean_text(reason, field="reason", code="reason_required")
    with transaction.atomic():
        request, case = _lock_pending(request)
        request.status = AccessRequest.Status.REJECTED
        request.decided_by, request.decided_at, request.reason = approver, timezone.now(), reason
        request.save(update_fields=["status", "decided_by", "decided_at", "reason"])
        case.status = ComplaintCase.Status.OPEN
        case.save(update_fields=["status"])
        record_event(
            action="case.access_rejected",
            actor=actor_of(approver),
            case_id=case.id,
            details={
                "request": str(request.id),
                **commitments.details(case.text_key, reason, where="request.reason"),
            },
        )
        signals.access_decided.send(sender=AccessRequest, request_id=request.id)
    return request


# --- closing and expiry -----------------------------------------------------------------------


def close_case(*, officer: Any, case_id: uuid.UUID | str, outcome: str, summary: str) -> ComplaintCase:
    """Close with an outcome: grants end now, pending requests lapse, legal holds are released."""
    require_role(officer, OFFICER, gettext_noop("close a complaint case"))
    case = case_for(user=officer, case_id=case_id, acting=True)
    if outcome not in ComplaintCase.Outcome.values:
        raise InvalidInput(
            gettext("outcome must be one of: %(outcomes)s.")
            % {"outcomes": ", ".join(ComplaintCase.Outcome.values)},
            code="invalid_outcome",
        )
    summary = _clean_text(summary, field="summary", code="summary_required")
    actor = actor_of(officer)
    with transaction.atomic():
        case = ComplaintCase.objects.select_for_update().get(pk=case.pk)
        if case.status == ComplaintCase.Status.CLOSED:
            raise Conflict(gettext("The case is closed already."), code="case_closed")
        now = timezone.now()
        for grant in case.grants.select_for_update().filter(revoked_at__isnull=True, ends_at__gt=now):
            grant.revoked_at = now
            grant.save(update_fields=["revoked_at"])
            record_event(
                action="access_grant.revoked",
                actor=actor,
                case_id=case.id,
                details={"grant": str(grant.id), "reason": "case_closed"},
            )
        for pending in case.access_requests.select_for_update().filter(status=AccessRequest.Status.PENDING):
            pending.status, pending.decided_at, pending.reason = (
                AccessRequest.Status.CANCELLED, now, "The case was closed."
            )  # fmt: skip
            pending.save(update_fields=["status", "decided_at", "reason"])
            record_event(
                action="case.access_request_cancelled",
                actor=actor,
                case_id=case.id,
                details={"request": str(pending.id), "reason": "case_closed"},
            )
        for link in case.links.all():
            try:
                release_legal_hold(
                    hold_id=link.hold_id, actor=actor, reason=f"complaint case {case.id} closed"
                )
            except Conflict as error:  # released already (by hand, through retention): fine
                if error.code != "hold_released":
                    raise
        case.status = ComplaintCase.Status.CLOSED
        case.outcome, case.summary, case.closed_by, case.closed_at = outcome, summary, officer, now
        _full_clean(case, exclude=["opened_by", "closed_by"])
        case.save()
        record_event(
            action="case.closed",
            actor=actor,
            case_id=case.id,
            details={"outcome": outcome, **commitments.details(case.text_key, summary, where="case.summary")},
        )
    return case


def expire_access_grants(*, now: datetime | None = None) -> int:
    """Mark cases whose grants have all ended `access_expired` (Celery beat). Playback checks the
    grant's end itself; this keeps the case's status and the ledger truthful. Safe to run twice."""
    now = now or timezone.now()
    actor = Actor.job("access-expiry")
    expired = 0
    active = AccessGrant.objects.filter(case=OuterRef("pk"), revoked_at__isnull=True, ends_at__gt=now)
    due = ComplaintCase.objects.filter(status=ComplaintCase.Status.ACCESS_GRANTED).exclude(Exists(active))
    for case_id in due.values_list("id", flat=True):
        with transaction.atomic():
            case = (
                ComplaintCase.objects.select_for_update(skip_locked=True)
                .filter(pk=case_id, status=ComplaintCase.Status.ACCESS_GRANTED)
                .first()
            )
            if case is None or case.grants.filter(revoked_at__isnull=True, ends_at__gt=now).exists():
                continue
            case.status = ComplaintCase.Status.ACCESS_EXPIRED
            case.save(update_fields=["status"])
            record_event(
                action="case.access_expired",
                actor=actor,
                case_id=case.id,
                details={"reason": "access_window_ended"},
            )
            expired += 1
    return expired


# --- credentials set by someone else ----------------------------------------------------------


def revoke_grants_of_voided_account(*, user_id: Any, actor: Actor, reason: str, **kwargs: Any) -> int:
    """`staff.account_changes.credentials_voided` receiver: someone other than its owner set the
    account's password or touched its second factor, so what those credentials could open is
    closed at once, in the transaction of the change. Each active grant of the account is revoked
    (`access_grant.revoked`, in the case's history with the reason and who set the credential);
    a case left without an active grant is open again, for a new request once its owner renewed
    them. No savepoints: SQLite opens none while the change's own statement is unfinished."""
    now = timezone.now()
    revoked = 0
    grants = AccessGrant.objects.filter(grantee_id=user_id, revoked_at__isnull=True, ends_at__gt=now)
    for grant in grants.select_for_update().select_related("case"):
        grant.revoked_at = now
        grant.save(update_fields=["revoked_at"])
        record_event(
            action="access_grant.revoked",
            actor=actor,
            case_id=grant.case_id,
            details={"grant": str(grant.id), "reason": reason, "grantee": str(user_id)},
        )
        case = grant.case
        still = case.grants.filter(revoked_at__isnull=True, ends_at__gt=now).exists()
        if case.status == ComplaintCase.Status.ACCESS_GRANTED and not still:
            case.status = ComplaintCase.Status.OPEN
            case.save(update_fields=["status"])
        revoked += 1
    return revoked
