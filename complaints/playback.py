"""Playback under an access grant: who may stream which recording, and the ledger around it.

Checked on every request (DESIGN "Complaint workflow"): the caller is the grantee of a grant on
this case naming this recording, the grant is active and its case not closed, the recording is
not purged. `recording.played` is committed before the first byte leaves; a chunk that fails
authentication is a `recording.tampered` entry. Refusals are `access.denied` entries.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import PermissionsMixin
from django.db.models import F
from django.utils import timezone

from audit.services import Actor, record_event
from complaints.access import OFFICER, record_denial
from complaints.models import AccessGrant, ComplaintCase
from config.errors import DomainError, Forbidden, NotFound
from config.roles import users_with_role
from recorder.models import Recording
from recorder.playback import UnsealedRecording, unseal


class RecordingGone(DomainError):
    code = "recording_purged"
    status = 410


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
    One query: the role (as role_of() decides it), the grants, their case's status and the
    recording's state.
    """
    case_uuid, recording_uuid = _parse(case_id), _parse(recording_id)
    grant_list = (
        list(
            AccessGrant.objects.filter(
                case_id=case_uuid,
                grantee_id=user.pk,
                grantee__in=users_with_role(OFFICER).filter(pk=user.pk),
                recordings=recording_uuid,
            )
            # F() over `recordings` reuses the join the filter made: the state of this recording.
            .annotate(case_status=F("case__status"), recording_state=F("recordings__state"))
            .order_by("-ends_at")
        )
        if case_uuid and recording_uuid and isinstance(user, PermissionsMixin)
        else []
    )
    if not grant_list or recording_uuid is None:
        exists = ComplaintCase.objects.filter(id=case_uuid).exists() if case_uuid else False
        record_denial(
            user=user,
            reason="no_grant",
            case_id=case_uuid if exists else None,
            details={"requested_case": str(case_id)[:64], "requested_recording": str(recording_id)[:64]},
        )
        raise NotFound("No such recording in this case.", code="recording_not_found")
    now = timezone.now()
    grant = next((g for g in grant_list if g.is_active(now)), grant_list[0])
    if not grant.is_active(now) or grant.case_status == ComplaintCase.Status.CLOSED:
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
    if grant.recording_state != Recording.State.LOCKED:
        record_denial(
            user=user, reason="recording_purged", case_id=grant.case_id, recording_id=recording_uuid
        )
        raise RecordingGone("The recording has been purged; only its tombstone remains.")
    return Authorised(grant=grant, recording_id=recording_uuid)


def refuse_without_step_up(*, user: Any, authorised: Authorised) -> None:
    record_denial(
        user=user,
        reason="step_up_required",
        case_id=authorised.grant.case_id,
        recording_id=authorised.recording_id,
    )


def open_recording(*, authorised: Authorised) -> UnsealedRecording:
    return unseal(grant=authorised.grant, recording_id=str(authorised.recording_id))


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
