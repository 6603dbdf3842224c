"""Properties of the age v1 reader and writer that tests/recorder/test_sealing.py does not already
draw: every plaintext size at and around the 64 KiB chunk boundaries, fed in any pieces, round
trips; an age file cut short or extended anywhere (header or payload) is refused, never opened.

(Round trips of arbitrary bytes and single-bit flips anywhere are test_sealing.py's properties.)
"""

from __future__ import annotations

import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recorder.keys import X25519Identity
from recorder.sealing import (
    CHUNK_SIZE,
    PayloadReader,
    Sealer,
    SealingError,
    decrypt_file,
    payload_size_for,
    unwrap_file_key,
)

IDENTITY = X25519Identity.generate()
RECORDING = "8d7c2f9e-0000-4000-8000-000000000002"
BOUNDARIES = [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 2 * CHUNK_SIZE - 1, 2 * CHUNK_SIZE]
BOUNDARIES += [2 * CHUNK_SIZE + 1]
sizes = st.sampled_from(BOUNDARIES) | st.integers(min_value=0, max_value=2 * CHUNK_SIZE + 1)
PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def plaintext(size: int, seed: int) -> bytes:
    """Distinct bytes per offset and per example; cheaper than drawing 128 KiB from hypothesis."""
    pattern = b"".join((seed + i).to_bytes(4, "big") for i in range(size // 4 + 1))
    return pattern[:size]


def seal(data: bytes, piece: int) -> tuple[bytes, bytes]:
    sealer = Sealer([IDENTITY.recipient()], recording_id=RECORDING)
    payload = b"".join(sealer.update(data[i : i + piece]) for i in range(0, len(data), piece))
    return sealer.header, payload + sealer.finalize()


def open_payload(header: bytes, payload: bytes) -> bytes:
    key = unwrap_file_key(header, [IDENTITY], recording_id=RECORDING)
    reader = PayloadReader(key, payload_size=len(payload), read_payload=lambda o, n: payload[o : o + n])
    return b"".join(reader.iter_all())


def open_file(whole: bytes) -> bytes:
    return b"".join(decrypt_file(io.BytesIO(whole), [IDENTITY], recording_id=RECORDING))


@PROPERTY
@given(size=sizes, piece=st.integers(min_value=1, max_value=3 * CHUNK_SIZE), seed=st.integers(0, 2**20))
def test_property_every_size_round_trips_whatever_the_pieces(size: int, piece: int, seed: int) -> None:
    data = plaintext(size, seed)
    header, payload = seal(data, max(piece, size // 64 or 1))  # at most 64 pieces: bounded time
    assert len(payload) == payload_size_for(size)
    assert open_payload(header, payload) == data
    assert open_file(header + payload) == data


@PROPERTY
@given(size=sizes, seed=st.integers(0, 2**20), data=st.data())
def test_property_a_file_cut_short_anywhere_is_refused(size: int, seed: int, data: st.DataObject) -> None:
    header, payload = seal(plaintext(size, seed), 100_000)
    whole = header + payload
    # Half the draws cut inside the header, half inside the payload (where chunk ends matter).
    cut = data.draw(st.integers(0, len(header) - 1) | st.integers(len(header), len(whole) - 1))
    with pytest.raises(SealingError):
        open_file(whole[:cut])
    if cut >= len(header):
        with pytest.raises(SealingError):
            open_payload(header, payload[: cut - len(header)])


@PROPERTY
@given(size=sizes, seed=st.integers(0, 2**20), extra=st.binary(min_size=1, max_size=CHUNK_SIZE + 40))
def test_property_a_file_with_anything_appended_is_refused(size: int, seed: int, extra: bytes) -> None:
    header, payload = seal(plaintext(size, seed), 100_000)
    with pytest.raises(SealingError):
        open_file(header + payload + extra)
    with pytest.raises(SealingError):
        open_payload(header, payload + extra)
