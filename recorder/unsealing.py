"""Unsealing: open a recording it is handed for plaintext reads, with the playback identities.

This is the only module that loads identities (the X25519 identity file, KMS Decrypt). Ingest
nodes are deployed without the identity. Who may see a recording is not decided here: the one
caller is `complaints.playback`, which hands over a recording only under an active access grant.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext

from core.errors import DomainError
from recorder.keys import KeyFileError, KmsIdentity, X25519Identity, read_identity_file
from recorder.models import Recording
from recorder.recipients import kms_client
from recorder.sealing import Identity, PayloadReader, SealingError, unwrap_file_key
from recorder.stores import get_store


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
        raise DomainError(
            gettext("This node holds no identity for playback."), code="no_identity", status_code=503
        )
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


class RecordingPurged(DomainError):
    code = "recording_purged"
    status = 410


def unseal(recording: Recording) -> UnsealedRecording:
    """Open `recording` for plaintext reads: its file key unwrapped with the playback identities,
    its payload read (and each chunk authenticated) only as ranges are asked for."""
    if recording.state != Recording.State.LOCKED or recording.header is None:
        raise RecordingPurged(gettext("The recording has been purged."))
    try:
        file_key = unwrap_file_key(
            bytes(recording.header), playback_identities(), recording_id=str(recording.id)
        )
    except SealingError as error:
        raise DomainError(
            gettext("The recording cannot be unsealed."), code=error.code, status_code=500
        ) from error
    store = get_store()
    reader = PayloadReader(
        file_key,
        payload_size=int(recording.payload_size or 0),
        read_payload=lambda offset, length: store.read(recording.object_key, offset, length),
        prefetch_payload=lambda spans: store.prefetch(recording.object_key, spans),
    )
    return UnsealedRecording(recording=recording, reader=reader)
