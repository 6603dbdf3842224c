"""What the vault holds about one customer (GDPR Art. 15), read from every app: sessions with
their rights timeline and recordings, legal holds, complaint cases, and each playback of their
recordings. Found by the keyed hash of the reference, so purged sessions are found too.

The report names no staff member (roles only) and shows the agent's reference only where the
data map lets the customer see it (`datamap.shown_to_subject`).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Prefetch
from django.utils import timezone

from audit.models import LedgerEntry
from complaints.models import ComplaintCase
from core.batching import any_of
from core.periods import add_period
from privacy.datamap import shown_to_subject
from recorder.models import Recording, Session, SessionEvent
from recorder.pseudonyms import customer_hash
from retention.models import LegalHold
from staff.roles import role_of


def _recording(recording: Recording | None) -> dict[str, Any] | None:
    if recording is None:
        return None
    gone = recording.purged_at or recording.shredded_at
    return {
        "id": str(recording.id),
        "state": recording.state,
        "size": recording.size,
        "received_at": recording.received_at,
        "deleted_at": gone,
        "deletes_at": None if gone else recording.expires_at,
    }


def _session(session: Session, holds: list[LegalHold], *, show_agent: bool) -> dict[str, Any]:
    recording = getattr(session, "recording", None)
    pseudonymised = session.customer_ref is None
    ended = session.ended_at or session.registered_at
    data_ends = (
        None if pseudonymised or recording is not None else add_period(ended, settings.RECORDING_RETENTION)
    )
    return {
        "id": str(session.id),
        "started_at": session.started_at,
        "ended_at": session.ended_at,
        "registered_at": session.registered_at,
        "initiated_by": session.initiated_by,
        "consent": {
            "granted_at": session.consent_granted_at,
            "view": session.consent_view,
            "control": session.consent_control,
        },
        "timeline": [
            {"type": e.type, "at": e.at, "view": e.view, "control": e.control} for e in session.events.all()
        ],
        "agent_ref": session.agent_ref if show_agent else None,
        "pseudonymised": pseudonymised,
        "recorded": recording is not None,
        "recording": _recording(recording),
        "session_data_ends_at": data_ends,
        "legal_holds": [
            {
                "case_id": str(hold.case_id) if hold.case_id else None,
                "placed_at": hold.placed_at,
                "released_at": hold.released_at,
            }
            for hold in holds
        ],
    }


def _case(case: ComplaintCase) -> dict[str, Any]:
    redacted = case.redacted_at is not None
    return {
        "id": str(case.id),
        "channel": case.channel,
        "received_at": case.received_at,
        "opened_at": case.opened_at,
        "status": case.status,
        "outcome": case.outcome,
        "closed_at": case.closed_at,
        "complaint": case.complaint
        if not redacted and shown_to_subject("complaints.ComplaintCase", "complaint")
        else None,
        "redacted_at": case.redacted_at,
        "texts_end_at": add_period(case.closed_at, settings.CASE_RETENTION)
        if case.closed_at and not redacted
        else None,
    }


def _accesses(recording_ids: list[str]) -> list[dict[str, Any]]:
    """Each playback of the recordings: when, by which role (never who), under which case, which bytes."""
    if not recording_ids:
        return []
    played = list(
        LedgerEntry.objects.filter(any_of("recording_id", recording_ids), action="recording.played")
        .order_by("seq")
        .values("recorded_at", "actor_id", "case_id", "recording_id", "details")
    )
    user_ids = {row["actor_id"] for row in played if row["actor_id"].isdigit()}
    users = get_user_model().objects.filter(pk__in=user_ids).prefetch_related("groups")
    roles = {str(user.pk): role_of(user) for user in users}
    return [
        {
            "at": row["recorded_at"],
            "role": roles.get(row["actor_id"]) or "unknown",
            "case_id": str(row["case_id"]) if row["case_id"] else None,
            "recording_id": str(row["recording_id"]),
            "range": row["details"].get("range"),
        }
        for row in played
    ]


def access_report(*, customer_ref: str) -> dict[str, Any]:
    """Everything the vault holds about the customer with this reference, as plain values."""
    reference_hash = customer_hash(customer_ref)
    sessions = list(
        Session.objects.filter(customer_ref_hash=reference_hash)
        .select_related("recording")
        .prefetch_related(Prefetch("events", queryset=SessionEvent.objects.order_by("position")))
        .order_by("started_at", "id")
    )
    holds: dict[Any, list[LegalHold]] = defaultdict(list)
    for hold in LegalHold.objects.filter(any_of("session_id", [s.id for s in sessions])).order_by(
        "placed_at"
    ):
        holds[hold.session_id].append(hold)
    show_agent = shown_to_subject("recorder.Session", "agent_ref")
    cases = ComplaintCase.objects.filter(customer_ref_hash=reference_hash).order_by("opened_at", "id")
    recording_ids = [str(s.recording.id) for s in sessions if getattr(s, "recording", None) is not None]
    return {
        "customer_ref_hash": reference_hash,
        "generated_at": timezone.now(),
        "recording_retention": settings.RECORDING_RETENTION,
        "case_retention": settings.CASE_RETENTION,
        "sessions": [_session(s, holds[s.id], show_agent=show_agent) for s in sessions],
        "cases": [_case(case) for case in cases],
        "accesses": _accesses(recording_ids),
    }
