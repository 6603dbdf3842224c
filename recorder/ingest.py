"""Ingest: a recording body streamed through the age sealer into the object store, then locked.

The body is read from the request stream piece by piece; only ciphertext is written anywhere,
and memory stays at a few pieces whatever the size. The row exists (state `receiving`) before
any byte is stored, so a crash at any point leaves something the reconciler can find and remove;
a refusal removes what was written at once. Nothing on this path can decrypt: it loads public
recipients only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Protocol

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import formats, timezone
from django.utils.translation import gettext
from rest_framework import status

from audit.services import Actor, record_event
from core.errors import Conflict, DomainError, InvalidInput
from core.periods import expiry_for
from recorder import recipients as recipient_config
from recorder.models import RecorderClient, Recording, Session
from recorder.pseudonyms import content_fingerprint
from recorder.sealing import Sealer
from recorder.services import client_actor, session_for_client, timeline_state
from recorder.stores import ObjectStore, ObjectWriter, StoreError, get_store

if TYPE_CHECKING:
    from hashlib import _Hash as Hash

logger = logging.getLogger(__name__)

READ_SIZE = 1024 * 1024
# Pieces the digest and write threads may each be behind the receiving thread.
PIPELINE_DEPTH = 3
HEARTBEAT_SECONDS = 10.0
_MEDIA_TYPE = re.compile(r"^[\w.+-]+/[\w.+-]+(\s*;.*)?$")
# RFC 9530 Content-Digest is a Structured Fields dictionary: `sha-256=:<base64>:, sha-512=:...:`.
_DIGEST_MEMBER = re.compile(r"^\s*([a-z0-9-]+)\s*=\s*:([A-Za-z0-9+/=]*):\s*$")
_DIGEST_ALGORITHMS = {"sha-256": "sha256", "sha-512": "sha512"}


class RequestBody(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...  # readinto(buffer) is used when it has one


@dataclass(frozen=True)
class ExpectedDigest:
    algorithm: str  # hashlib name
    value: bytes


@dataclass(frozen=True)
class IngestResult:
    recording: Recording
    created: bool


def ingest_recording(
    *,
    client: RecorderClient,
    session_id: uuid.UUID | str,
    body: RequestBody,
    content_length: int | None,
    media_type: str,
    content_digest: str | None,
) -> IngestResult:
    """Seal and store a session's recording; the same bytes again return the existing one."""
    session = session_for_client(client=client, session_id=session_id)
    actor = client_actor(client)
    try:
        length = _check_length(content_length)
        expected = parse_content_digest(content_digest)
        media_type = _check_media_type(media_type)
        existing = Recording.objects.filter(session=session).first()
        if existing is not None:
            return IngestResult(_match_existing(existing, body, length, expected), created=False)
        if not timeline_state(session).ever_control:
            raise Conflict(
                gettext("The session's timeline never granted control rights; it must not be recorded."),
                code="no_control_grant",
            )
        recording = _start_receiving(session, media_type)
    except DomainError as error:
        _record_rejection(actor, session, error)
        raise
    try:
        _receive(recording, body, length, expected, actor)
    except DomainError as error:
        _give_up(recording, actor, session, error)
        raise
    except (StoreError, OSError) as error:
        reason = _as_domain_error(error)
        _give_up(recording, actor, session, reason)
        raise reason from error
    except BaseException:
        # Anything else (a bug, the worker being stopped): still leave nothing behind.
        _give_up(recording, actor, session, _as_domain_error(None))
        raise
    return IngestResult(recording, created=True)


def _give_up(recording: Recording, actor: Actor, session: Session, reason: DomainError) -> None:
    _abandon(recording, reason=reason.code)
    _record_rejection(actor, session, reason)


