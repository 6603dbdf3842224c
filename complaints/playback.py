"""Playback under an access grant: who may stream which recording, and the ledger around it.

Checked on every request (DESIGN "Complaint workflow"): the caller is the grantee of a grant on
this case naming this recording, the grant is active and its case not closed, the recording is
not purged. `recording.played` is committed before the first byte leaves; a chunk that fails
authentication is a `recording.tampered` entry. Refusals are `access.denied` entries.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, TypedDict, cast

from django.contrib.auth.models import PermissionsMixin
from django.db import connections, router
from django.utils import timezone

from audit.services import Actor, record_event
from complaints.access import OFFICER, record_denial
from complaints.models import AccessGrant, ComplaintCase
from config.errors import DomainError, Forbidden, NotFound
from config.roles import users_with_role
from config.rows import row_reader
from recorder.models import Recording
from recorder.playback import UnsealedRecording, grant_covers, unseal

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

    class _GrantState(TypedDict):
        case_status: str
        recording_state: str

    CheckedGrant = WithAnnotations[AccessGrant, _GrantState]


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
    One query (`_grants`): the role (as role_of() decides it), the grants, their case's status
    and the recording's state.
    """
    case_uuid, recording_uuid = _parse(case_id), _parse(recording_id)
    grant_list = (
        _grants(case_id=case_uuid, recording_id=recording_uuid, user_id=user.pk)
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


_GRANT_EXTRAS = ("case_status", "recording_state")


@cache
def _grants_sql(alias: str) -> tuple[str, tuple[Any, ...]]:
    """The SQL of `_grants`, built once per database. It runs on every Range request of every
    player, and building the same query through the ORM each time took longer (0.3 ms) than the
    database took to answer it. The role check is the ORM's own users_with_role(), compiled here
    once, so role_of() stays the one definition of who is an officer."""
    role_sql, role_params = users_with_role(OFFICER).values("pk").query.sql_with_params()
    grants, cases = AccessGrant._meta.db_table, ComplaintCase._meta.db_table
    links, recordings = AccessGrant.recordings.through._meta.db_table, Recording._meta.db_table
    columns = row_reader(AccessGrant, alias, _GRANT_EXTRAS).columns("g")
    # Only table and column names from the models' metadata and the ORM's own SQL are interpolated.
    sql = f"""
        SELECT {columns}, c.status AS case_status, r.state AS recording_state
        FROM {grants} g
        JOIN {cases} c ON c.id = g.case_id
        JOIN {links} l ON l.accessgrant_id = g.id
        JOIN {recordings} r ON r.id = l.recording_id
        WHERE g.case_id = %s AND l.recording_id = %s AND g.grantee_id = %s
          AND g.grantee_id IN ({role_sql})
        ORDER BY g.ends_at DESC
    """  # noqa: S608
    return sql, role_params


def _grants(*, case_id: uuid.UUID, recording_id: uuid.UUID, user_id: Any) -> list[CheckedGrant]:
    """The user's grants on this case naming this recording, latest end first, each with its
    case's status and the recording's state; none unless the user is an officer (role_of)."""
    alias = router.db_for_read(AccessGrant)
    connection = connections[alias]
    sql, role_params = _grants_sql(alias)
    params = [
        ComplaintCase._meta.pk.get_db_prep_value(case_id, connection),
        Recording._meta.pk.get_db_prep_value(recording_id, connection),
        user_id,
        *role_params,
    ]
    return cast("list[CheckedGrant]", row_reader(AccessGrant, alias, _GRANT_EXTRAS).fetch(sql, params))


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


def still_authorised(*, authorised: Authorised) -> bool:
    """Whether the grant still covers the recording now: asked again while a long response
    streams, so that closing the case or revoking the grant stops a stream under way."""
    return grant_covers(
        grant_id=authorised.grant.pk, recording_id=str(authorised.recording_id), now=timezone.now()
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
