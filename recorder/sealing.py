"""The age v1 file format (age-encryption.org/v1, C2SP age spec): header, STREAM payload,
a streaming sealer and a seekable reader. Recipient and identity types live in `recorder.keys`.

A file key (16 random bytes) is wrapped to each recipient in a header stanza; an HMAC over the
header, keyed from the file key, authenticates it. The payload is a 16-byte nonce followed by
ChaCha20-Poly1305 chunks of 64 KiB plaintext, nonce = 11-byte big-endian counter || last flag.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from hashlib import sha256
from typing import BinaryIO, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

CHUNK_SIZE = 64 * 1024
TAG_SIZE = 16
PAYLOAD_NONCE_SIZE = 16
FILE_KEY_SIZE = 16
SEALED_CHUNK_SIZE = CHUNK_SIZE + TAG_SIZE
VERSION_LINE = b"age-encryption.org/v1"
# Consecutive chunks fetched per store read when decrypting a range (1 MiB of plaintext).
READ_CHUNKS = 16
_COLUMNS = 64
_ARG = re.compile(rb"^[\x21-\x7e]+$")


class SealingError(Exception):
    code: str = "sealing_error"


class TamperedError(SealingError):
    """Authentication failed: altered, truncated, extended or reordered data; never plaintext."""

    code = "tampered"


class NoIdentityError(SealingError):
    """None of the given identities can unwrap any stanza of the header."""

    code = "no_identity"


@dataclass(frozen=True)
class Stanza:
    type: str
    args: tuple[str, ...]
    body: bytes


class Recipient(Protocol):
    def wrap(self, file_key: bytes, *, recording_id: str) -> Stanza: ...


class Identity(Protocol):
    def unwrap(self, stanza: Stanza, *, recording_id: str) -> bytes | None: ...


def hkdf(ikm: bytes, salt: bytes, info: bytes, length: int = 32) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


def b64encode(data: bytes) -> bytes:
    """age's base64: standard alphabet, no padding."""
    return base64.b64encode(data).rstrip(b"=")


