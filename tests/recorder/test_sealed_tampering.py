"""Tampering with a sealed recording (a flipped bit, a cut or extended payload, swapped chunks,
another recording's header, a stranger's identity) is detected before any of the bad chunk is
released."""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator

import pytest

from recorder.keys import X25519Identity
from recorder.sealing import (
    CHUNK_SIZE,
    PAYLOAD_NONCE_SIZE,
    TAG_SIZE,
    NoIdentityError,
    PayloadReader,
    TamperedError,
    decrypt_file,
    unwrap_file_key,
)
from tests.factories import IDENTITY, RECORDING, SEALED, chunk_at, flip, reader, seal


def assert_refused_without_bad_plaintext(
    header: bytes,
    payload: bytes,
    data: bytes,
    bad_chunk: int,
    error: type[Exception] | tuple[type[Exception], ...] = TamperedError,
) -> None:
    """Both readers raise; whatever was yielded first is an intact prefix ending before `bad_chunk`."""
    streams: list[Callable[[], Iterator[bytes]]] = [
        lambda: reader(header, payload).iter_all(),
        lambda: decrypt_file(io.BytesIO(header + payload), [IDENTITY], recording_id=RECORDING),
    ]
    for stream in streams:
        received = bytearray()
        with pytest.raises(error):
            for piece in stream():
                received += piece
        assert len(received) <= bad_chunk * CHUNK_SIZE
        assert received == data[: len(received)]


@pytest.mark.parametrize("chunk", [0, 1, 2, 3])
@pytest.mark.parametrize("where", ["start", "middle", "tag"])
def test_a_flipped_bit_in_any_chunk_is_detected(sealed, chunk: int, where: str) -> None:
    data, header, payload = sealed
    end = min(chunk_at(chunk + 1), len(payload))
    position = {"start": chunk_at(chunk), "middle": (chunk_at(chunk) + end) // 2, "tag": end - 1}[where]
    assert_refused_without_bad_plaintext(header, flip(payload, position), data, bad_chunk=chunk)


def test_a_flipped_bit_in_the_payload_nonce_is_detected(sealed) -> None:
    data, header, payload = sealed
    assert_refused_without_bad_plaintext(header, flip(payload, 5), data, bad_chunk=0)


def test_a_bad_chunk_is_refused_while_the_chunks_before_it_stream(sealed) -> None:
    data, header, payload = sealed
    received = []
    with pytest.raises(TamperedError):
        for piece in reader(header, flip(payload, chunk_at(2) + 7)).iter_all():
            received.append(piece)
    assert received == [data[:CHUNK_SIZE], data[CHUNK_SIZE : 2 * CHUNK_SIZE]]


def test_a_seek_into_a_bad_chunk_yields_nothing(sealed) -> None:
    data, header, payload = sealed
    opened = reader(header, flip(payload, chunk_at(1) + 3))
    assert b"".join(opened.iter_range(0, 100)) == data[:100]
    with pytest.raises(TamperedError):
        next(opened.iter_range(CHUNK_SIZE + 10, CHUNK_SIZE + 20))


@pytest.mark.parametrize(
    ("cut", "bad_chunk"),
    [
        (lambda p: p[:-1], 3),  # cut inside the last chunk
        (lambda p: p[: chunk_at(3)], 2),  # the last chunk lost whole: chunk 2 is not a last chunk
        (lambda p: p[: chunk_at(2) + 100], 2),  # cut inside a middle chunk
        (lambda p: p[: chunk_at(1)], 0),  # only the first chunk left
        (lambda p: p[:PAYLOAD_NONCE_SIZE], 0),  # only the nonce left
        (lambda p: p[:9], 0),  # cut inside the nonce
        (lambda p: p + b"\x00", 3),  # one appended byte
        (lambda p: p + bytes(TAG_SIZE), 3),  # an appended empty "chunk"
        (lambda p: p + p[chunk_at(3) :], 3),  # the last chunk repeated
        (lambda p: p + os.urandom(SEALED), 3),  # an appended full chunk
    ],
)
def test_truncated_or_extended_payloads_are_detected(sealed, cut, bad_chunk: int) -> None:  # type: ignore[no-untyped-def]
    data, header, payload = sealed
    assert_refused_without_bad_plaintext(header, cut(payload), data, bad_chunk=bad_chunk)


def test_a_store_returning_fewer_bytes_than_recorded_is_detected(sealed) -> None:
    data, header, payload = sealed
    key = unwrap_file_key(header, [IDENTITY], recording_id=RECORDING)
    short = payload[:-100]
    opened = PayloadReader(key, payload_size=len(payload), read_payload=lambda o, n: short[o : o + n])
    with pytest.raises(TamperedError):
        b"".join(opened.iter_range(len(data) - 10, len(data)))


def test_swapped_chunks_are_detected(sealed) -> None:
    data, header, payload = sealed
    swapped = bytearray(payload)
    swapped[chunk_at(1) : chunk_at(2)] = payload[chunk_at(2) : chunk_at(3)]
    swapped[chunk_at(2) : chunk_at(3)] = payload[chunk_at(1) : chunk_at(2)]
    assert_refused_without_bad_plaintext(header, bytes(swapped), data, bad_chunk=1)


def test_a_header_from_another_recording_does_not_open_this_payload(sealed) -> None:
    data, _, payload = sealed
    other_header, _ = seal(b"other recording")
    assert_refused_without_bad_plaintext(other_header, payload, data, bad_chunk=0)


EITHER = (TamperedError, NoIdentityError)


@pytest.mark.parametrize(
    ("where", "error"),
    [
        ("version line", TamperedError),
        # A stanza no longer of type X25519, or whose share or body changed, unwraps to nothing:
        # no identity can tell that from a stanza for someone else (NoIdentityError), unless the
        # flip made the line malformed (TamperedError).
        ("stanza type", EITHER),
        ("ephemeral share", EITHER),
        ("stanza body", EITHER),
        ("header MAC", TamperedError),
    ],
)
def test_a_flipped_bit_in_the_header_is_detected(sealed, where: str, error) -> None:  # type: ignore[no-untyped-def]
    data, header, payload = sealed
    version, arguments, _ = header.split(b"\n", 2)
    position = {
        "version line": 3,
        "stanza type": len(version) + 5,
        "ephemeral share": len(version) + 15,
        "stanza body": len(version) + len(arguments) + 10,
        "header MAC": len(header) - 10,
    }[where]
    for bit in range(8):
        changed = flip(header, position, bit)
        assert_refused_without_bad_plaintext(changed, payload, data, bad_chunk=0, error=error)


def test_a_stranger_identity_cannot_open_it(sealed) -> None:
    _, header, payload = sealed
    with pytest.raises(NoIdentityError):
        unwrap_file_key(header, [X25519Identity.generate()], recording_id=RECORDING)
    with pytest.raises(NoIdentityError):
        unwrap_file_key(header, [], recording_id=RECORDING)
    with pytest.raises(NoIdentityError):
        b"".join(decrypt_file(io.BytesIO(header + payload), [X25519Identity.generate()]))


def test_any_of_several_identities_opens_it(sealed) -> None:
    _, header, _ = sealed
    key = unwrap_file_key(header, [X25519Identity.generate(), IDENTITY], recording_id=RECORDING)
    assert len(key) == 16
