"""The live ledger checked end to end: every entry's leaf hash recomputed from its columns, seq
gapless, every stored tile recomputed from those leaves (its hashes and its inner nodes), and
every stored signed head's root recomputed from them and its signature checked, in tree-size
order. Streaming: a chunk of entries and a batch of tiles a level at a time. Two heads whose roots
both equal the MTH of the same verified leaves are consistent with each other (a consistency proof
is what a verifier without the leaves needs).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice

import orjson
from django.db import connection

from audit.canonical import COLUMNS, canonical_bytes, entry_fields, hashed_fields, leaf_hash
from audit.keys import public_key
from audit.models import LedgerEntry, LedgerTile, SignedTreeHead
from audit.selectors import last_seq
from audit.signing import key_id
from audit.tile_store import tiled_size
from audit.tiles import TILE_HEIGHT, TILE_WIDTH, Tile, TileBuilder, inner_nodes, tile_path

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
    tiled = tiled_size()
    builder = TileBuilder(0, {})
    stored = StoredTiles()

    def check_heads_up_to(size: int) -> LedgerCheck | None:
        nonlocal checked_heads, previous
        if failure := check_tiles(size):
            return failure
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
            if size > tiled:
                return _bad(size, f"the tiles end at {tiled} entries, before {where}", tiled + 1, len(heads))
            if head.key_id != key_id(key) or not signed.verify(key):
                return _bad(size, f"{where} is not signed by the ledger's key: forged", None, len(heads))
            if previous is not None and head.timestamp_ms < previous.timestamp_ms:
                return _bad(size, f"{where} is older than the head before it", None, len(heads))
            previous = head
            checked_heads += 1
        return None

    def check_tiles(size: int) -> LedgerCheck | None:
        """Every tile completed so far, and at the tiled size the partial ones, as stored."""
        for tile in builder.changed():
            if (
                tile.width == TILE_WIDTH
                and (tile.index + 1) * TILE_WIDTH << (TILE_HEIGHT * tile.level) <= tiled
            ):
                if problem := stored.mismatch(tile):
                    return _bad(size, problem, _first_seq(tile), len(heads))
        if size == tiled:
            for tile in builder.edge_tiles().values():
                if problem := stored.mismatch(tile, partial=True):
                    return _bad(size, problem, _first_seq(tile), len(heads))
        return None

    if failure := check_heads_up_to(0):
        return failure
    sizes = sorted({int(head.tree_size) for head in heads if head.tree_size > 0} | ({tiled} - {0}))
    upcoming = iter(sizes)
    next_head = next(upcoming, None)
    for chunk in _chunks():
        start = builder.size
        bad, good = None, len(chunk)
        for n, (seq, leaf, stored_leaf) in enumerate(chunk):
            if seq != start + n + 1:
                missing = start + n + 1
                problem = f"entry {missing} is missing: seq jumps to {seq}"
                bad = _bad(missing - 1, problem, missing, len(heads))
            elif leaf != stored_leaf:
                problem = f"entry {seq} was altered: its fields no longer give its leaf hash"
                bad = _bad(seq - 1, problem, seq, len(heads))
            if bad:
                good = n
                break
        leaves = [leaf for _, leaf, _ in chunk[:good]]
        # Heads within the chunk are checked at their exact sizes, before any later bad entry.
        while next_head is not None and next_head <= start + good:
            builder.extend(b"".join(leaves[builder.size - start : next_head - start]))
            if failure := check_heads_up_to(next_head):
                return failure
            next_head = next(upcoming, None)
        builder.extend(b"".join(leaves[builder.size - start :]))
        if failure := check_tiles(-1):
            return failure
        progress(good)
        if bad:
            return bad
    if checked_heads < len(heads) or (next_head is not None and next_head == tiled):
        size = int(heads[checked_heads].tree_size) if checked_heads < len(heads) else tiled
        what = "a head was signed" if checked_heads < len(heads) else "tiles were built"
        return _bad(
            builder.size,
            f"{what} for {size} entries, the ledger ends at {builder.size}: entries were removed",
            builder.size + 1,
            len(heads),
        )
    return LedgerCheck(entries=builder.size, heads=len(heads))


def _first_seq(tile: Tile) -> int:
    return tile.index * TILE_WIDTH * (TILE_WIDTH**tile.level) + 1


class StoredTiles:
    """The stored tiles, read level by level in index order, a batch at a time (flat memory)."""

    BATCH = 1024

    def __init__(self) -> None:
        self._batches: dict[int, tuple[int, dict[int, tuple[bytes, bytes]]]] = {}

    def get(self, level: int, index: int) -> tuple[bytes, bytes] | None:
        first, batch = self._batches.get(level, (-self.BATCH, {}))
        if not first <= index < first + self.BATCH:
            rows = LedgerTile.objects.filter(level=level, index__gte=index, index__lt=index + self.BATCH)
            columns = rows.values_list("index", "hashes", "inner")
            first, batch = index, {int(i): (bytes(h), bytes(inner)) for i, h, inner in columns}
            self._batches[level] = (first, batch)
        return batch.get(index)

    def mismatch(self, tile: Tile, *, partial: bool = False) -> str | None:
        """Why the stored tile differs from `tile` recomputed from the entries, or None."""
        name = tile_path(tile.level, tile.index, tile.width)
        stored = self.get(tile.level, tile.index)
        if stored is None:
            return f"tile {name} is missing"
        hashes, inner = stored
        if hashes != tile.hashes:
            return f"tile {name} does not match the entries under it: the tile was altered"
        # A full tile comes with the inner nodes its hashing gave (no second hashing of it).
        if inner != (tile.inner if tile.width == TILE_WIDTH else inner_nodes(hashes)):
            return f"tile {name}'s inner nodes do not match its hashes: altered"
        return None


def _bad(entries: int, problem: str, first_bad_seq: int | None, heads: int) -> LedgerCheck:
    return LedgerCheck(entries=entries, heads=heads, first_bad_seq=first_bad_seq, problem=problem)


def _chunks() -> Iterator[list[tuple[int, bytes, bytes]]]:
    """(seq, leaf hash recomputed from the entry's columns, stored leaf hash) of every entry, in
    seq order, a chunk at a time."""
    if connection.vendor == "postgresql":
        yield from _chunks_read_ahead()
        return
    rows = LedgerEntry.objects.order_by("seq").values_list(*COLUMNS, "leaf_hash")
    chunk = []
    for row in rows.iterator(chunk_size=CHUNK):
        fields = hashed_fields(**dict(zip(COLUMNS, row, strict=False)))
        stored = bytes(row[-1])
        try:
            leaf = leaf_hash(orjson.dumps(fields, option=orjson.OPT_SORT_KEYS))
        except TypeError:  # an integer beyond 64 bits
            leaf = b""
        chunk.append((int(row[0]), leaf if leaf == stored else leaf_hash(canonical_bytes(fields)), stored))
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


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
# A chunk of entries arrives as one text, a line an entry, fields split by tabs: JSON text (of
# to_json and of jsonb) escapes tabs and newlines inside strings, so neither occurs unescaped.
# One value instead of a message per row: the driver's per-row cost was half the wall time.
_SELECT_LEAVES = """
    SELECT string_agg(concat_ws(E'\t',
        seq::text,
        '{"action":' || to_json(action)::text
        || ',"actor":{"id":' || to_json(actor_id)::text || ',"kind":' || to_json(actor_kind)::text
        || ',"label":' || to_json(actor_label)::text
        || '},"case_id":' || coalesce('"' || case_id::text || '"', 'null') || ',"details":',
        details::text,
        ',"recorded_at":"' || to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
        || '","recording_id":' || coalesce('"' || recording_id::text || '"', 'null')
        || ',"seq":' || seq::text
        || ',"session_id":' || coalesce('"' || session_id::text || '"', 'null') || '}',
        encode(leaf_hash, 'hex')
    ), E'\n' ORDER BY seq)
    FROM audit_ledgerentry WHERE seq > %s AND seq <= %s
"""
READ_CHUNK = 10_000
PREFETCH = 2


def _chunks_read_ahead() -> Iterator[list[tuple[int, bytes, bytes]]]:
    """A chunk of seq at a time; entries whose fast bytes missed are looked up by the book
    before the chunk is yielded."""
    upto = last_seq()
    # Inside a transaction other connections would not see its own entries: read on this one.
    texts = _texts_here(upto) if connection.in_atomic_block else _texts_read_ahead(upto)
    for text in texts:
        chunk = []
        for seq, canonical, stored in parse_entries(text):
            leaf = leaf_hash(canonical)
            chunk.append((seq, leaf if leaf == stored else _leaf_by_the_book(seq), stored))
        yield chunk


def _texts_here(upto: int) -> Iterator[str | None]:
    for after in range(0, upto, READ_CHUNK):
        yield _chunk_text(after, after + READ_CHUNK)


def _chunk_text(after: int, upto: int) -> str | None:
    with connection.cursor() as cursor:
        cursor.execute(_SELECT_LEAVES, [after, upto])
        return cursor.fetchone()[0]


def _texts_read_ahead(upto: int) -> Iterator[str | None]:
    """The chunks' texts, read ahead on PREFETCH connections of their own while the caller's
    thread hashes the chunk before (PostgreSQL spelling a chunk costs about what hashing it does)."""
    import psycopg

    starts = iter(range(0, upto, READ_CHUNK))
    params = connection.get_connection_params()
    local, opened = threading.local(), []

    def read(after: int) -> str | None:
        if not hasattr(local, "db"):
            local.db = psycopg.connect(**params, autocommit=True)
            opened.append(local.db)
        row = local.db.execute(_SELECT_LEAVES, [after, after + READ_CHUNK]).fetchone()
        return row[0] if row else None

    try:
        with ThreadPoolExecutor(max_workers=PREFETCH) as pool:
            ahead = deque(pool.submit(read, after) for after in islice(starts, PREFETCH))
            while ahead:
                text = ahead.popleft().result()
                if (after := next(starts, None)) is not None:
                    ahead.append(pool.submit(read, after))
                yield text
    finally:
        for db in opened:
            db.close()


def copied_entries(after: int, upto: int) -> list[tuple[int, bytes, bytes]]:
    """The entries after..upto as the fast path reads them (see parse_entries)."""
    return parse_entries(_chunk_text(after, upto))


def parse_entries(text: str | None) -> list[tuple[int, bytes, bytes]]:
    """(seq, canonical bytes as PostgreSQL and orjson spell them, stored leaf hash) of each line
    of a chunk: empty bytes where orjson refuses (it has no integers beyond 64 bits)."""
    if not text:
        return []
    dumps, loads, sort = orjson.dumps, orjson.loads, orjson.OPT_SORT_KEYS
    chunk = []
    for line in text.split("\n"):
        seq, before, details, after_details, stored = line.split("\t")
        try:
            canonical = before.encode() + dumps(loads(details), option=sort) + after_details.encode()
        except TypeError:
            canonical = b""
        chunk.append((int(seq), canonical, bytes.fromhex(stored)))
    return chunk


def _leaf_by_the_book(seq: int) -> bytes:
    entry = LedgerEntry.objects.get(seq=seq)
    return leaf_hash(canonical_bytes(entry_fields(entry)))
