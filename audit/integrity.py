"""The live ledger checked end to end: every entry's leaf hash recomputed from its columns, seq
gapless, and every stored signed head's root recomputed from those leaves and its signature
checked, in tree-size order. Two heads whose roots both equal the MTH of the same verified leaves
are consistent with each other (a consistency proof is what a verifier without the leaves needs).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import orjson
from django.db import connection

from audit.canonical import COLUMNS, canonical_bytes, entry_fields, hashed_fields, leaf_hash
from audit.keys import public_key
from audit.merkle import TreeHeadBuilder
from audit.models import LedgerEntry, SignedTreeHead
from audit.signing import key_id

CHUNK = 5000


@dataclass(frozen=True)
class LedgerCheck:
    entries: int
    heads: int
    first_bad_seq: int | None = None
    problem: str = ""

    @property
    def ok(self) -> bool:
        return not self.problem


def check_ledger(*, progress: Callable[[int], None] = lambda n: None) -> LedgerCheck:
    """Stops at the first problem; `progress(n)` is called as entries are checked."""
    key = public_key()
    heads = list(SignedTreeHead.objects.order_by("tree_size", "timestamp_ms", "id"))
    checked_heads, previous = 0, None
    builder = TreeHeadBuilder()

    def check_heads_up_to(size: int) -> LedgerCheck | None:
        nonlocal checked_heads, previous
        while checked_heads < len(heads) and heads[checked_heads].tree_size == size:
            head = heads[checked_heads]
            signed = head.as_signed()
            where = f"the head of {head.tree_size} entries signed {head.signed_at:%Y-%m-%d %H:%M:%S} UTC"
            after = previous.tree_size + 1 if previous else 1
            if bytes(head.root_hash) != builder.root():
                return _bad(
                    size,
                    f"{where} does not match entries {after}..{size}: they were rewritten",
                    after,
                    len(heads),
                )
            if head.key_id != key_id(key) or not signed.verify(key):
                return _bad(size, f"{where} is not signed by the ledger's key: forged", None, len(heads))
            if previous is not None and head.timestamp_ms < previous.timestamp_ms:
                return _bad(size, f"{where} is older than the head before it", None, len(heads))
            previous = head
            checked_heads += 1
        return None

    if failure := check_heads_up_to(0):
        return failure
    for seq, leaf, stored in _leaves():
        expected = builder.size + 1
        if seq != expected:
            return _bad(
                expected - 1, f"entry {expected} is missing: seq jumps to {seq}", expected, len(heads)
            )
        if leaf != stored:
            return _bad(
                seq - 1, f"entry {seq} was altered: its fields no longer give its leaf hash", seq, len(heads)
            )
        builder.append(leaf)
        if seq % CHUNK == 0:
            progress(CHUNK)
        if failure := check_heads_up_to(seq):
            return failure
    progress(builder.size % CHUNK)
    if checked_heads < len(heads):
        head = heads[checked_heads]
        return _bad(
            builder.size,
            f"a head was signed for {head.tree_size} entries, the ledger ends at {builder.size}: "
            "entries were removed",
            builder.size + 1,
            len(heads),
        )
    return LedgerCheck(entries=builder.size, heads=len(heads))


def _bad(entries: int, problem: str, first_bad_seq: int | None, heads: int) -> LedgerCheck:
    return LedgerCheck(entries=entries, heads=heads, first_bad_seq=first_bad_seq, problem=problem)


def _leaves() -> Iterator[tuple[int, bytes, bytes]]:
    """(seq, leaf hash recomputed from the entry's columns, stored leaf hash) of every entry, in
    seq order, streamed."""
    if connection.vendor == "postgresql":
        yield from _leaves_by_copy()
        return
    rows = LedgerEntry.objects.order_by("seq").values_list(*COLUMNS, "leaf_hash")
    for row in rows.iterator(chunk_size=CHUNK):
        fields = hashed_fields(**dict(zip(COLUMNS, row, strict=False)))
        stored = bytes(row[-1])
        try:
            leaf = leaf_hash(orjson.dumps(fields, option=orjson.OPT_SORT_KEYS))
        except TypeError:  # an integer beyond 64 bits
            leaf = b""
        yield int(row[0]), leaf if leaf == stored else leaf_hash(canonical_bytes(fields)), stored


# Leaf hashes are recomputed with orjson's encoder first (twenty times the standard library's
# speed), and by the book (canonical.py) only where that does not give the stored hash. Both are
# JSON encoders, so bytes that hash to the stored leaf are the hashed entry whichever encoder
# made them; they differ only in how floats with exponents are spelt (1e-07 against 1e-7).


# PostgreSQL writes the canonical bytes of every hashed field but `details` itself, around it:
# keys in sorted order, strings through to_json (the standard library's escaping: \" \\ \b \f
# \n \r \t, \u00XX below 0x20, everything else as UTF-8), times in UTC as canonical.timestamp
# spells them. Python only re-encodes `details` (jsonb's text is not canonical) and hashes. Any
# entry whose bytes so made do not give its stored hash is recomputed by the book (the ORM row
# and canonical.py) before it is called altered. tests/audit/test_verify_ledger.py pins both.
_SELECT_LEAVES = """
    SELECT seq,
        '{"action":' || to_json(action)::text
        || ',"actor":{"id":' || to_json(actor_id)::text || ',"kind":' || to_json(actor_kind)::text
        || ',"label":' || to_json(actor_label)::text
        || '},"case_id":' || coalesce('"' || case_id::text || '"', 'null') || ',"details":',
        details,
        ',"recorded_at":"' || to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
        || '","recording_id":' || coalesce('"' || recording_id::text || '"', 'null')
        || ',"seq":' || seq::text
        || ',"session_id":' || coalesce('"' || session_id::text || '"', 'null') || '}',
        leaf_hash
    FROM audit_ledgerentry
"""
COPY_CHUNK = 100_000


def _leaves_by_copy() -> Iterator[tuple[int, bytes, bytes]]:
    """A chunk of seq at a time: the COPY is read whole, then entries whose fast bytes missed are
    looked up by the book (the connection is free again), then the chunk is yielded."""
    upto = LedgerEntry.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    for after in range(0, upto, COPY_CHUNK):
        for seq, canonical, stored in copied_entries(after, after + COPY_CHUNK):
            leaf = leaf_hash(canonical)
            yield seq, leaf if leaf == stored else _leaf_by_the_book(seq), stored


def copied_entries(after: int, upto: int) -> list[tuple[int, bytes, bytes]]:
    """(seq, canonical bytes as PostgreSQL and orjson spell them, stored leaf hash) of the entries
    after..upto: empty bytes where orjson refuses (it has no integers beyond 64 bits)."""
    from psycopg import sql

    statement = sql.Composed(
        [
            sql.SQL("COPY (" + _SELECT_LEAVES + " WHERE seq > "),
            sql.Literal(after),
            sql.SQL(" AND seq <= "),
            sql.Literal(upto),
            sql.SQL(" ORDER BY seq) TO STDOUT"),
        ]
    )
    dumps, loads, sort = orjson.dumps, orjson.loads, orjson.OPT_SORT_KEYS
    chunk = []
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        for seq, before, details, after_details, stored in copy.rows():
            try:
                canonical = before.encode() + dumps(loads(details), option=sort) + after_details.encode()
            except TypeError:
                canonical = b""
            chunk.append((int(seq), canonical, bytes.fromhex(stored[2:])))  # bytea's text: \x<hex>
    return chunk


def _leaf_by_the_book(seq: int) -> bytes:
    entry = LedgerEntry.objects.get(seq=seq)
    return leaf_hash(canonical_bytes(entry_fields(entry)))
