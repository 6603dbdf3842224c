"""Playback under an access grant: who may stream which recording, and the ledger around it.

Checked on every request (DESIGN "Complaint workflow"): the caller is the grantee of a grant on
this case naming this recording, the grant is active and its case not closed, the recording is
not purged. `recording.played` is committed before the first byte leaves; a chunk that fails
authentication is a `recording.tampered` entry. Refusals are `access.denied` entries.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.models import PermissionsMixin
from django.utils import timezone

from audit.services import Actor, record_event
from complaints import selectors
from complaints.models import AccessGrant, ComplaintCase
from core.errors import DomainError, Forbidden, NotFound
from recorder import unsealing
from recorder.models import Recording
from recorder.unsealing import RecordingPurged, UnsealedRecording
from staff.authorisation import record_denial
from staff.roles import OFFICER, users_with_role

GrantLink = AccessGrant.recordings.through  # one row per (grant, recording it names)


class AccessDenied(DomainError):
    code = "access_denied"
    status: int = 403


@dataclass(frozen=True)
class Authorised:
    """A grant that may play the recording now. The recording itself is loaded once, by unseal(),
    which re-reads the grant in the same query."""

    grant: AccessGrant
    recording_id: uuid.UUID


def _parse(value: uuid.UUID | str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def authorise_playback(*, user: Any, case_id: uuid.UUID | str, recording_id: uuid.UUID | str) -> Authorised:
    """The grant under which `user` may play the recording now, or a refusal on record.

    Anyone who holds no grant on this case naming this recording (a superuser, an operator, the
    approver, an officer of another case, a guesser) gets the same NotFound: ids reveal nothing.
    One query (`_links`): the role (as role_of() decides it), the grants with their case, and the
    recording.
    """
    case_uuid, recording_uuid = _parse(case_id), _parse(recording_id)
    links = (
        _links(case_id=case_uuid, recording_id=recording_uuid, user_id=user.pk)
        if case_uuid and recording_uuid and isinstance(user, PermissionsMixin)
        else []
    )
    if not links or recording_uuid is None:
        exists = ComplaintCase.objects.filter(id=case_uuid).exists() if case_uuid else False
        record_denial(
            user=user,
            reason="no_grant",
            case_id=case_uuid if exists else None,
            details={"requested_case": str(case_id)[:64], "requested_recording": str(recording_id)[:64]},
        )
        raise NotFound("No such recording in this case.", code="recording_not_found")
    now = timezone.now()
    link = next((link for link in links if link.accessgrant.is_active(now)), links[0])
    grant = link.accessgrant
    if not grant.is_active(now) or grant.case.status == ComplaintCase.Status.CLOSED:
        record_denial(
            user=user,
            reason="grant_inactive",
            case_id=grant.case_id,
            recording_id=recording_uuid,
            details={"grant": str(grant.id)},
        )
        raise Forbidden(
            "The access window for this recording has ended; request access again.", code="grant_inactive"
        )
    if link.recording.state != Recording.State.LOCKED:
        record_denial(
            user=user, reason="recording_purged", case_id=grant.case_id, recording_id=recording_uuid
        )
        raise RecordingPurged("The recording has been purged; only its tombstone remains.")
    return Authorised(grant=grant, recording_id=recording_uuid)


def _links(*, case_id: uuid.UUID, recording_id: uuid.UUID, user_id: Any) -> list[Any]:
    """The links of the user's grants on this case to this recording, latest end first, each with
    its grant, the grant's case and the recording as the database holds them now; none unless the
    user is an officer."""
    return list(
        GrantLink.objects.filter(
            accessgrant__case_id=case_id,
            recording_id=recording_id,
            accessgrant__grantee_id=user_id,
            accessgrant__grantee__in=users_with_role(OFFICER),
        )
        .select_related("accessgrant__case", "recording")
        .order_by("-accessgrant__ends_at")
    )


class NoActiveGrant(DomainError):
    """A recording of the case, but the caller holds no active grant naming it (one ended, say)."""

    code = "no_active_grant"
    status = 403


def player_recording(
    *, user: Any, case: ComplaintCase, recording_id: uuid.UUID | str, now: datetime
) -> tuple[AccessGrant, Recording]:
    """The grant and the recording the player page may show: one the user's active grant on `case`
    names. Otherwise a refusal on record: NoActiveGrant for a recording of this case (the case
    page explains it), NotFound for any other id (as unknown as a missing one)."""
    found = selectors.recording_in_active_grant(user=user, case=case, recording_id=recording_id, now=now)
    if found is not None:
        return found
    linked = selectors.linked_recording_id(case=case, recording_id=recording_id)
    record_denial(
        user=user,
        reason="no_active_grant" if linked else "recording_not_in_case",
        case_id=case.id,
        recording_id=linked,
        details={"requested_recording": str(recording_id)[:64]},
    )
    if linked is None:
        raise NotFound("No such recording in this case.", code="recording_not_found")
    raise NoActiveGrant("You hold no active access to that recording.")


def refuse_without_step_up(*, user: Any, authorised: Authorised) -> None:
    record_denial(
        user=user,
        reason="step_up_required",
        case_id=authorised.grant.case_id,
        recording_id=authorised.recording_id,
    )


def open_recording(*, authorised: Authorised) -> UnsealedRecording:
    return unseal(grant=authorised.grant, recording_id=str(authorised.recording_id))


def unseal(*, grant: AccessGrant, recording_id: str) -> UnsealedRecording:
    """The one way to plaintext: open a recording for the holder of `grant`; refused unless the
    grant, as the database holds it now, is active and names the recording.

    A revocation takes effect at once, whatever copy of the grant the caller holds: the grant is
    read again in the same query that finds the recording through it.
    """
    if not isinstance(grant, AccessGrant) or grant.pk is None:
        raise AccessDenied("Decryption needs an access grant.")
    now = timezone.now()
    link = _link(grant_id=grant.pk, recording_id=recording_id)
    if link is None:
        grant.refresh_from_db()  # which refusal: the grant's, or the recording's not being in it
        active = grant.is_active(now)
    else:
        active = link.accessgrant.is_active(now)
    if not active:
        raise AccessDenied("The access grant is not active.", code="grant_inactive")
    if link is None:
        raise NotFound("The grant names no such recording.", code="recording_not_in_grant")
    return unsealing.unseal(link.recording)


def _link(*, grant_id: Any, recording_id: uuid.UUID | str) -> Any:
    """The grant's link to the recording, with the grant and the recording as they are now."""
    parsed = _parse(recording_id)
    if parsed is None:
        return None
    return (
        GrantLink.objects.filter(accessgrant_id=grant_id, recording_id=parsed)
        .select_related("accessgrant", "recording")
        .first()
    )


