"""The age v1 header (age-encryption.org/v1, c2sp.org/age): stanzas, the header MAC, strict
parsing, and the format's shared primitives and errors. The payload lives in `recorder.sealing`.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass
from hashlib import sha256
from typing import Protocol

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

FILE_KEY_SIZE = 16
TAG_SIZE = 16  # ChaCha20-Poly1305, for stanza bodies and payload chunks alike
VERSION_LINE = b"age-encryption.org/v1"
# decrypt_file() bounds the header it reads before it can authenticate anything.
MAX_HEADER_SIZE = 1024 * 1024
_COLUMNS = 64
_MAC_TEXT_SIZE = 43  # spec ABNF: end = "--- " 43base64char LF
_ARGUMENT = re.compile(rb"[\x21-\x7e]+")  # spec ABNF: argument = 1*VCHAR


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


def hkdf(ikm: bytes, salt: bytes, info: bytes) -> bytes:
    """HKDF-SHA-256 with 32 bytes of output, the only length the spec uses."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(ikm)


def b64encode(data: bytes) -> bytes:
    """The spec's base64: standard alphabet, no padding."""
    return base64.b64encode(data).rstrip(b"=")


def b64decode(text: bytes) -> bytes:
    """Strict decoding: the spec says decoders MUST reject padding and non-canonical encodings."""
    if b"=" in text:
        raise TamperedError("padded base64 in the header")
    try:
        data = base64.b64decode(text + b"=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise TamperedError("invalid base64 in the header") from None
    if b64encode(data) != text:  # non-zero trailing bits
        raise TamperedError("non-canonical base64 in the header")
    return data


# --- header --------------------------------------------------------------------------------------


def _encode_stanza(stanza: Stanza) -> bytes:
    words = [stanza.type.encode(), *(arg.encode() for arg in stanza.args)]
    if not all(_ARGUMENT.fullmatch(word) for word in words):
        raise SealingError(f"stanza arguments must be printable ASCII without spaces: {words!r}")
    encoded = b64encode(stanza.body)
    # Spec: body wrapped at 64 columns and ending with a shorter, possibly empty, line.
    lines = [encoded[i : i + _COLUMNS] for i in range(0, len(encoded) + 1, _COLUMNS)]
    return b"-> " + b" ".join(words) + b"\n" + b"".join(line + b"\n" for line in lines)


def header_mac(file_key: bytes, mac_input: bytes) -> bytes:
    """Spec "Header MAC": HMAC-SHA-256 keyed by HKDF(file key, salt empty, info "header")."""
    return hmac.new(hkdf(file_key, b"", b"header"), mac_input, sha256).digest()


def build_header(stanzas: Sequence[Stanza], file_key: bytes) -> bytes:
    mac_input = VERSION_LINE + b"\n" + b"".join(_encode_stanza(s) for s in stanzas) + b"---"
    return mac_input + b" " + b64encode(header_mac(file_key, mac_input)) + b"\n"


@dataclass(frozen=True)
class ParsedHeader:
    stanzas: tuple[Stanza, ...]
    mac: bytes
    mac_input: bytes  # the header up to and including `---`
    length: int  # bytes of the header, including its final newline


def parse_header(data: bytes) -> ParsedHeader:
    """Parse the header at the start of `data` by the spec's ABNF; TamperedError on any deviation."""
    lines = _HeaderLines(data)
    if lines.next() != VERSION_LINE:
        raise TamperedError("not an age v1 header")
    stanzas: list[Stanza] = []
    while True:
        start = lines.position
        line = lines.next()
        if line.startswith(b"-> "):
            stanzas.append(_parse_stanza(line, lines))
        elif line.startswith(b"--- ") and stanzas:
            return ParsedHeader(tuple(stanzas), _parse_mac(line[4:]), data[: start + 3], lines.position)
        else:
            raise TamperedError("malformed header line")


def _parse_stanza(line: bytes, lines: _HeaderLines) -> Stanza:
    words = line[3:].split(b" ")
    if not all(_ARGUMENT.fullmatch(word) for word in words):
        raise TamperedError("malformed stanza arguments")
    body = bytearray()
    while True:
        body_line = lines.next()
        if len(body_line) > _COLUMNS:
            raise TamperedError("over-long stanza body line")
        body += body_line
        if len(body_line) < _COLUMNS:
            break
    args = tuple(word.decode("ascii") for word in words)
    return Stanza(args[0], args[1:], b64decode(bytes(body)))


def _parse_mac(text: bytes) -> bytes:
    if len(text) != _MAC_TEXT_SIZE:
        raise TamperedError("the header MAC has the wrong length")
    return b64decode(text)


class _HeaderLines:
    """LF-terminated lines of the header; running out of them means it was truncated."""

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
    """The file key, from the first stanza an identity unwraps, once the header MAC checks out.

    Identities are tried in the caller's order, so local ones can be preferred over remote ones.
    """
    parsed = parse_header(header)
    if parsed.length != len(header):
        raise TamperedError("trailing bytes after the header")
    for identity in identities:
        for stanza in parsed.stanzas:
            file_key = identity.unwrap(stanza, recording_id=recording_id)
            if file_key is None:
                continue
            if len(file_key) != FILE_KEY_SIZE:
                raise TamperedError("a stanza holds no age file key")
            if not hmac.compare_digest(header_mac(file_key, parsed.mac_input), parsed.mac):
                raise TamperedError("the header MAC does not match")
            return file_key
    raise NoIdentityError("no identity matches a recipient of this recording")


def split_age_file(data: bytes) -> tuple[bytes, bytes]:
    """(header, payload) of an in-memory age file; the header includes its `--- mac` line."""
    length = parse_header(data).length
    return data[:length], data[length:]
