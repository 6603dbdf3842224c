"""The age v1 sealer and readers: round trips, seeking that fetches only what it needs, a strict
header parser, and every kind of tampering detected before any of the bad chunk is released."""

from __future__ import annotations

import io
import itertools
import os
import random
from collections.abc import Callable, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recorder.keys import X25519Identity
from recorder.sealing import (
    CHUNK_SIZE,
    PAYLOAD_NONCE_SIZE,
    TAG_SIZE,
    NoIdentityError,
    PayloadReader,
    Sealer,
    SealingError,
    Stanza,
    TamperedError,
    b64encode,
    decrypt_file,
    header_mac,
    payload_size_for,
    plaintext_size_for,
    split_age_file,
    unwrap_file_key,
)

IDENTITY = X25519Identity.generate()
RECORDING = "8d7c2f9e-0000-4000-8000-000000000001"
SEALED = CHUNK_SIZE + TAG_SIZE
SIZES = [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE]
PIECES = [1, 7, 100 * 1024]


def chunk_at(index: int) -> int:
    """Ciphertext offset of chunk `index`, computed independently of the code under test."""
    return PAYLOAD_NONCE_SIZE + index * SEALED


def pieces(data: bytes, size: int) -> Iterator[bytes]:
    return (data[i : i + size] for i in range(0, len(data), size))


def seal(data: bytes, piece: int = 100_000, recording_id: str = RECORDING) -> tuple[bytes, bytes]:
    sealer = Sealer([IDENTITY.recipient()], recording_id=recording_id)
    payload = b"".join(sealer.update(p) for p in pieces(data, piece)) + sealer.finalize()
    assert sealer.plaintext_size == len(data)
    assert sealer.payload_size == len(payload)
    return sealer.header, payload


class CountingPayload:
    """A payload in memory that records every read the reader makes, as a store would see them."""

    def __init__(self, payload: bytes) -> None:
        self.payload = payload
        self.reads: list[tuple[int, int]] = []

    def read(self, offset: int, length: int) -> bytes:
        self.reads.append((offset, length))
        return self.payload[offset : offset + length]


def reader(header: bytes, payload: bytes, read: Callable[[int, int], bytes] | None = None) -> PayloadReader:
    key = unwrap_file_key(header, [IDENTITY], recording_id=RECORDING)
    read = read or (lambda offset, length: payload[offset : offset + length])
    return PayloadReader(key, payload_size=len(payload), read_payload=read)


def open_all(header: bytes, payload: bytes) -> bytes:
    return b"".join(reader(header, payload).iter_all())


@pytest.fixture(scope="module")
def sealed() -> tuple[bytes, bytes, bytes]:
    """Four chunks: three full ones and a short last one."""
    data = os.urandom(3 * CHUNK_SIZE + 500)
    return (data, *seal(data))


# --- round trips ---------------------------------------------------------------------------------


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


# --- seeking -------------------------------------------------------------------------------------


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


# --- tampering -----------------------------------------------------------------------------------


def flip(data: bytes, position: int, bit: int = 0) -> bytes:
    changed = bytearray(data)
    changed[position] ^= 1 << bit
    return bytes(changed)


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


# --- strict header parsing -----------------------------------------------------------------------


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


# --- properties ----------------------------------------------------------------------------------


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