def _check_length(content_length: int | None) -> int:
    if content_length is None:
        raise DomainError(
            gettext("A recording upload needs a Content-Length header."),
            code="length_required",
            status_code=status.HTTP_411_LENGTH_REQUIRED,
        )
    if content_length == 0:
        # The body is read to exactly Content-Length (shorter is body_incomplete), so this is the
        # one way a body turns out empty; refused before any row, object or byte exists.
        raise InvalidInput(
            gettext("The recording is empty: send the session's recording."), code="empty_recording"
        )
    if content_length > settings.RECORDING_MAX_BYTES:
        raise DomainError(
            gettext("The recording is larger than the limit of %(limit)s bytes.")
            % {"limit": formats.number_format(settings.RECORDING_MAX_BYTES, force_grouping=True)},
            code="too_large",
            status_code=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    return content_length


def _check_media_type(media_type: str) -> str:
    media_type = (media_type or "application/octet-stream").strip()
    if len(media_type) > 255 or not _MEDIA_TYPE.match(media_type):
        raise InvalidInput(gettext("Content-Type is not a valid media type."), code="bad_media_type")
    return media_type


def parse_content_digest(header: str | None) -> ExpectedDigest | None:
    """The strongest supported digest of an RFC 9530 Content-Digest header, or None if absent."""
    if header is None or not header.strip():
        return None
    found: dict[str, bytes] = {}
    for member in header.split(","):
        match = _DIGEST_MEMBER.match(member)
        if not match:
            raise InvalidInput(
                gettext("Content-Digest is not of the form sha-256=:<base64>:."), code="bad_digest_header"
            )
        algorithm, encoded = match.groups()
        if algorithm in _DIGEST_ALGORITHMS:
            try:
                found[algorithm] = base64.b64decode(encoded, validate=True)
            except ValueError:
                raise InvalidInput(
                    gettext("Content-Digest holds invalid base64."), code="bad_digest_header"
                ) from None
    for algorithm in ("sha-512", "sha-256"):
        if algorithm in found:
            name = _DIGEST_ALGORITHMS[algorithm]
            if len(found[algorithm]) != hashlib.new(name).digest_size:
                raise InvalidInput(
                    gettext("Content-Digest %(algorithm)s has the wrong length.") % {"algorithm": algorithm},
                    code="bad_digest_header",
                )
            return ExpectedDigest(name, found[algorithm])
    raise InvalidInput(
        gettext("Content-Digest names no supported algorithm (sha-256, sha-512)."), code="unsupported_digest"
    )


def _match_existing(
    existing: Recording, body: RequestBody, length: int, expected: ExpectedDigest | None
) -> Recording:
    """A repeated upload: the same bytes are acknowledged (200), other bytes refused (409)."""
    if existing.state == Recording.State.RECEIVING:
        raise Conflict(
            gettext("An upload of this session's recording is in progress."), code="upload_in_progress"
        )
    if existing.state != Recording.State.LOCKED:
        raise Conflict(gettext("This session's recording has been purged."), code="recording_purged")
    if length != existing.size:
        raise Conflict(
            gettext("The session already has a recording with other content."), code="recording_exists"
        )
    sha256 = hashlib.sha256()
    checker = hashlib.new(expected.algorithm) if expected and expected.algorithm != "sha256" else None
    for piece in _read_body(body, length):
        sha256.update(piece)
        if checker is not None:
            checker.update(piece)
    _check_digest(expected, sha256, checker)
    if not hmac.compare_digest(content_fingerprint(sha256.digest()), existing.fingerprint):
        raise Conflict(
            gettext("The session already has a recording with other content."), code="recording_exists"
        )
    return existing


def _start_receiving(session: Session, media_type: str) -> Recording:
    now = timezone.now()
    recording_id = uuid.uuid4()
    recording = Recording(
        id=recording_id,
        session=session,
        media_type=media_type,
        # Object keys carry no personal data: a date and a random id.
        object_key=f"recordings/{now:%Y}/{now:%m}/{recording_id}.age",
        upload_started_at=now,
        last_activity_at=now,
    )
    try:
        with transaction.atomic():
            recording.save(force_insert=True)
    except IntegrityError:
        raise Conflict(
            gettext("An upload of this session's recording is in progress."), code="upload_in_progress"
        ) from None
    return recording


def _receive(
    recording: Recording, body: RequestBody, length: int, expected: ExpectedDigest | None, actor: Actor
) -> None:
    try:
        recipients = recipient_config.ingest_recipients()
    except recipient_config.RecipientConfigError as error:
        logger.error("ingest has no usable recipient: %s", error)
        raise DomainError(
            gettext("The vault cannot seal recordings right now (no recipient configured)."),
            code="sealing_unavailable",
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        ) from None
    store = get_store()
    sealer = Sealer(recipients, recording_id=str(recording.id))
    digests = _PlaintextDigests(expected)
    writer = store.open_writer(recording.object_key)
    writes = _BackgroundWrites(writer)
    try:
        next_heartbeat = time.monotonic() + HEARTBEAT_SECONDS
        for piece in _read_body(body, length):
            digests.update(piece)
            writes.write(sealer.update_chunks(piece))
            if time.monotonic() >= next_heartbeat:
                _heartbeat(recording)
                next_heartbeat = time.monotonic() + HEARTBEAT_SECONDS
        writes.write(sealer.finalize_chunks())
        writes.finish()
        sha256, checker = digests.digests()
        _check_digest(expected, sha256, checker)
        writer.commit()
    except BaseException:
        writes.close()  # no write may still be running when the writer is aborted
        writer.abort()
        raise
    finally:
        writes.close()
        digests.close()
    _lock(recording, sealer, sha256.digest(), [recipient_config.describe(r) for r in recipients], actor)


class _InOrder:
    """Work done on one extra thread, in the order it was submitted, at most `depth` pieces
    behind the caller: the caller only waits when that many are still pending, so a moment's
    delay on either side (two cores shared by four threads and the client) is absorbed instead of
    stalling the other. An error is raised to the caller at its next submit or at finish()."""

    def __init__(self, name: str, depth: int = PIPELINE_DEPTH) -> None:
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._pending: deque[Future[None]] = deque()
        self._depth = depth

    def submit(self, work: Callable[[], None]) -> None:
        while len(self._pending) >= self._depth:
            self._pending.popleft().result()
        self._pending.append(self._thread.submit(work))

    def finish(self) -> None:
        """Wait for every pending piece; raises the first error, if any."""
        while self._pending:
            self._pending.popleft().result()

    def close(self) -> None:
        self._thread.shutdown(wait=True, cancel_futures=True)


class _PlaintextDigests(_InOrder):
    """SHA-256 of the plaintext (and the client's Content-Digest algorithm, if another), hashed
    on a second thread while this one seals the same piece: hashlib releases the GIL for large
    updates, so on a machine with two cores hashing and sealing overlap instead of taking turns.
    Pieces are hashed in order; a piece's buffer is not reused before its hash is done (see
    _read_body, which keeps one buffer more than the depth)."""

    def __init__(self, expected: ExpectedDigest | None) -> None:
        super().__init__("ingest-digest")
        self.sha256 = hashlib.sha256()
        other = expected.algorithm if expected and expected.algorithm != "sha256" else None
        self.checker = hashlib.new(other) if other else None

    def update(self, piece: bytes | memoryview) -> None:
        self.submit(lambda: self._hash(piece))

    def _hash(self, piece: bytes | memoryview) -> None:
        self.sha256.update(piece)
        if self.checker is not None:
            self.checker.update(piece)

    def digests(self) -> tuple[Hash, Hash | None]:
        self.finish()
        return self.sha256, self.checker


class _BackgroundWrites(_InOrder):
    """The sealed chunks of each piece written to the store on a third thread while this one
    receives and seals the next pieces: file and socket writes release the GIL, so writing
    overlaps receiving instead of taking turns with it. Pieces are written in order; memory
    holds at most `depth` pieces of ciphertext."""

    def __init__(self, writer: ObjectWriter) -> None:
        super().__init__("ingest-write")
        self._writer = writer

    def write(self, chunks: list[bytes]) -> None:
        self.submit(lambda: self._write(chunks))

    def _write(self, chunks: list[bytes]) -> None:
        for chunk in chunks:
            self._writer.write(chunk)


def _read_body(body: RequestBody, length: int) -> Iterator[bytes | memoryview]:
    """The announced bytes of the body, piece by piece; a short or broken body is an error.

    A body with `readinto` is read into PIPELINE_DEPTH + 1 buffers in turn, each piece a view of
    one of them, so the next pieces are received while earlier ones are hashed on the digest
    thread. A buffer is reused only after PIPELINE_DEPTH more pieces have been handed over: the
    digest thread, never more than that many behind, has then finished with it, and sealing
    copies what it keeps."""
    readinto = getattr(body, "readinto", None)
    ring = PIPELINE_DEPTH + 1
    buffers = [memoryview(bytearray(min(READ_SIZE, length))) for _ in range(ring)] if readinto else []
    remaining, turn = length, 0
    while remaining > 0:
        wanted = min(READ_SIZE, remaining)
        try:
            if readinto is None:
                piece: bytes | memoryview = body.read(wanted)
            else:
                buffer, turn = buffers[turn], (turn + 1) % ring
                filled = 0
                while filled < wanted and (count := readinto(buffer[filled:wanted])):
                    filled += count
                piece = buffer[:filled]
        except OSError:
            piece = b""
        if not piece:
            raise InvalidInput(
                gettext("The body ended %(remaining)s bytes before its announced Content-Length.")
                % {"remaining": formats.number_format(remaining, force_grouping=True)},
                code="body_incomplete",
            )
        remaining -= len(piece)
        yield piece


def _check_digest(expected: ExpectedDigest | None, sha256: Hash, checker: Hash | None) -> None:
    if expected is None:
        return
    actual = (checker or sha256).digest()
    if not hmac.compare_digest(actual, expected.value):
        raise InvalidInput(gettext("The body does not match its Content-Digest."), code="digest_mismatch")


def _heartbeat(recording: Recording) -> None:
    alive = Recording.objects.filter(pk=recording.pk, state=Recording.State.RECEIVING).update(
        last_activity_at=timezone.now()
    )
    if not alive:
        raise Conflict(
            gettext("The upload was abandoned by the server; send it again."), code="upload_abandoned"
        )


def _lock(
    recording: Recording, sealer: Sealer, sha256_digest: bytes, recipients: list[str], actor: Actor
) -> None:
    now = timezone.now()
    expires_at = expiry_for(received_at=now)
    # Storage-side guard (S3 Object Lock, when configured): nobody deletes the evidence early.
    get_store().protect(recording.object_key, until=expires_at)
    with transaction.atomic():
        current = Recording.objects.select_for_update().filter(
            pk=recording.pk, state=Recording.State.RECEIVING
        )
        if not current.exists():
            raise Conflict(
                gettext("The upload was abandoned by the server; send it again."), code="upload_abandoned"
            )
        recording.header = sealer.header
        recording.size = sealer.plaintext_size
        recording.payload_size = sealer.payload_size
        recording.fingerprint = content_fingerprint(sha256_digest)
        recording.recipients = recipients
        recording.received_at = now
        recording.last_activity_at = now
        recording.expires_at = expires_at
        recording.state = Recording.State.LOCKED
        recording.save()
        record_event(
            action="recording.ingested",
            actor=actor,
            recording_id=recording.id,
            session_id=recording.session_id,
            details={
                "size": recording.size,
                "payload_size": recording.payload_size,
                "media_type": recording.media_type,
                "recipients": [label.split(":", 1)[0] for label in recipients],
                "expires_at": recording.expires_at.isoformat(),
            },
        )


def _abandon(recording: Recording, *, reason: str) -> None:
    """Remove what a failed upload left: the stored object first, then the `receiving` row.

    If the store cannot be reached the row stays `receiving`, and the reconciler finishes the job.
    """
    try:
        get_store().discard(recording.object_key)
    except StoreError as error:
        logger.warning("upload %s (%s) left for the reconciler: %s", recording.id, reason, error)
        return
    Recording.objects.filter(pk=recording.pk, state=Recording.State.RECEIVING).delete()


def _as_domain_error(error: BaseException | None) -> DomainError:
    if isinstance(error, StoreError):
        logger.error("object store failed during ingest: %s", error)
        return DomainError(
            gettext("The object store is unavailable; nothing was kept. Try again later."),
            code="store_unavailable",
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        )
    if isinstance(error, OSError):
        return InvalidInput(gettext("The upload was interrupted; nothing was kept."), code="body_incomplete")
    return DomainError(gettext("The upload failed; nothing was kept."), code="ingest_failed", status_code=500)


def _record_rejection(actor: Actor, session: Session, error: DomainError) -> None:
    record_event(
        action="recording.rejected", actor=actor, session_id=session.id, details={"reason": error.code}
    )


def reconcile_abandoned_uploads(
    *, store: ObjectStore | None = None, stale_after_seconds: int | None = None
) -> int:
    """Remove uploads that made no progress for UPLOAD_STALE_AFTER_SECONDS (crashed web process).

    Safe to run any number of times, side by side: each row is removed once.
    """
    store = store or get_store()
    limit = stale_after_seconds if stale_after_seconds is not None else settings.UPLOAD_STALE_AFTER_SECONDS
    cutoff = timezone.now() - timedelta(seconds=limit)
    removed = 0
    for recording in Recording.objects.filter(state=Recording.State.RECEIVING, last_activity_at__lt=cutoff):
        store.discard(recording.object_key)
        with transaction.atomic():
            deleted, _ = Recording.objects.filter(
                pk=recording.pk, state=Recording.State.RECEIVING, last_activity_at__lt=cutoff
            ).delete()
            if deleted:
                removed += 1
                record_event(
                    action="recording.upload_abandoned",
                    actor=Actor.job("reconcile_uploads"),
                    session_id=recording.session_id,
                    details={"reason": "no_progress"},
                )
    return removed
