"""Playback under an access grant: who may stream which recording, and the ledger around it.

Checked on every request (DESIGN "Complaint workflow"): the caller is the grantee of a grant on
this case naming this recording, the grant is active and its case not closed, the recording is
not purged. `recording.played` is committed before the first byte leaves; a chunk that fails
authentication is a `recording.tampered` entry. Refusals are `access.denied` entries.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any, TypedDict, cast

from django.contrib.auth.models import PermissionsMixin
from django.db import connections, router
from django.utils import timezone
from django.utils.translation import gettext

from audit.services import Actor, record_event
from complaints import selectors
from complaints.models import AccessGrant, ComplaintCase
from core.errors import DomainError, Forbidden, NotFound
from core.rows import fetch_together, row_reader
from recorder import unsealing
from recorder.models import Recording
from recorder.unsealing import RecordingPurged, UnsealedRecording
from staff.authorisation import record_denial
from staff.models import CredentialStatus
from staff.roles import OFFICER, users_with_role
from staff.step_up import RENEW

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

    class _GrantState(TypedDict):
        case_status: str
        recording_state: str
        credentials_blocked: bool | int | None
        credentials_voided_at: datetime | str | None

    CheckedGrant = WithAnnotations[AccessGrant, _GrantState]

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
    credentials_voided_at: datetime | None = None  # a step-up must be later


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
        raise NotFound(gettext("No such recording in this case."), code="recording_not_found")
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
            gettext("The access window for this recording has ended; request access again."),
            code="grant_inactive",
        )
    if grant.credentials_blocked:
        record_denial(
            user=user,
            reason="credentials_renewal_required",
            case_id=grant.case_id,
            recording_id=recording_uuid,
        )
        raise Forbidden(str(RENEW), code="credentials_renewal_required")
    if grant.recording_state != Recording.State.LOCKED:
        record_denial(
            user=user, reason="recording_purged", case_id=grant.case_id, recording_id=recording_uuid
        )
        raise RecordingPurged(gettext("The recording has been purged; only its tombstone remains."))
    return Authorised(
        grant=grant, recording_id=recording_uuid, credentials_voided_at=_moment(grant.credentials_voided_at)
    )


def _moment(value: datetime | str | None) -> datetime | None:
    """A timestamp column read raw: PostgreSQL gives a datetime, SQLite its text (UTC)."""
    if value is None or isinstance(value, datetime):
        return value
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# The two lookups below run on every Range request of every player. Each is SQL built once per
# database, with rows mapped to model instances by core.rows: building the same queries through
# the ORM took more CPU than the rest of a request (bench/README.md, "Playback"). Whether a grant
# is active is still decided by AccessGrant.is_active, on the rows as the database holds them now.

# The grantee's credential status rides on the same lookup: whether someone else set the
# account's credentials and its owner has not renewed them yet, and when they were last voided
# (a step-up from before does not count).
_GRANT_EXTRAS = ("case_status", "recording_state", "credentials_blocked", "credentials_voided_at")


@cache
def _grants_sql(alias: str) -> tuple[str, tuple[Any, ...]]:
    """The SQL of `_grants`. The role check is the ORM's own users_with_role(), compiled here
    once, so role_of() stays the one definition of who is an officer."""
    role_sql, role_params = users_with_role(OFFICER).values("pk").query.sql_with_params()
    grants, cases, status = (
        AccessGrant._meta.db_table,
        ComplaintCase._meta.db_table,
        CredentialStatus._meta.db_table,
    )
    links, recordings = GrantLink._meta.db_table, Recording._meta.db_table
    columns = row_reader(AccessGrant, alias, _GRANT_EXTRAS).columns("g")
    # Only table and column names from the models' metadata and the ORM's own SQL are interpolated.
    sql = f"""
        SELECT {columns}, c.status AS case_status, r.state AS recording_state,
               (cs.must_set_password OR cs.must_enrol) AS credentials_blocked,
               cs.voided_at AS credentials_voided_at
        FROM {grants} g
        JOIN {cases} c ON c.id = g.case_id
        JOIN {links} l ON l.accessgrant_id = g.id
        JOIN {recordings} r ON r.id = l.recording_id
        LEFT JOIN {status} cs ON cs.user_id = g.grantee_id
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


@cache
def _grant_and_recording_sql(alias: str) -> str:
    grants, links, recordings = AccessGrant._meta.db_table, GrantLink._meta.db_table, Recording._meta.db_table
    columns = ", ".join(
        (row_reader(AccessGrant, alias).columns("g"), row_reader(Recording, alias).columns("r"))
    )
    return f"""
        SELECT {columns}
        FROM {links} l
        JOIN {grants} g ON g.id = l.accessgrant_id
        JOIN {recordings} r ON r.id = l.recording_id
        WHERE l.accessgrant_id = %s AND l.recording_id = %s
    """  # noqa: S608 - only table and column names from the models' metadata


def _grant_and_recording(
    *, grant_id: Any, recording_id: uuid.UUID | str
) -> tuple[AccessGrant, Recording] | None:
    """The grant and the recording, as the database holds them now, if the grant names it."""
    parsed = _parse(recording_id)
    if parsed is None:
        return None
    alias = router.db_for_read(AccessGrant)
    connection = connections[alias]
    params = [
        AccessGrant._meta.pk.get_db_prep_value(grant_id, connection),
        Recording._meta.pk.get_db_prep_value(parsed, connection),
    ]
    found = fetch_together(alias, _grant_and_recording_sql(alias), params, (AccessGrant, Recording))
    return found[0] if found else None


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
        raise NotFound(gettext("No such recording in this case."), code="recording_not_found")
    raise NoActiveGrant(gettext("You hold no active access to that recording."))


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
        raise AccessDenied(gettext("Decryption needs an access grant."))
    now = timezone.now()
    found = _grant_and_recording(grant_id=grant.pk, recording_id=recording_id)
    if found is None:
        grant.refresh_from_db()  # which refusal: the grant's, or the recording's not being in it
        active = grant.is_active(now)
    else:
        active = found[0].is_active(now)
    if not active:
        raise AccessDenied(gettext("The access grant is not active."), code="grant_inactive")
    if found is None:
        raise NotFound(gettext("The grant names no such recording."), code="recording_not_in_grant")
    return unsealing.unseal(found[1])


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
    found = _grant_and_recording(grant_id=authorised.grant.pk, recording_id=authorised.recording_id)
    if found is None:
        return False
    grant, recording = found
    return grant.is_active(timezone.now()) and recording.state == Recording.State.LOCKED


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
