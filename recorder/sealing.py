"""The age v1 payload (age-encryption.org/v1, c2sp.org/age): the STREAM of ChaCha20-Poly1305
chunks, a streaming sealer and a seekable payload reader. The header lives in
`recorder.age_header`, recipient and identity types in `recorder.keys`; the names of all three
are importable from here, the one entry point of the format.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Iterator, Sequence
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from recorder.age_header import (  # noqa: F401 - re-exported: the format's one entry point
    FILE_KEY_SIZE,
    MAX_HEADER_SIZE,
    TAG_SIZE,
    VERSION_LINE,
    Identity,
    NoIdentityError,
    ParsedHeader,
    Recipient,
    SealingError,
    Stanza,
    TamperedError,
    b64decode,
    b64encode,
    build_header,
    header_mac,
    hkdf,
    parse_header,
    split_age_file,
    unwrap_file_key,
)

CHUNK_SIZE = 64 * 1024  # plaintext bytes per STREAM chunk
PAYLOAD_NONCE_SIZE = 16
SEALED_CHUNK_SIZE = CHUNK_SIZE + TAG_SIZE
# Consecutive chunks fetched per store read (1 MiB of plaintext): few round trips to S3.
READ_CHUNKS = 16
# Chunk nonce (spec "Payload"): 11-byte big-endian counter || last-chunk flag. The top three
# counter bytes stay zero: 2**64 chunks are far beyond any recording.
_CHUNK_NONCE = struct.Struct(">3xQ?")

# --- payload sizes -------------------------------------------------------------------------------


def chunk_offset(index: int) -> int:
    """Where sealed chunk `index` starts in the payload: after the nonce and the chunks before it."""
    return PAYLOAD_NONCE_SIZE + index * SEALED_CHUNK_SIZE


def _covering(start: int, end: int) -> tuple[int, int]:
    """The first and last chunk holding plaintext bytes [start, end), end > start."""
    return start // CHUNK_SIZE, (end - 1) // CHUNK_SIZE


def payload_size_for(plaintext_size: int) -> int:
    chunks = max(1, -(-plaintext_size // CHUNK_SIZE))
    return PAYLOAD_NONCE_SIZE + plaintext_size + chunks * TAG_SIZE


def plaintext_size_for(payload_size: int) -> int:
    """Inverse of payload_size_for; TamperedError for sizes no plaintext produces."""
    full, rest = divmod(payload_size - PAYLOAD_NONCE_SIZE, SEALED_CHUNK_SIZE)
    if full < 0 or (full == 0 and rest < TAG_SIZE):
        raise TamperedError("the payload is too short")
    if rest == 0:
        return full * CHUNK_SIZE
    # Spec: the last chunk MUST NOT be empty unless the whole payload is empty.
    if rest <= TAG_SIZE and not (full == 0 and rest == TAG_SIZE):
        raise TamperedError("the payload size is impossible (empty last chunk)")
    return full * CHUNK_SIZE + rest - TAG_SIZE


def _payload_cipher(file_key: bytes, nonce: bytes) -> ChaCha20Poly1305:
    """Spec "Payload": payload key = HKDF-SHA-256(ikm = file key, salt = nonce, info = "payload")."""
    if len(nonce) != PAYLOAD_NONCE_SIZE:
        raise TamperedError("the payload is truncated (no nonce)")
    return ChaCha20Poly1305(hkdf(file_key, nonce, b"payload"))


def _open_chunk(aead: ChaCha20Poly1305, index: int, sealed: bytes | memoryview, *, last: bool) -> bytes:
    try:
        return aead.decrypt(_CHUNK_NONCE.pack(index, last), sealed, None)
    except InvalidTag:
        raise TamperedError(f"chunk {index} failed authentication") from None


# --- sealing -------------------------------------------------------------------------------------


class Sealer:
    """Streaming encryptor: constant memory (holds at most ~2 chunks), never writes anything itself."""

    def __init__(self, recipients: Sequence[Recipient], *, recording_id: str) -> None:
        if not recipients:
            raise SealingError("at least one recipient is required")
        file_key = os.urandom(FILE_KEY_SIZE)
        stanzas = [recipient.wrap(file_key, recording_id=recording_id) for recipient in recipients]
        self.header: bytes = build_header(stanzas, file_key)
        self._nonce = os.urandom(PAYLOAD_NONCE_SIZE)
        self._aead = _payload_cipher(file_key, self._nonce)
        # A preallocated chunk buffer: input is copied in without resizing anything.
        self._pending = bytearray(CHUNK_SIZE)
        self._filled = 0
        self._index = 0
        self._finished = False
        self.plaintext_size = 0
        self.payload_size = 0

    def update(self, data: bytes | memoryview) -> bytes:
        """Feed plaintext; returns the ciphertext ready so far (possibly b"")."""
        return b"".join(self.update_chunks(data))

    def update_chunks(self, data: bytes | memoryview) -> list[bytes]:
        """Like update(), as separate sealed chunks: a caller that writes each one spares the copy
        of every byte that joining them costs."""
        if self._finished:
            raise SealingError("the sealer is finalized")
        view = memoryview(data).cast("B")
        self.plaintext_size += len(view)
        sealed: list[bytes] = []
        while view:
            if self._filled == CHUNK_SIZE:  # more input follows, so the held chunk is not the last
                sealed.append(self._seal(self._pending, last=False))
                self._filled = 0
            if self._filled == 0 and len(view) > CHUNK_SIZE:
                # Seal straight from the caller's buffer. Some input is always kept back: only
                # finalize() knows which chunk is the last, and the spec forbids an empty one.
                sealed.append(self._seal(view[:CHUNK_SIZE], last=False))
                view = view[CHUNK_SIZE:]
                continue
            taken = min(CHUNK_SIZE - self._filled, len(view))
            self._pending[self._filled : self._filled + taken] = view[:taken]
            self._filled += taken
            view = view[taken:]
        return self._emit(sealed)

    def finalize(self) -> bytes:
        """The rest of the ciphertext: the last chunk, with the last-chunk flag set."""
        return b"".join(self.finalize_chunks())

    def finalize_chunks(self) -> list[bytes]:
        if self._finished:
            raise SealingError("the sealer is finalized")
        self._finished = True
        last = self._seal(memoryview(self._pending)[: self._filled], last=True)
        self._filled = 0
        return self._emit([last])

    def _seal(self, chunk: bytes | bytearray | memoryview, *, last: bool) -> bytes:
        sealed = self._aead.encrypt(_CHUNK_NONCE.pack(self._index, last), chunk, None)
        self._index += 1
        return sealed

    def _emit(self, sealed: list[bytes]) -> list[bytes]:
        if sealed and self.payload_size == 0:  # the first ciphertext starts with the payload nonce
            sealed.insert(0, self._nonce)
        self.payload_size += sum(map(len, sealed))
        return sealed


# --- opening -------------------------------------------------------------------------------------


class PayloadReader:
    """Seekable decryptor over a payload stored elsewhere: reads only the chunks covering a range."""

    def __init__(
        self,
        file_key: bytes,
        *,
        payload_size: int,
        read_payload: Callable[[int, int], bytes],
        prefetch_payload: Callable[[list[tuple[int, int]]], None] | None = None,
    ) -> None:
        self.plaintext_size = plaintext_size_for(payload_size)
        self._payload_size = payload_size
        self._last_index = max(0, -(-self.plaintext_size // CHUNK_SIZE) - 1)
        self._read_payload = read_payload
        self._prefetch_payload = prefetch_payload
        self._file_key = file_key
        self._aead: ChaCha20Poly1305 | None = None

    def iter_range(self, start: int, end: int) -> Iterator[bytes]:
        """Plaintext bytes [start, end), end clamped to the size; each chunk is authenticated
        before any byte of it is yielded."""
        start, end = max(0, start), min(end, self.plaintext_size)
        if start >= end:
            return
        first, last = _covering(start, end)
        for batch in range(first, last + 1, READ_CHUNKS):
            for index, plain in self._open_batch(batch, min(READ_CHUNKS, last + 1 - batch)):
                base = index * CHUNK_SIZE
                if start <= base and base + len(plain) <= end:
                    yield plain  # a whole chunk: no slicing copy
                else:
                    yield plain[max(0, start - base) : end - base]

    def iter_all(self) -> Iterator[bytes]:
        if self.plaintext_size == 0:
            for _ in self._open_batch(0, 1):  # still authenticate the empty final chunk
                pass
            return
        yield from self.iter_range(0, self.plaintext_size)

    def _open_batch(self, first: int, count: int) -> Iterator[tuple[int, bytes]]:
        """Chunks first..first+count-1, fetched in one read, each authenticated as it is reached."""
        sealed = self._fetch(first, count)
        aead = self._cipher()
        for i, index in enumerate(range(first, first + count)):
            piece = sealed[i * SEALED_CHUNK_SIZE : (i + 1) * SEALED_CHUNK_SIZE]
            yield index, _open_chunk(aead, index, piece, last=index == self._last_index)

    def prefetch(self, start: int, end: int) -> None:
        """Ask the store to start fetching what `iter_range(start, end)` reads first (the nonce
        if it is not known yet, and the first batch of chunks), so that it arrives while the
        caller does something else: playback writes its ledger entry meanwhile. Advisory: no byte
        comes into this process, and without a `prefetch_payload` it does nothing."""
        start, end = max(0, start), min(end, self.plaintext_size)
        if self._prefetch_payload is None or start >= end:
            return
        first, last = _covering(start, end)
        self._prefetch_payload(self._spans(first, min(READ_CHUNKS, last + 1 - first)))

    def _spans(self, first: int, count: int) -> list[tuple[int, int]]:
        """The (offset, length) reads that fetch chunks first..first+count-1: from the start, the
        nonce comes along in the same read; elsewhere it is read on its own until it is known."""
        end = min(chunk_offset(first + count), self._payload_size)
        if self._aead is None and first == 0:
            return [(0, end)]
        offset = chunk_offset(first)
        nonce = [(0, PAYLOAD_NONCE_SIZE)] if self._aead is None else []
        return [*nonce, (offset, end - offset)]

    def _fetch(self, first: int, count: int) -> memoryview:
        *nonce, (offset, length) = self._spans(first, count)
        if nonce:
            self._cipher()  # the nonce, read on its own
        data = memoryview(self._read(offset, length))
        if offset == 0:  # the nonce came along
            self._aead = _payload_cipher(self._file_key, bytes(data[:PAYLOAD_NONCE_SIZE]))
            return data[PAYLOAD_NONCE_SIZE:]
        return data

    def _cipher(self) -> ChaCha20Poly1305:
        if self._aead is None:
            self._aead = _payload_cipher(self._file_key, self._read(0, PAYLOAD_NONCE_SIZE))
        return self._aead

    def _read(self, offset: int, length: int) -> bytes:
        data = self._read_payload(offset, length)
        if len(data) != length:
            raise TamperedError("the payload is truncated")
        return data


def decrypt_file(
    stream: BinaryIO, identities: Sequence[Identity], *, recording_id: str = ""
) -> Iterator[bytes]:
    """Decrypt a whole age file (header and payload in one stream, e.g. made by the age CLI),
    chunk by chunk; each chunk is authenticated before it is yielded."""
    file_key = unwrap_file_key(_read_header(stream), identities, recording_id=recording_id)
    aead = _payload_cipher(file_key, _read_up_to(stream, PAYLOAD_NONCE_SIZE))
    sealed, index = _read_up_to(stream, SEALED_CHUNK_SIZE), 0
    while True:
        # A chunk is the last when nothing follows it; reading one ahead is how we know.
        following = _read_up_to(stream, SEALED_CHUNK_SIZE) if len(sealed) == SEALED_CHUNK_SIZE else b""
        last = not following
        if last and index > 0 and len(sealed) <= TAG_SIZE:
            raise TamperedError("the payload ends with an empty or truncated chunk")
        yield _open_chunk(aead, index, sealed, last=last)
        if last:
            return
        sealed, index = following, index + 1


def _read_header(stream: BinaryIO) -> bytes:
    """The header lines, through the `--- mac` line, and not one byte of the payload."""
    lines: list[bytes] = []
    size = 0
    while size < MAX_HEADER_SIZE:
        line = stream.readline(MAX_HEADER_SIZE - size)
        if not line.endswith(b"\n"):
            raise TamperedError("truncated or over-long header")
        lines.append(line)
        size += len(line)
        if line.startswith(b"--- "):  # no other header line can start so (base64 has no "-")
            return b"".join(lines)
    raise TamperedError("over-long header")


def _read_up_to(stream: BinaryIO, size: int) -> bytes:
    """`size` bytes, fewer only at the end of the stream (read() may return short on pipes)."""
    data = stream.read(size)
    while data and len(data) < size and (more := stream.read(size - len(data))):
        data += more
    return data
