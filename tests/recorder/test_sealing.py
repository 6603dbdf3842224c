"""The age v1 sealer and reader: round trips, seeking, and every kind of tampering detected."""

from __future__ import annotations

import io
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recorder.keys import X25519Identity
from recorder.sealing import (
    CHUNK_SIZE,
    PAYLOAD_NONCE_SIZE,
    SEALED_CHUNK_SIZE,
    NoIdentityError,
    PayloadReader,
    Sealer,
    TamperedError,
    decrypt_file,
    payload_size_for,
    plaintext_size_for,
    split_age_file,
    unwrap_file_key,
)

IDENTITY = X25519Identity.generate()
RECORDING = "8d7c2f9e-0000-4000-8000-000000000001"


def seal(data: bytes, piece: int = 100_000, recording_id: str = RECORDING) -> tuple[bytes, bytes]:
    sealer = Sealer([IDENTITY.recipient()], recording_id=recording_id)
    payload = b"".join(sealer.update(data[i : i + piece]) for i in range(0, len(data), piece))
    payload += sealer.finalize()
    assert sealer.plaintext_size == len(data) and sealer.payload_size == len(payload)
    return sealer.header, payload


def reader(header: bytes, payload: bytes, reads: list[tuple[int, int]] | None = None) -> PayloadReader:
    def read(offset: int, length: int) -> bytes:
        if reads is not None:
            reads.append((offset, length))
        return payload[offset : offset + length]

    key = unwrap_file_key(header, [IDENTITY], recording_id=RECORDING)
    return PayloadReader(key, payload_size=len(payload), read_payload=read)


def open_all(header: bytes, payload: bytes) -> bytes:
    return b"".join(reader(header, payload).iter_all())


SIZES = [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE]


# Byte-by-byte feeding stops at 64 KiB + 1: larger sizes add nothing but time.
FEEDS = [
    (size, piece) for size in SIZES for piece in (1, 7, 100 * 1024) if piece > 1 or size <= CHUNK_SIZE + 1
]


@pytest.mark.parametrize(("size", "piece"), FEEDS)
def test_round_trip_does_not_depend_on_how_the_bytes_are_fed(size: int, piece: int) -> None:
    data = os.urandom(size)
    header, payload = seal(data, piece)
    assert len(payload) == payload_size_for(size)
    assert plaintext_size_for(len(payload)) == size
    assert open_all(header, payload) == data
    assert b"".join(decrypt_file(io.BytesIO(header + payload), [IDENTITY])) == data


def test_any_range_reads_exactly_those_bytes() -> None:
    data = os.urandom(5 * CHUNK_SIZE + 77)
    opened = reader(*seal(data))
    points = [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 4 * CHUNK_SIZE, len(data) - 1, len(data)]
    for start in points:
        for end in [*points, len(data) + 1000]:
            assert b"".join(opened.iter_range(start, end)) == data[start:end]


def test_seeking_into_a_large_payload_reads_one_chunk() -> None:
    data = os.urandom(10 * 1024 * 1024)
    reads: list[tuple[int, int]] = []
    opened = reader(*seal(data), reads=reads)
    middle = 5 * 1024 * 1024 + 123
    assert b"".join(opened.iter_range(middle, middle + 10)) == data[middle : middle + 10]
    chunk = middle // CHUNK_SIZE
    assert reads == [
        (0, PAYLOAD_NONCE_SIZE),
        (PAYLOAD_NONCE_SIZE + chunk * SEALED_CHUNK_SIZE, SEALED_CHUNK_SIZE),
    ]


def test_a_long_range_is_fetched_in_a_few_large_reads() -> None:
    data = os.urandom(40 * CHUNK_SIZE)
    reads: list[tuple[int, int]] = []
    assert b"".join(reader(*seal(data), reads=reads).iter_range(0, len(data))) == data
    assert len(reads) == 1 + 3  # the nonce, then 16 + 16 + 8 chunks


def flip(data: bytes, position: int) -> bytes:
    changed = bytearray(data)
    changed[position] ^= 0x01
    return bytes(changed)


@pytest.fixture(scope="module")
def sealed() -> tuple[bytes, bytes, bytes]:
    data = os.urandom(3 * CHUNK_SIZE + 500)
    return (data, *seal(data))