def b64decode(text: bytes) -> bytes:
    """Strict: no padding, no stray characters, canonical trailing bits (spec: reject otherwise)."""
    if b"=" in text or b"\r" in text or b"\n" in text:
        raise TamperedError("non-canonical base64 in the header")
    try:
        data = base64.b64decode(text + b"=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError) as error:
        raise TamperedError("invalid base64 in the header") from error
    if b64encode(data) != text:
        raise TamperedError("non-canonical base64 in the header")
    return data


# --- header --------------------------------------------------------------------------------------


def _encode_stanza(stanza: Stanza) -> bytes:
    line = b" ".join([b"->", stanza.type.encode(), *(arg.encode() for arg in stanza.args)])
    encoded = b64encode(stanza.body)
    # Body lines of 64 columns; the last line is shorter, so possibly empty.
    lines = [encoded[i : i + _COLUMNS] for i in range(0, len(encoded), _COLUMNS)]
    if not lines or len(lines[-1]) == _COLUMNS:
        lines.append(b"")
    return line + b"\n" + b"\n".join(lines) + b"\n"


def header_mac(file_key: bytes, header_without_mac: bytes) -> bytes:
    """HMAC-SHA256 over the header up to and including `---`, keyed by HKDF(file key, "header")."""
    key = hkdf(file_key, b"", b"header")
    return hmac.new(key, header_without_mac, sha256).digest()


def build_header(stanzas: Sequence[Stanza], file_key: bytes) -> bytes:
    body = VERSION_LINE + b"\n" + b"".join(_encode_stanza(s) for s in stanzas) + b"---"
    return body + b" " + b64encode(header_mac(file_key, body)) + b"\n"


@dataclass(frozen=True)
class ParsedHeader:
    stanzas: tuple[Stanza, ...]
    mac: bytes
    mac_input: bytes  # the header through `---`
    length: int  # bytes of the header, including the final newline


def parse_header(data: bytes) -> ParsedHeader:
    """Parse the header at the start of `data` strictly; TamperedError on anything malformed."""
    lines = _HeaderLines(data)
    if lines.next() != VERSION_LINE:
        raise TamperedError("not an age v1 header")
    stanzas: list[Stanza] = []
    while True:
        start = lines.position
        line = lines.next()
        if line.startswith(b"--- ") or line == b"---":
            mac_text = line[4:]
            mac = b64decode(mac_text)
            if len(mac) != 32:
                raise TamperedError("the header MAC has the wrong length")
            return ParsedHeader(tuple(stanzas), mac, data[: start + 3], lines.position)
        if not line.startswith(b"-> "):
            raise TamperedError("malformed header line")
        stanzas.append(_parse_stanza(line, lines))


def _parse_stanza(line: bytes, lines: _HeaderLines) -> Stanza:
    words = line[3:].split(b" ")
    if not words or not all(_ARG.match(word) for word in words):
        raise TamperedError("malformed stanza arguments")
    body = b""
    while True:
        chunk = lines.next()
        if len(chunk) > _COLUMNS:
            raise TamperedError("over-long stanza body line")
        body += chunk
        if len(chunk) < _COLUMNS:
            break
    return Stanza(words[0].decode(), tuple(w.decode() for w in words[1:]), b64decode(body))


class _HeaderLines:
    def __init__(self, data: bytes) -> None:
        self.data, self.position = data, 0

    def next(self) -> bytes:
        end = self.data.find(b"\n", self.position)
        if end < 0:
            raise TamperedError("truncated header")
        line = self.data[self.position : end]
        self.position = end + 1
        return line


def unwrap_file_key(header: bytes, identities: Sequence[Identity], *, recording_id: str) -> bytes:
    """The file key from the first stanza an identity unwraps, after checking the header MAC."""
    parsed = parse_header(header)
    if parsed.length != len(header):
        raise TamperedError("trailing bytes after the header")
    for stanza in parsed.stanzas:
        for identity in identities:
            file_key = identity.unwrap(stanza, recording_id=recording_id)
            if file_key is None:
                continue
            if not hmac.compare_digest(header_mac(file_key, parsed.mac_input), parsed.mac):
                raise TamperedError("the header MAC does not match")
            return file_key
    raise NoIdentityError("no identity matches a recipient of this recording")


# --- payload -------------------------------------------------------------------------------------


def payload_key(file_key: bytes, nonce: bytes) -> bytes:
    return hkdf(file_key, nonce, b"payload")


def chunk_nonce(index: int, last: bool) -> bytes:
    return index.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


def payload_size_for(plaintext_size: int) -> int:
    chunks = max(1, -(-plaintext_size // CHUNK_SIZE))
    return PAYLOAD_NONCE_SIZE + plaintext_size + chunks * TAG_SIZE


def plaintext_size_for(payload_size: int) -> int:
    sealed = payload_size - PAYLOAD_NONCE_SIZE
    if sealed < TAG_SIZE:
        raise TamperedError("the payload is too short")
    full, rest = divmod(sealed, SEALED_CHUNK_SIZE)
    if rest == 0:
        return full * CHUNK_SIZE
    if rest <= TAG_SIZE:
        # A last chunk with no plaintext exists only when the whole payload is empty.
        if full == 0 and rest == TAG_SIZE:
            return 0
        raise TamperedError("the payload size is impossible (empty last chunk)")
    return full * CHUNK_SIZE + rest - TAG_SIZE


class Sealer:
    """Streaming encryptor: holds at most two chunks; returns ciphertext, writes nothing itself."""

    def __init__(self, recipients: Sequence[Recipient], *, recording_id: str) -> None:
        if not recipients:
            raise SealingError("at least one recipient is required")
        file_key = os.urandom(FILE_KEY_SIZE)
        self.header = build_header(
            [r.wrap(file_key, recording_id=recording_id) for r in recipients], file_key
        )
        self._nonce = os.urandom(PAYLOAD_NONCE_SIZE)
        self._aead = ChaCha20Poly1305(payload_key(file_key, self._nonce))
        self._pending = bytearray()
        self._index = 0
        self._started = False
        self._finished = False
        self.plaintext_size = 0
        self.payload_size = 0

    def update(self, data: bytes | memoryview) -> bytes:
        """Feed plaintext; returns the ciphertext ready so far (possibly b"")."""
        return b"".join(self.update_chunks(data))

    def update_chunks(self, data: bytes | memoryview) -> list[bytes]:
        """Like update(), as separate sealed chunks: the caller writes each one without joining
        them, which spares a copy of every byte (memory bandwidth is what ingest is bound by)."""
        if self._finished:
            raise SealingError("the sealer is finalized")
        view = memoryview(data).cast("B")
        self.plaintext_size += len(view)
        sealed: list[bytes] = []
        if not view:
            return sealed
        if self._pending:
            room = CHUNK_SIZE - len(self._pending)
            if len(view) <= room:
                self._pending += view
                return sealed
            self._pending += view[:room]
            view = view[room:]
            sealed.append(self._seal(bytes(self._pending), last=False))
            self._pending.clear()
        # Seal whole chunks straight from the input, keeping at least one byte back: only
        # finalize() knows which chunk is the last (age: the last chunk is never empty).
        full = (len(view) - 1) // CHUNK_SIZE
        for start in range(0, full * CHUNK_SIZE, CHUNK_SIZE):
            sealed.append(self._seal(view[start : start + CHUNK_SIZE], last=False))
        self._pending += view[full * CHUNK_SIZE :]
        return self._emit(sealed)

    def finalize(self) -> bytes:
        """The rest of the ciphertext: the last chunk, with the last-chunk flag set."""
        return b"".join(self.finalize_chunks())

    def finalize_chunks(self) -> list[bytes]:
        if self._finished:
            raise SealingError("the sealer is finalized")
        self._finished = True
        sealed = self._seal(bytes(self._pending), last=True)
        self._pending.clear()
        return self._emit([sealed])

    def _seal(self, chunk: bytes | memoryview, *, last: bool) -> bytes:
        sealed = self._aead.encrypt(chunk_nonce(self._index, last), chunk, None)
        self._index += 1
        return sealed

    def _emit(self, sealed: list[bytes]) -> list[bytes]:
        if not self._started and sealed:
            self._started = True
            sealed.insert(0, self._nonce)
        self.payload_size += sum(len(chunk) for chunk in sealed)
        return sealed


class PayloadReader:
    """Seekable decryptor over a payload stored elsewhere: reads only the chunks covering a range."""

    def __init__(
        self, file_key: bytes, *, payload_size: int, read_payload: Callable[[int, int], bytes]
    ) -> None:
        self.plaintext_size = plaintext_size_for(payload_size)
        self._payload_size = payload_size
        self._read = read_payload
        self._file_key = file_key
        self._aead: ChaCha20Poly1305 | None = None
        self._chunks = max(1, -(-self.plaintext_size // CHUNK_SIZE))

    def _cipher(self) -> ChaCha20Poly1305:
        if self._aead is None:
            nonce = self._read(0, PAYLOAD_NONCE_SIZE)
            if len(nonce) != PAYLOAD_NONCE_SIZE:
                raise TamperedError("the payload is truncated")
            self._aead = ChaCha20Poly1305(payload_key(self._file_key, nonce))
        return self._aead

    def iter_range(self, start: int, end: int) -> Iterator[bytes]:
        """Plaintext bytes [start, end); each chunk is authenticated before any byte of it is yielded."""
        end = min(end, self.plaintext_size)
        start = max(0, start)
        if start >= end:
            return
        first, last = start // CHUNK_SIZE, (end - 1) // CHUNK_SIZE
        aead = self._cipher()
        for batch_start in range(first, last + 1, READ_CHUNKS):
            batch_end = min(batch_start + READ_CHUNKS, last + 1)
            offset = PAYLOAD_NONCE_SIZE + batch_start * SEALED_CHUNK_SIZE
            wanted = min(batch_end * SEALED_CHUNK_SIZE + PAYLOAD_NONCE_SIZE, self._payload_size) - offset
            data = self._read(offset, wanted)
            if len(data) != wanted:
                raise TamperedError("the payload is truncated")
            for index in range(batch_start, batch_end):
                at = (index - batch_start) * SEALED_CHUNK_SIZE
                plain = self._open(aead, index, data[at : at + SEALED_CHUNK_SIZE])
                lo = start - index * CHUNK_SIZE if index == first else 0
                hi = end - index * CHUNK_SIZE if index == last else len(plain)
                yield plain[lo:hi]

    def iter_all(self) -> Iterator[bytes]:
        if self.plaintext_size == 0:
            self._open(self._cipher(), 0, self._read(PAYLOAD_NONCE_SIZE, TAG_SIZE))
            return
        yield from self.iter_range(0, self.plaintext_size)

    def _open(self, aead: ChaCha20Poly1305, index: int, sealed: bytes) -> bytes:
        try:
            return aead.decrypt(chunk_nonce(index, index == self._chunks - 1), sealed, None)
        except InvalidTag:
            raise TamperedError(f"chunk {index} failed authentication") from None


def split_age_file(data: bytes) -> tuple[bytes, bytes]:
    """(header, payload) of an in-memory age file; the header includes its `--- mac` line."""
    parsed = parse_header(data)
    return data[: parsed.length], data[parsed.length :]


def decrypt_file(
    stream: BinaryIO, identities: Sequence[Identity], *, recording_id: str = ""
) -> Iterator[bytes]:
    """Decrypt a whole age file (header and payload in one stream, e.g. made by the age CLI)."""
    head = bytearray()
    while True:
        piece = stream.read(4096)
        head += piece
        try:
            parsed = parse_header(bytes(head))
            break
        except TamperedError:
            if not piece or len(head) > 1024 * 1024:
                raise
    file_key = unwrap_file_key(bytes(head[: parsed.length]), identities, recording_id=recording_id)
    buffer = bytearray(head[parsed.length :])
    while len(buffer) < PAYLOAD_NONCE_SIZE and (piece := stream.read(SEALED_CHUNK_SIZE)):
        buffer += piece
    if len(buffer) < PAYLOAD_NONCE_SIZE:
        raise TamperedError("the payload is truncated")
    aead = ChaCha20Poly1305(payload_key(file_key, bytes(buffer[:PAYLOAD_NONCE_SIZE])))
    del buffer[:PAYLOAD_NONCE_SIZE]
    index = 0
    while True:
        # Read one byte beyond a full chunk to know whether this chunk is the last.
        while len(buffer) <= SEALED_CHUNK_SIZE and (piece := stream.read(SEALED_CHUNK_SIZE)):
            buffer += piece
        last = len(buffer) <= SEALED_CHUNK_SIZE
        sealed = bytes(buffer[:SEALED_CHUNK_SIZE])
        del buffer[:SEALED_CHUNK_SIZE]
        try:
            plain = aead.decrypt(chunk_nonce(index, last), sealed, None)
        except InvalidTag:
            raise TamperedError(f"chunk {index} failed authentication") from None
        if last and not plain and index > 0:
            raise TamperedError("an empty last chunk follows a full one")
        yield plain
        if last:
            return
        index += 1
