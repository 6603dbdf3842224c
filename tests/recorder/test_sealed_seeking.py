"""Seeking in a sealed payload: a range of plaintext reads exactly those bytes, fetching only the
chunks that cover it (age v1 STREAM: chunk i starts at a computable offset), and nothing more."""

from __future__ import annotations

import itertools
import os
import random

from recorder.sealing import (
    CHUNK_SIZE,
    PAYLOAD_NONCE_SIZE,
    PayloadReader,
    unwrap_file_key,
)
from tests.factories import IDENTITY, RECORDING, SEALED, chunk_at, reader, seal


class CountingPayload:
    """A payload in memory that records every read the reader makes, as a store would see them."""

    def __init__(self, payload: bytes) -> None:
        self.payload = payload
        self.reads: list[tuple[int, int]] = []

    def read(self, offset: int, length: int) -> bytes:
        self.reads.append((offset, length))
        return self.payload[offset : offset + length]


def test_any_range_reads_exactly_those_bytes() -> None:
    data = os.urandom(5 * CHUNK_SIZE + 77)
    opened = reader(*seal(data))
    points = [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 2 * CHUNK_SIZE, 4 * CHUNK_SIZE + 3]
    points += [len(data) - 1, len(data), len(data) + 1, len(data) + 10 * CHUNK_SIZE]
    for start, end in itertools.product(points, repeat=2):
        assert b"".join(opened.iter_range(start, end)) == data[start:end], (start, end)
    assert opened.plaintext_size == len(data)


def test_ranges_fetch_exactly_the_chunks_that_cover_them() -> None:
    data = os.urandom(40 * CHUNK_SIZE + 1000)
    header, payload = seal(data)
    rng = random.Random(7)
    for _ in range(200):
        start = rng.randrange(len(data))
        end = start + rng.choice([1, 10, CHUNK_SIZE - start % CHUNK_SIZE, CHUNK_SIZE, 3 * CHUNK_SIZE])
        counting = CountingPayload(payload)
        assert b"".join(reader(header, payload, counting.read).iter_range(start, end)) == data[start:end]
        first, last = start // CHUNK_SIZE, (min(end, len(data)) - 1) // CHUNK_SIZE
        covered = [
            index
            for offset, length in counting.reads
            for index in range(41)
            if offset <= chunk_at(index) < offset + length
        ]
        assert covered == list(range(first, last + 1)), (start, end)
        # Nothing else: the nonce (alone, or with chunk 0) and those chunks, each read once.
        assert counting.reads[0][0] == 0
        fetched = sum(length for _, length in counting.reads)
        assert fetched == PAYLOAD_NONCE_SIZE + min(chunk_at(last + 1), len(payload)) - chunk_at(first)


