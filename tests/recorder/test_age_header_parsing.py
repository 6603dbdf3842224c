"""The strict age v1 header parser: stanza bodies wrapped as the spec writes them, any
non-canonical header refused even with a valid MAC, malformed MAC lines, stanzas that cannot be
written (age-encryption.org/v1, "Header")."""

from __future__ import annotations

import io
import itertools
import os
from collections.abc import Callable

import pytest

from recorder.sealing import (
    Sealer,
    SealingError,
    Stanza,
    TamperedError,
    b64encode,
    decrypt_file,
    header_mac,
    unwrap_file_key,
)
from tests.factories import IDENTITY, RECORDING


class StanzaRecipient:
    """A recipient that writes a given stanza, e.g. of a type no identity here knows."""

    def __init__(self, stanza: Stanza) -> None:
        self.stanza = stanza

    def wrap(self, file_key: bytes, *, recording_id: str) -> Stanza:
        return self.stanza


def seal_with_opaque_stanza(body: bytes) -> tuple[bytes, bytes, bytes]:
    """(header, payload, file key) of a file with an opaque stanza followed by an X25519 one."""
    opaque = StanzaRecipient(Stanza("example.com/opaque", ("x",), body))
    sealer = Sealer([opaque, IDENTITY.recipient()], recording_id=RECORDING)
    payload = sealer.update(b"evidence") + sealer.finalize()
    return sealer.header, payload, unwrap_file_key(sealer.header, [IDENTITY], recording_id=RECORDING)


def remac(header: bytes, file_key: bytes) -> bytes:
    """Recompute the MAC of an edited header, as only a holder of the file key could."""
    mac_input = header[: header.rindex(b"\n---") + 4]
    return mac_input + b" " + b64encode(header_mac(file_key, mac_input)) + b"\n"


@pytest.mark.parametrize("length", [0, 1, 47, 48, 49, 96, 100])
def test_stanza_bodies_wrap_at_64_columns_with_a_shorter_final_line(length: int) -> None:
    body = os.urandom(length)
    header, payload, _ = seal_with_opaque_stanza(body)
    lines = header.split(b"\n")
    at = lines.index(b"-> example.com/opaque x") + 1
    body_lines = list(itertools.takewhile(lambda line: len(line) == 64, lines[at:]))
    final = lines[at + len(body_lines)]
    assert len(final) < 64
    assert len(final) == 0 if length % 48 == 0 else len(final) > 0
    # the X25519 identity ignores the unknown stanza and opens the file
    assert b"".join(decrypt_file(io.BytesIO(header + payload), [IDENTITY])) == b"evidence"


BASE64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def with_spare_bits_set(text: bytes) -> bytes:
    """The same bytes in non-canonical base64. For 32 bytes (43 characters) the last character
    carries two unused low bits, zero when canonical: the next letter of the alphabet sets one."""
    return text[:-1] + BASE64[BASE64.index(text[-1:]) + 1 :][:1]


def edit_lines(first: int, last: int, new: Callable[[list[bytes]], list[bytes]]) -> Callable[[bytes], bytes]:
    """An edit replacing header lines first..last by new(those lines). The header under test reads:
    0 version, 1 `-> example.com/opaque x`, 2-3 full body lines, 4 empty final line,
    5 `-> X25519 <share>`, 6 its 43-character body, 7 `--- <mac>`."""

    def apply(header: bytes) -> bytes:
        lines = header.split(b"\n")
        lines[first : last + 1] = new(lines[first : last + 1])
        return b"\n".join(lines)

    return apply