def record_played(
    *, user: Any, authorised: Authorised, start: int, end: int, partial: bool, client_address: str
) -> None:
    """Commit `recording.played` (bytes start..end inclusive); raises if it cannot be written,
    and then not a byte may be sent (fail closed)."""
    record_event(
        action="recording.played",
        actor=Actor.for_user(user),
        case_id=authorised.grant.case_id,
        recording_id=authorised.recording_id,
        details={
            "grant": str(authorised.grant.id),
            "range": {"start": start, "end": end, "partial": partial},
            "client_address": client_address[:64],
        },
    )


def still_authorised(*, authorised: Authorised) -> bool:
    """Whether the grant still covers the recording now: asked again while a long response
    streams, so that closing the case or revoking the grant stops a stream under way."""
    link = _link(grant_id=authorised.grant.pk, recording_id=authorised.recording_id)
    return (
        link is not None
        and link.accessgrant.is_active(timezone.now())
        and link.recording.state == Recording.State.LOCKED
    )


def record_stream_stopped(*, user: Any, authorised: Authorised, start: int, end: int, sent: int) -> None:
    """A stream under way was stopped because the grant no longer covers the recording."""
    record_event(
        action="recording.playback_stopped",
        actor=Actor.for_user(user),
        case_id=authorised.grant.case_id,
        recording_id=authorised.recording_id,
        details={"range": {"start": start, "end": end}, "bytes_sent": sent, "reason": "grant_ended"},
    )


def record_stream_failure(
    *, user: Any, authorised: Authorised, start: int, end: int, tampered: bool, reason: str
) -> None:
    """Streaming stopped: a chunk failed authentication (`recording.tampered`) or the store failed
    (`recording.unreadable`). On record for auditors; no plaintext of the bad chunk was sent."""
    record_event(
        action="recording.tampered" if tampered else "recording.unreadable",
        actor=Actor.for_user(user),
        case_id=authorised.grant.case_id,
        recording_id=authorised.recording_id,
        details={"range": {"start": start, "end": end}, "reason": reason[:200]},
    )
