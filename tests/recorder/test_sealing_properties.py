"""Properties of the age v1 reader and writer, drawn by hypothesis: any bytes round trip; every
plaintext size at and around the 64 KiB chunk boundaries, fed in any pieces, round trips; a single
bit flipped anywhere is detected; an age file cut short or extended anywhere (header or payload)
is refused, never opened.
"""

from __future__ import annotations

import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recorder.sealing import (
    CHUNK_SIZE,
    NoIdentityError,
    SealingError,
    TamperedError,
    decrypt_file,
    payload_size_for,
)
from tests.factories import IDENTITY, RECORDING, counter_bytes, flip, open_all, seal

BOUNDARIES = [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 2 * CHUNK_SIZE - 1, 2 * CHUNK_SIZE]
BOUNDARIES += [2 * CHUNK_SIZE + 1]
sizes = st.sampled_from(BOUNDARIES) | st.integers(min_value=0, max_value=2 * CHUNK_SIZE + 1)
PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def open_file(whole: bytes) -> bytes:
    return b"".join(decrypt_file(io.BytesIO(whole), [IDENTITY], recording_id=RECORDING))


@PROPERTY
@given(size=sizes, piece=st.integers(min_value=1, max_value=3 * CHUNK_SIZE), seed=st.integers(0, 2**20))
def test_property_every_size_round_trips_whatever_the_pieces(size: int, piece: int, seed: int) -> None:
    data = counter_bytes(size, seed)
    header, payload = seal(data, max(piece, size // 64 or 1))  # at most 64 pieces: bounded time
    assert len(payload) == payload_size_for(size)
    assert open_all(header, payload) == data
    assert open_file(header + payload) == data


@PROPERTY
@given(size=sizes, seed=st.integers(0, 2**20), data=st.data())
def test_property_a_file_cut_short_anywhere_is_refused(size: int, seed: int, data: st.DataObject) -> None:
    header, payload = seal(counter_bytes(size, seed), 100_000)
    whole = header + payload
    # Half the draws cut inside the header, half inside the payload (where chunk ends matter).
    cut = data.draw(st.integers(0, len(header) - 1) | st.integers(len(header), len(whole) - 1))
    with pytest.raises(SealingError):
        open_file(whole[:cut])
    if cut >= len(header):
        with pytest.raises(SealingError):
            open_all(header, payload[: cut - len(header)])


@PROPERTY
@given(size=sizes, seed=st.integers(0, 2**20), extra=st.binary(min_size=1, max_size=CHUNK_SIZE + 40))
def test_property_a_file_with_anything_appended_is_refused(size: int, seed: int, extra: bytes) -> None:
    header, payload = seal(counter_bytes(size, seed), 100_000)
    with pytest.raises(SealingError):
        open_file(header + payload + extra)
    with pytest.raises(SealingError):
        open_all(header, payload + extra)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200_000), st.integers(min_value=1, max_value=70_000))
def test_property_any_bytes_round_trip(data: bytes, piece: int) -> None:
    header, payload = seal(data, piece)
    assert open_all(header, payload) == data
    assert b"".join(decrypt_file(io.BytesIO(header + payload), [IDENTITY])) == data


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_property_any_single_bit_flip_is_detected(data: st.DataObject) -> None:
    plaintext = data.draw(st.binary(max_size=2 * CHUNK_SIZE + 100))
    header, payload = seal(plaintext)
    whole = header + payload
    changed = flip(whole, data.draw(st.integers(0, len(whole) - 1)), data.draw(st.integers(0, 7)))
    with pytest.raises((TamperedError, NoIdentityError)):
        b"".join(decrypt_file(io.BytesIO(changed), [IDENTITY], recording_id=RECORDING))
    with pytest.raises((TamperedError, NoIdentityError)):
        new_header, new_payload = changed[: len(header)], changed[len(header) :]
        open_all(new_header, new_payload)
