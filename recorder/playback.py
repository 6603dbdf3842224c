"""The one way to plaintext: unseal a recording for the holder of an active access grant.

This is the only module that loads identities (the X25519 identity file, KMS Decrypt). Ingest
nodes are deployed without the identity; nothing here is reachable without an AccessGrant.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from complaints.models import AccessGrant
from config.errors import DomainError, NotFound
from recorder.keys import KeyFileError, KmsIdentity, read_identity_file
from recorder.models import Recording
from recorder.recipients import kms_client
from recorder.sealing import Identity, PayloadReader, SealingError, unwrap_file_key
from recorder.stores import get_store


class AccessDenied(DomainError):
    code = "access_denied"
    status: int = 403


def playback_identities() -> list[Identity]:
    """Identities configured for playback: the X25519 identity file and, if set, KMS."""
    identities: list[Identity] = []
    path = Path(settings.AGE_IDENTITY_FILE) if settings.AGE_IDENTITY_FILE else None
    if path is not None and path.exists():
        try:
            identities.extend(read_identity_file(path))
        except KeyFileError as error:
            raise DomainError(str(error), code="identity_unusable", status_code=503) from error
    if settings.KMS_KEY_ID:
        identities.append(KmsIdentity(kms_client()))
    if not identities:
        raise DomainError("This node holds no identity for playback.", code="no_identity", status_code=503)
    return identities


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


def unseal(*, grant: AccessGrant, recording_id: str) -> UnsealedRecording:
    """Open a recording for plaintext reads; refuses unless `grant` is active and names it."""
    if not isinstance(grant, AccessGrant) or grant.pk is None:
        raise AccessDenied("Decryption needs an access grant.")
    # A revocation must take effect immediately, whatever the caller holds: the grant's window is
    # re-read from the database in the same query that finds the recording through the grant.
    recording = (
        Recording.objects.filter(id=recording_id, access_grants=grant.pk)
        .annotate(
            grant_starts_at=F("access_grants__starts_at"),
            grant_ends_at=F("access_grants__ends_at"),
            grant_revoked_at=F("access_grants__revoked_at"),
        )
        .first()
    )
    if recording is None:
        grant.refresh_from_db()  # which refusal: the grant's, or the recording's not being in it
    else:
        grant.starts_at = recording.grant_starts_at
        grant.ends_at = recording.grant_ends_at
        grant.revoked_at = recording.grant_revoked_at
    if not grant.is_active(timezone.now()):
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
    )
    return UnsealedRecording(recording=recording, reader=reader)