def test_ten_bytes_in_the_middle_of_ten_mebibytes_fetch_one_chunk_and_the_nonce() -> None:
    data = os.urandom(10 * 1024 * 1024)
    header, payload = seal(data, piece=1024 * 1024)
    counting = CountingPayload(payload)
    middle = 5 * 1024 * 1024 + 123
    opened = reader(header, payload, counting.read)
    assert b"".join(opened.iter_range(middle, middle + 10)) == data[middle : middle + 10]
    assert counting.reads == [(0, PAYLOAD_NONCE_SIZE), (chunk_at(middle // CHUNK_SIZE), SEALED)]


def test_a_range_across_a_boundary_fetches_both_chunks_in_one_read(sealed) -> None:
    data, header, payload = sealed
    counting = CountingPayload(payload)
    opened = reader(header, payload, counting.read)
    assert (
        b"".join(opened.iter_range(2 * CHUNK_SIZE - 5, 2 * CHUNK_SIZE + 5))
        == data[2 * CHUNK_SIZE - 5 : 2 * CHUNK_SIZE + 5]
    )
    assert counting.reads == [(0, PAYLOAD_NONCE_SIZE), (chunk_at(1), 2 * SEALED)]


def test_a_range_ending_on_a_chunk_boundary_does_not_fetch_the_next_chunk(sealed) -> None:
    data, header, payload = sealed
    counting = CountingPayload(payload)
    assert (
        b"".join(reader(header, payload, counting.read).iter_range(CHUNK_SIZE, 2 * CHUNK_SIZE))
        == (data[CHUNK_SIZE : 2 * CHUNK_SIZE])
    )
    assert counting.reads == [(0, PAYLOAD_NONCE_SIZE), (chunk_at(1), SEALED)]


def test_a_long_range_is_fetched_sixteen_chunks_at_a_time_nonce_included() -> None:
    data = os.urandom(40 * CHUNK_SIZE + 3)
    header, payload = seal(data)
    counting = CountingPayload(payload)
    assert b"".join(reader(header, payload, counting.read).iter_all()) == data
    assert counting.reads == [
        (0, PAYLOAD_NONCE_SIZE + 16 * SEALED),
        (chunk_at(16), 16 * SEALED),
        (chunk_at(32), len(payload) - chunk_at(32)),  # 8 full chunks and the 3-byte last one
    ]


def test_empty_ranges_and_a_stopped_reader_fetch_nothing_more() -> None:
    data = os.urandom(40 * CHUNK_SIZE)
    header, payload = seal(data)
    counting = CountingPayload(payload)
    opened = reader(header, payload, counting.read)
    for start, end in [(5, 5), (9, 3), (len(data), len(data) + 100), (len(data) + 5, len(data) + 9)]:
        assert b"".join(opened.iter_range(start, end)) == b""
    assert counting.reads == []
    assert next(opened.iter_range(0, len(data))) == data[:CHUNK_SIZE]
    assert counting.reads == [(0, PAYLOAD_NONCE_SIZE + 16 * SEALED)]  # one batch, not the rest


def test_prefetch_names_exactly_the_reads_before_the_first_byte() -> None:
    """What a playback asks the store to fetch ahead is what the reader then reads before it
    yields its first byte: the nonce (alone, or with chunk 0) and the first batch of chunks."""
    data = os.urandom(40 * CHUNK_SIZE + 1000)
    header, payload = seal(data)
    rng = random.Random(11)
    ranges = [(0, 10), (5, 40 * CHUNK_SIZE), (CHUNK_SIZE - 1, CHUNK_SIZE + 1), (len(data) - 1, len(data))]
    starts = rng.sample(range(len(data)), 60)
    ranges += [(s, s + rng.choice([1, CHUNK_SIZE, 20 * CHUNK_SIZE])) for s in starts]
    for start, end in ranges:
        for nonce_known in (False, True):
            counting, prefetched = CountingPayload(payload), list[list[tuple[int, int]]]()
            key = unwrap_file_key(header, [IDENTITY], recording_id=RECORDING)
            opened = PayloadReader(
                key, payload_size=len(payload), read_payload=counting.read, prefetch_payload=prefetched.append
            )
            if nonce_known:
                next(opened.iter_range(len(data) - 1, len(data)))
                counting.reads.clear()
            opened.prefetch(start, end)
            assert counting.reads == []  # prefetching reads nothing itself
            first = next(opened.iter_range(start, end))
            assert first == data[start : start + len(first)]
            assert prefetched == [counting.reads], (start, end, nonce_known)


def test_an_empty_range_prefetches_nothing_and_no_prefetcher_is_fine() -> None:
    data = os.urandom(3 * CHUNK_SIZE)
    header, payload = seal(data)
    key = unwrap_file_key(header, [IDENTITY], recording_id=RECORDING)
    prefetched: list[list[tuple[int, int]]] = []
    opened = PayloadReader(key, payload_size=len(payload), read_payload=CountingPayload(payload).read,
                           prefetch_payload=prefetched.append)  # fmt: skip
    for start, end in [(5, 5), (9, 3), (len(data), len(data) + 9)]:
        opened.prefetch(start, end)
    assert prefetched == []
    plain = reader(header, payload)
    plain.prefetch(0, len(data))  # without a prefetcher: nothing to ask, nothing fails
    assert b"".join(plain.iter_range(0, len(data))) == data
