"""The age v1 sealer's round trips: any size fed in any pieces opens to the same bytes, the
payload's layout (nonce, chunks, the held-back last byte) and its sizes both ways.

Seeking is tests/recorder/test_sealed_seeking.py's, tampering test_sealed_tampering.py's, the
strict header parser test_age_header_parsing.py's, properties test_sealing_properties.py's.
"""

from __future__ import annotations

import io
import os
import random

import pytest

from recorder.sealing import (
    CHUNK_SIZE,
    PAYLOAD_NONCE_SIZE,
    TAG_SIZE,
    Sealer,
    SealingError,
    TamperedError,
    decrypt_file,
    payload_size_for,
    plaintext_size_for,
    split_age_file,
)
from tests.factories import IDENTITY, RECORDING, SEALED, open_all, seal

SIZES = [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE]
PIECES = [1, 7, 100 * 1024]

# Byte-by-byte feeding stops at 64 KiB + 1: larger sizes add nothing but time.
FEEDS = [(size, piece) for size in SIZES for piece in PIECES if piece > 1 or size <= CHUNK_SIZE + 1]


@pytest.mark.parametrize(("size", "piece"), FEEDS)
def test_round_trip_for_any_size_and_feeding(size: int, piece: int) -> None:
    data = os.urandom(size)
    header, payload = seal(data, piece)
    assert len(payload) == payload_size_for(size)
    assert plaintext_size_for(len(payload)) == size
    assert open_all(header, payload) == data
    assert b"".join(decrypt_file(io.BytesIO(header + payload), [IDENTITY])) == data


@pytest.mark.parametrize("size", SIZES)
def test_ciphertext_does_not_depend_on_how_the_bytes_are_fed(
    size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Same file key and payload nonce for every sealer (the entropy source is the only thing
    # replaced), so the payloads must be byte for byte the same however the input was cut.
    fixed = random.Random(size)
    data = os.urandom(size)
    payloads = set()
    for piece in PIECES if size <= CHUNK_SIZE + 1 else PIECES[1:]:
        fixed.seed(size)
        monkeypatch.setattr(os, "urandom", fixed.randbytes)
        payloads.add(seal(data, piece)[1])
    assert len(payloads) == 1


def test_the_payload_starts_with_the_nonce_and_the_last_input_byte_is_held_back() -> None:
    sealer = Sealer([IDENTITY.recipient()], recording_id=RECORDING)
    assert sealer.header.startswith(b"age-encryption.org/v1\n-> X25519 ")
    assert sealer.update(b"") == b""
    assert sealer.update(os.urandom(CHUNK_SIZE)) == b""  # maybe the last chunk: kept back
    first = sealer.update(memoryview(bytearray(1)))
    assert len(first) == PAYLOAD_NONCE_SIZE + SEALED
    last = sealer.finalize()
    assert len(last) == 1 + TAG_SIZE
    assert (sealer.plaintext_size, sealer.payload_size) == (CHUNK_SIZE + 1, len(first) + len(last))


def test_an_empty_recording_is_a_nonce_and_one_empty_chunk() -> None:
    sealer = Sealer([IDENTITY.recipient()], recording_id=RECORDING)
    payload = sealer.finalize()
    assert len(payload) == PAYLOAD_NONCE_SIZE + TAG_SIZE == payload_size_for(0)
    assert open_all(sealer.header, payload) == b""


def test_a_finalized_sealer_takes_no_more_input() -> None:
    sealer = Sealer([IDENTITY.recipient()], recording_id=RECORDING)
    sealer.finalize()
    with pytest.raises(SealingError):
        sealer.update(b"late")
    with pytest.raises(SealingError):
        sealer.finalize()


def test_a_sealer_needs_a_recipient() -> None:
    with pytest.raises(SealingError):
        Sealer([], recording_id=RECORDING)


def test_payload_sizes_map_both_ways() -> None:
    for size in [0, 1, 2, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 5 * CHUNK_SIZE, 5 * CHUNK_SIZE + 9]:
        assert plaintext_size_for(payload_size_for(size)) == size
    assert payload_size_for(CHUNK_SIZE) == PAYLOAD_NONCE_SIZE + SEALED
    assert payload_size_for(CHUNK_SIZE + 1) == PAYLOAD_NONCE_SIZE + SEALED + 1 + TAG_SIZE


@pytest.mark.parametrize(
    "payload_size",
    [-1, 0, PAYLOAD_NONCE_SIZE, PAYLOAD_NONCE_SIZE + TAG_SIZE - 1]
    # a last chunk with no plaintext after a full one
    + [PAYLOAD_NONCE_SIZE + SEALED + extra for extra in (1, TAG_SIZE - 1, TAG_SIZE)],
)
def test_sizes_no_plaintext_produces_are_refused(payload_size: int) -> None:
    with pytest.raises(TamperedError):
        plaintext_size_for(payload_size)


def test_split_age_file_returns_header_and_payload(sealed) -> None:
    _, header, payload = sealed
    assert split_age_file(header + payload) == (header, payload)
    assert split_age_file(header) == (header, b"")


def test_decrypt_file_copes_with_short_reads(sealed) -> None:
    data, header, payload = sealed

    class Trickle(io.RawIOBase):
        """A pipe-like stream: every read returns at most 1000 bytes."""

        def __init__(self, content: bytes) -> None:
            self.content = io.BytesIO(content)

        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
            piece = self.content.read(min(len(buffer), 1000))
            buffer[: len(piece)] = piece
            return len(piece)

    assert b"".join(decrypt_file(Trickle(header + payload), [IDENTITY])) == data  # type: ignore[arg-type]