@pytest.mark.parametrize(
    "where",
    ["nonce", "first chunk", "last chunk", "tag of chunk 1"],
)
def test_a_flipped_payload_bit_is_detected(sealed, where: str) -> None:
    _, header, payload = sealed
    position = {
        "nonce": 3,
        "first chunk": PAYLOAD_NONCE_SIZE + 10,
        "last chunk": len(payload) - 20,
        "tag of chunk 1": PAYLOAD_NONCE_SIZE + 2 * SEALED_CHUNK_SIZE - 1,
    }[where]
    with pytest.raises(TamperedError):
        open_all(header, flip(payload, position))


def test_bytes_of_a_bad_chunk_are_never_yielded(sealed) -> None:
    data, header, payload = sealed
    received = []
    with pytest.raises(TamperedError):
        for piece in reader(header, flip(payload, PAYLOAD_NONCE_SIZE + SEALED_CHUNK_SIZE + 5)).iter_all():
            received.append(piece)
    assert b"".join(received) == data[:CHUNK_SIZE]  # the intact first chunk only


@pytest.mark.parametrize("position", [30, -10, -50])
def test_a_flipped_header_bit_is_detected(sealed, position: int) -> None:
    _, header, payload = sealed
    with pytest.raises((TamperedError, NoIdentityError)):
        open_all(flip(header, position % len(header)), payload)


@pytest.mark.parametrize(
    "cut",
    [
        lambda p: p[:-1],  # cut inside the last chunk
        lambda p: p[: PAYLOAD_NONCE_SIZE + 3 * SEALED_CHUNK_SIZE],  # the last chunk lost whole
        lambda p: p[: PAYLOAD_NONCE_SIZE + SEALED_CHUNK_SIZE],  # only the first chunk left
        lambda p: p + b"\x00",  # appended data
        lambda p: p + os.urandom(SEALED_CHUNK_SIZE),  # an appended chunk
    ],
)
def test_truncated_or_extended_payloads_are_detected(sealed, cut) -> None:  # type: ignore[no-untyped-def]
    _, header, payload = sealed
    changed = cut(payload)
    with pytest.raises(TamperedError):
        open_all(header, changed)
    with pytest.raises(TamperedError):
        b"".join(decrypt_file(io.BytesIO(header + changed), [IDENTITY]))


def test_swapped_chunks_are_detected(sealed) -> None:
    _, header, payload = sealed
    first = slice(PAYLOAD_NONCE_SIZE, PAYLOAD_NONCE_SIZE + SEALED_CHUNK_SIZE)
    second = slice(PAYLOAD_NONCE_SIZE + SEALED_CHUNK_SIZE, PAYLOAD_NONCE_SIZE + 2 * SEALED_CHUNK_SIZE)
    swapped = bytearray(payload)
    swapped[first], swapped[second] = payload[second], payload[first]
    with pytest.raises(TamperedError):
        open_all(header, bytes(swapped))


def test_a_header_from_another_recording_does_not_open_this_payload(sealed) -> None:
    _, _, payload = sealed
    other_header, _ = seal(b"other recording")
    with pytest.raises(TamperedError):
        open_all(other_header, payload)


def test_a_stranger_identity_cannot_open_it(sealed) -> None:
    _, header, _ = sealed
    with pytest.raises(NoIdentityError):
        unwrap_file_key(header, [X25519Identity.generate()], recording_id=RECORDING)


def test_split_age_file_returns_header_and_payload(sealed) -> None:
    _, header, payload = sealed
    assert split_age_file(header + payload) == (header, payload)


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=200_000), st.integers(min_value=1, max_value=70_000))
def test_property_any_bytes_round_trip(data: bytes, piece: int) -> None:
    assert open_all(*seal(data, piece)) == data


@settings(max_examples=120, deadline=None)
@given(st.data())
def test_property_any_single_bit_flip_is_detected(data: st.DataObject) -> None:
    plaintext = data.draw(st.binary(min_size=0, max_size=3 * CHUNK_SIZE))
    header, payload = seal(plaintext)
    whole = header + payload
    position = data.draw(st.integers(min_value=0, max_value=len(whole) - 1))
    bit = data.draw(st.integers(min_value=0, max_value=7))
    changed = bytearray(whole)
    changed[position] ^= 1 << bit
    with pytest.raises((TamperedError, NoIdentityError)):
        b"".join(decrypt_file(io.BytesIO(bytes(changed)), [IDENTITY]))
