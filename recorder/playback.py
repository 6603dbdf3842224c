"""The one way to plaintext: unseal a recording for the holder of an active access grant.

This is the only module that loads identities (the X25519 identity file, KMS Decrypt). Ingest
nodes are deployed without the identity; nothing here is reachable without an AccessGrant.
"""

from __future__ import annotations

import contextlib
import os
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, cast

from django.conf import settings
from django.db import connections, router
from django.utils import timezone

from complaints.models import AccessGrant
from config.errors import DomainError, NotFound
from config.rows import row_reader
from recorder.keys import KeyFileError, KmsIdentity, X25519Identity, read_identity_file
from recorder.models import Recording
from recorder.recipients import kms_client
from recorder.sealing import Identity, PayloadReader, SealingError, unwrap_file_key
from recorder.stores import get_store

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

    class _GrantActive(TypedDict):
        grant_active: int


class AccessDenied(DomainError):
    code = "access_denied"
    status: int = 403


def playback_identities() -> list[Identity]:
    """Identities configured for playback: the X25519 identity file and, if set, KMS."""
    identities: list[Identity] = []
    path = Path(settings.AGE_IDENTITY_FILE) if settings.AGE_IDENTITY_FILE else None
    if path is not None:
        try:
            identities.extend(_file_identities(path))
        except KeyFileError as error:
            raise DomainError(str(error), code="identity_unusable", status_code=503) from error
    if settings.KMS_KEY_ID:
        identities.append(KmsIdentity(kms_client()))
    if not identities:
        raise DomainError("This node holds no identity for playback.", code="no_identity", status_code=503)
    return identities


_parsed_identities: dict[str, tuple[tuple[int, ...], list[X25519Identity]]] = {}
_parsed_identities_lock = threading.Lock()


def _file_identities(path: Path) -> list[X25519Identity]:
    """The identities in the file as it is now ([] if there is none). Parsing one costs more
    than the rest of a Range request's cryptography (bech32, a scalar multiplication), so the
    parsed identities are kept while the file is the same: same inode, size, mode, mtime and
    ctime. Replacing, editing, chmod-ing or removing the file takes effect at the next request,
    as when it was read every time; a refused file is never kept."""
    try:
        before = _file_state(path)
    except FileNotFoundError:
        return []
    except OSError as error:
        raise KeyFileError(f"cannot read identity file {path}: {error.strerror}") from error
    with _parsed_identities_lock:
        kept = _parsed_identities.get(str(path))
    if kept is not None and kept[0] == before:
        return kept[1]
    identities = read_identity_file(path)
    with contextlib.suppress(OSError), _parsed_identities_lock:
        if _file_state(path) == before:  # what was read is the file that was looked at
            _parsed_identities[str(path)] = (before, identities)
    return identities


def _file_state(path: Path) -> tuple[int, ...]:
    state = os.stat(path)
    return (state.st_dev, state.st_ino, state.st_size, state.st_mode, state.st_mtime_ns, state.st_ctime_ns)


@dataclass
class UnsealedRecording:
    """A recording opened for one grant: plaintext ranges are decrypted chunk by chunk on demand."""

    recording: Recording
    reader: PayloadReader

    @property
    def size(self) -> int:
        return self.reader.plaintext_size

    def iter_range(self, start: int, end: int) -> Iterator[bytes]:
        return self.reader.iter_range(start, end)

    def prefetch(self, start: int, end: int) -> None:
        """Start fetching the stored bytes `iter_range(start, end)` needs first (PayloadReader.prefetch)."""
        self.reader.prefetch(start, end)


_RECORDING_EXTRAS = ("grant_active",)


@cache
def _recording_sql(alias: str) -> str:
    """Built once per database: this runs on every Range request, and building it through the
    ORM each time took longer than the database took to answer."""
    recordings, links = Recording._meta.db_table, AccessGrant.recordings.through._meta.db_table
    grants = AccessGrant._meta.db_table
    columns = row_reader(Recording, alias, _RECORDING_EXTRAS).columns("r")
    # grant_active is AccessGrant.is_active(now), evaluated on the row as it is now.
    return f"""
        SELECT {columns},
               CASE WHEN g.revoked_at IS NULL AND g.starts_at <= %s AND %s < g.ends_at
                    THEN 1 ELSE 0 END AS grant_active
        FROM {recordings} r
        JOIN {links} l ON l.recording_id = r.id
        JOIN {grants} g ON g.id = l.accessgrant_id
        WHERE r.id = %s AND g.id = %s
    """  # noqa: S608 - only table and column names from the models' metadata


def _recording_through_grant(
    *, recording_id: str, grant_id: Any, now: datetime
) -> WithAnnotations[Recording, _GrantActive] | None:
    """The recording if the grant names it, with `grant_active`: whether the grant, as the
    database holds it now, is active at `now`."""
    try:
        recording_uuid = uuid.UUID(str(recording_id))
    except ValueError:
        return None
    alias = router.db_for_read(Recording)
    connection = connections[alias]
    at = connection.ops.adapt_datetimefield_value(now)
    params = [
        at,
        at,
        Recording._meta.pk.get_db_prep_value(recording_uuid, connection),
        AccessGrant._meta.pk.get_db_prep_value(grant_id, connection),
    ]
    found = row_reader(Recording, alias, _RECORDING_EXTRAS).fetch(_recording_sql(alias), params)
    return cast("WithAnnotations[Recording, _GrantActive]", found[0]) if found else None


def grant_covers(*, grant_id: Any, recording_id: str, now: datetime) -> bool:
    """Whether the grant, as the database holds it now (a closed case has revoked it), is active
    at `now` and names the recording, and the recording is not purged: what unseal() checks,
    asked again while a long response streams."""
    recording = _recording_through_grant(recording_id=recording_id, grant_id=grant_id, now=now)
    if recording is None:
        return False
    return bool(recording.grant_active) and recording.state == Recording.State.LOCKED


def unseal(*, grant: AccessGrant, recording_id: str) -> UnsealedRecording:
    """Open a recording for plaintext reads; refuses unless `grant` is active and names it."""
    if not isinstance(grant, AccessGrant) or grant.pk is None:
        raise AccessDenied("Decryption needs an access grant.")
    # A revocation must take effect immediately, whatever the caller holds: the grant's window is
    # re-read from the database in the same query that finds the recording through the grant.
    now = timezone.now()
    recording = _recording_through_grant(recording_id=recording_id, grant_id=grant.pk, now=now)
    if recording is None:
        grant.refresh_from_db()  # which refusal: the grant's, or the recording's not being in it
        active = grant.is_active(now)
    else:
        active = bool(recording.grant_active)
    if not active:
        raise AccessDenied("The access grant is not active.", code="grant_inactive")
    if recording is None:
        raise NotFound("The grant names no such recording.", code="recording_not_in_grant")
    if recording.state != Recording.State.LOCKED or recording.header is None:
        raise DomainError("The recording has been purged.", code="recording_purged", status_code=410)
    try:
        file_key = unwrap_file_key(
            bytes(recording.header), playback_identities(), recording_id=str(recording.id)
        )
    except SealingError as error:
        raise DomainError("The recording cannot be unsealed.", code=error.code, status_code=500) from error
    store = get_store()
    reader = PayloadReader(
        file_key,
        payload_size=int(recording.payload_size or 0),
        read_payload=lambda offset, length: store.read(recording.object_key, offset, length),
        prefetch_payload=lambda spans: store.prefetch(recording.object_key, spans),
    )
    return UnsealedRecording(recording=recording, reader=reader)