HEADER_EDITS: dict[str, Callable[[bytes], bytes]] = {
    "padding on the body": edit_lines(6, 6, lambda ls: [ls[0] + b"="]),
    "padding as a final line": edit_lines(4, 4, lambda ls: [b"=="]),
    "a body line of 65 columns": edit_lines(2, 3, lambda ls: [ls[0] + ls[1][:1], ls[1][1:]]),
    "wrapped at 48 columns": edit_lines(2, 4, lambda ls: [b"".join(ls)[i : i + 48] for i in (0, 48, 96)]),
    "no empty line after a full one": edit_lines(4, 4, lambda ls: []),
    "non-canonical trailing bits": edit_lines(6, 6, lambda ls: [with_spare_bits_set(ls[0])]),
    "CRLF line endings": lambda h: h.replace(b"\n", b"\r\n"),
    "an empty argument": lambda h: h.replace(b"-> X25519 ", b"-> X25519  ", 1),
    "a space after the arrow": lambda h: h.replace(b"-> X25519 ", b"->  X25519 ", 1),
    "a tab in an argument": lambda h: h.replace(b"opaque x", b"opaque\tx", 1),
    "a stanza without arguments": edit_lines(1, 1, lambda ls: [b"-> "]),
    "another version": lambda h: h.replace(b"/v1\n", b"/v2\n", 1),
    "a line of another kind": edit_lines(5, 5, lambda ls: [b"# comment", *ls]),
}


@pytest.mark.parametrize("edit", HEADER_EDITS, ids=list(HEADER_EDITS))
def test_a_non_canonical_header_is_refused_even_with_a_valid_mac(edit: str) -> None:
    # A 96-byte opaque body: two full base64 lines and an empty final line, so every rule is in play.
    header, payload, file_key = seal_with_opaque_stanza(os.urandom(96))
    assert len(header.split(b"\n")) == 9
    edited = HEADER_EDITS[edit](header)
    assert edited != header
    with pytest.raises(TamperedError):
        unwrap_file_key(remac(edited, file_key), [IDENTITY], recording_id=RECORDING)
    with pytest.raises(TamperedError):
        b"".join(decrypt_file(io.BytesIO(remac(edited, file_key) + payload), [IDENTITY]))


@pytest.mark.parametrize(
    "footer",
    [
        lambda mac: b"---\n",
        lambda mac: b"---  " + mac + b"\n",
        lambda mac: b"--- " + mac[:-1] + b"\n",
        lambda mac: b"--- " + mac + b"=\n",
        lambda mac: b"--- " + mac + b"A\n",
        lambda mac: b"--- " + with_spare_bits_set(mac) + b"\n",  # decodes to the very same MAC
        lambda mac: b"--- " + mac + b"\r\n",
    ],
)
def test_a_malformed_mac_line_is_refused(sealed, footer: Callable[[bytes], bytes]) -> None:
    _, header, _ = sealed
    mac = header[header.rindex(b"--- ") + 4 : -1]
    assert len(mac) == 43
    changed = header[: header.rindex(b"---")] + footer(mac)
    with pytest.raises(TamperedError):
        unwrap_file_key(changed, [IDENTITY], recording_id=RECORDING)


def test_a_header_without_stanzas_or_with_trailing_bytes_is_refused(sealed) -> None:
    _, header, _ = sealed
    with pytest.raises(TamperedError):
        no_stanzas = b"age-encryption.org/v1\n" + header[header.rindex(b"---") :]
        unwrap_file_key(no_stanzas, [IDENTITY], recording_id=RECORDING)
    with pytest.raises(TamperedError):
        unwrap_file_key(header + b"x", [IDENTITY], recording_id=RECORDING)
    with pytest.raises(TamperedError):
        unwrap_file_key(header[:-1], [IDENTITY], recording_id=RECORDING)


def test_a_valid_remac_is_accepted(sealed) -> None:
    """The edits above fail for what they change, not because `remac` is wrong."""
    header, _, file_key = seal_with_opaque_stanza(os.urandom(96))
    assert remac(header, file_key) == header


@pytest.mark.parametrize(
    "stanza",
    [
        Stanza("t", ("two words",), b""),
        Stanza("", (), b""),
        Stanza("t", ("",), b""),
        Stanza("t", ("é",), b""),
    ],
)
def test_a_stanza_that_cannot_be_written_is_refused_when_sealing(stanza: Stanza) -> None:
    with pytest.raises(SealingError):
        Sealer([StanzaRecipient(stanza)], recording_id=RECORDING)
