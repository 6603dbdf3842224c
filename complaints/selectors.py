"""Reads for the complaint workflow: session search (metadata only), cases, requests, history.

Nothing here reads content; nothing here writes (denials are written by `complaints.services`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from audit.committed_texts import CommittedText
from audit.models import LedgerEntry
from complaints import commitments
from complaints.access import parse_uuid
from complaints.models import AccessGrant, AccessRequest, CaseSession, ComplaintCase
from core.batching import any_of
from recorder.models import Recording, Session, SessionEvent
from recorder.pseudonyms import customer_hash
from staff.roles import APPROVER, OFFICER, role_of


def find_sessions(
    *, customer_ref: str, started_from: datetime | None = None, started_until: datetime | None = None
) -> QuerySet[Session]:
    """A customer's sessions, purged ones included (matched on the keyed hash, which outlives
    the raw reference), with their consent timeline and recording state. Never content."""
    sessions = Session.objects.filter(customer_ref_hash=customer_hash(customer_ref))
    if started_from is not None:
        sessions = sessions.filter(started_at__gte=started_from)
    if started_until is not None:
        sessions = sessions.filter(started_at__lt=started_until)
    return (
        sessions.select_related("recording")
        .prefetch_related(Prefetch("events", queryset=SessionEvent.objects.order_by("position")))
        .order_by("-started_at", "id")
    )


def cases_for_user(*, user: Any) -> QuerySet[ComplaintCase]:
    """An officer's own cases; every case for a DPO (who decides on them); nothing for others."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return ComplaintCase.objects.none()
    role = role_of(user)
    cases = ComplaintCase.objects.select_related("opened_by").order_by("-opened_at")
    if role == OFFICER:
        return cases.filter(opened_by=user)
    if role == APPROVER:
        return cases
    return ComplaintCase.objects.none()


def pending_access_requests(*, user: Any) -> QuerySet[AccessRequest]:
    """Requests waiting for a DPO, oldest first, without the DPO's own (four-eyes)."""
    if not getattr(user, "is_authenticated", False) or role_of(user) != APPROVER:
        return AccessRequest.objects.none()
    return (
        AccessRequest.objects.filter(status=AccessRequest.Status.PENDING)
        .exclude(requester=user)
        .select_related("case", "requester")
        .order_by("requested_at", "id")
    )


def case_history(*, case_id: uuid.UUID | str) -> QuerySet[LedgerEntry]:
    """The ledger entries naming the case, in ledger order."""
    return LedgerEntry.objects.filter(case_id=case_id).order_by("seq")


@dataclass(frozen=True)
class Tombstone:
    """What is left of a purged recording: when, and the ledger entry that proves it."""

    purged_at: datetime | None
    ledger_seq: int | None


@dataclass(frozen=True)
class LinkedSession:
    link: CaseSession
    session: Session
    recording: Recording | None
    tombstone: Tombstone | None


def case_sessions(*, case: ComplaintCase) -> list[LinkedSession]:
    """The case's sessions with timeline and recording; a purged recording as its tombstone."""
    links = list(
        case.links.select_related("session__recording").prefetch_related(
            Prefetch("session__events", queryset=SessionEvent.objects.order_by("position"))
        )
    )
    recordings = [r for r in (getattr(link.session, "recording", None) for link in links) if r is not None]
    gone = [r.id for r in recordings if r.state in (Recording.State.SHREDDED, Recording.State.PURGED)]
    proofs = dict(
        LedgerEntry.objects.filter(any_of("recording_id", gone), action="recording.purged").values_list(
            "recording_id", "seq"
        )
    )
    rows = []
    for link in links:
        recording = getattr(link.session, "recording", None)
        tombstone = None
        if recording is not None and recording.id in gone:
            tombstone = Tombstone(purged_at=recording.purged_at, ledger_seq=proofs.get(recording.id))
        rows.append(LinkedSession(link=link, session=link.session, recording=recording, tombstone=tombstone))
    return rows


def grants_for_case(*, case: ComplaintCase) -> QuerySet[AccessGrant]:
    return case.grants.select_related("grantee").prefetch_related("recordings").order_by("-starts_at")


def active_grant(*, user: Any, case: ComplaintCase, at: datetime | None = None) -> AccessGrant | None:
    """The user's grant on this case that is active now (not ended, not revoked), if any."""
    if not getattr(user, "is_authenticated", False):
        return None
    at = at or timezone.now()
    return AccessGrant.objects.active(at).filter(case=case, grantee=user).order_by("-ends_at").first()


def decided_by(*, user: Any, limit: int = 10) -> QuerySet[AccessRequest]:
    """The requests `user` decided most recently, for the DPO's own record on the queue page."""
    return (
        AccessRequest.objects.filter(decided_by=user)
        .select_related("case", "requester")
        .order_by("-decided_at")[:limit]
    )


def recording_in_active_grant(
    *, user: Any, case: ComplaintCase, recording_id: uuid.UUID | str, now: datetime
) -> tuple[AccessGrant, Recording] | None:
    """The viewer's active grant on `case` and the recording it names, if it names that one."""
    grant = active_grant(user=user, case=case, at=now)
    if grant is None:
        return None
    try:
        recording = grant.recordings.select_related("session").get(id=recording_id)
    except (Recording.DoesNotExist, ValidationError, ValueError):
        return None
    return grant, recording


def linked_recording_id(*, case: ComplaintCase, recording_id: uuid.UUID | str) -> uuid.UUID | None:
    """The id of the recording if one of `case`'s linked sessions has it, else None."""
    parsed = parse_uuid(recording_id)
    if parsed is None:
        return None
    linked = Recording.objects.filter(id=parsed, session__case_links__case=case).values_list("id", flat=True)
    return linked.first()


def committed_texts_of_cases(entries: Sequence[LedgerEntry]) -> dict[int, CommittedText]:
    """The case texts (summary, justifications, decision reasons) these entries commit to, each
    checked against its commitment under the case's key; after redaction, when and why it went."""
    committing = [
        e
        for e in entries
        if e.case_id and isinstance(e.details, dict) and commitments.COMMITMENT in e.details
    ]
    if not committing:
        return {}
    cases = ComplaintCase.objects.in_bulk([e.case_id for e in committing])
    request_ids = [str(e.details.get("request", "")) for e in committing if e.details.get("request")]
    requests = AccessRequest.objects.in_bulk([r for r in request_ids if parse_uuid(r)])
    found = {}
    for entry in committing:
        case = cases.get(entry.case_id)
        if case is None:
            continue
        where = str(entry.details.get(commitments.WHERE, ""))
        if case.redacted_at is not None:
            found[entry.seq] = CommittedText(where, None, None, None, case.redacted_at, case.redaction_reason)
            continue
        request = requests.get(parse_uuid(str(entry.details.get("request", ""))))  # type: ignore[arg-type]
        text = {
            "case.summary": case.summary,
            "request.justification": request.justification if request else None,
            "request.reason": request.reason if request else None,
        }.get(where)
        matches = commitments.check(entry.details, key=case.text_key, text=text)
        found[entry.seq] = CommittedText(where, text, case.text_key, matches)
    return found
