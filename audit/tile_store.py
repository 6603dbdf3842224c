"""The ledger's stored tiles (`LedgerTile`): reading them into a tree, and catching them up with
the sequenced entries.

Tiles are caught up, never rebuilt: each call reads the right edge (one partial tile a level) and
the leaf hashes of the entries after the last tiled one, and writes the tiles that grew, in one
transaction per chunk under the tiles lock. A writer killed mid-way leaves the last committed
chunk's tiles, which are a correct prefix; the next call goes on from there. `sign_tree_head`
catches up in the transaction that signs, so no head is ever signed over missing tiles.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import islice

from django.db import connection, transaction

from audit.merkle import HASH_SIZE
from audit.models import LedgerEntry, LedgerTile
from audit.tiles import Tile, TileBuilder, TiledTree, TileKey, right_edge

# Another fixed advisory lock key ("ledger" + "t"): tile writers queue behind each other only.
TILES_LOCK_KEY = 0x6C6564676572_74
CATCH_UP_CHUNK = 65_536  # entries a transaction: 256 full tiles, 2 MB of leaf hashes
FETCH_BATCH = 2_000  # tiles a query: bounded parameters (issue 23), about 18 MB


def tiled_size() -> int:
    """How many entries the stored tiles cover: the level-0 tiles end there."""
    last = LedgerTile.objects.filter(level=0).order_by("-index").values_list("index", "width").first()
    return 0 if last is None else int(last[0]) * 256 + int(last[1])


def fetch_tiles(keys: set[TileKey]) -> dict[TileKey, Tile]:
    """The stored tiles of these keys (those that exist), a bounded batch a query."""
    found: dict[TileKey, Tile] = {}
    ordered = sorted(keys)
    for start in range(0, len(ordered), FETCH_BATCH):
        batch = ordered[start : start + FETCH_BATCH]
        for level in {level for level, _ in batch}:
            indexes = [index for tile_level, index in batch if tile_level == level]
            for index, hashes, inner in _tile_rows(level, indexes):
                found[(level, int(index))] = Tile(level, int(index), bytes(hashes), bytes(inner))
    return found


def _tile_rows(
    level: int, indexes: list[int]
) -> Iterable[tuple[int, bytes | memoryview, bytes | memoryview]]:
    """(index, hashes, inner) of the stored tiles of `level` among `indexes`. PostgreSQL sends
    them in binary (half the time of Django's text format, which spells bytea in hex: an
    export reads thousands of 9 KB tiles), the indexes as one array parameter."""
    if connection.vendor != "postgresql":
        rows = LedgerTile.objects.filter(level=level, index__in=indexes)
        return rows.values_list("index", "hashes", "inner")
    import psycopg

    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(
            'SELECT index, hashes, "inner" FROM audit_ledgertile WHERE level = %s AND index = ANY(%s)',
            [level, indexes],
            binary=True,
        )
        return cursor.fetchall()


def tree(tree_size: int) -> TiledTree:
    """The tree of entries 1..tree_size read from the tiles (which must cover it)."""
    return TiledTree(tree_size, fetch_tiles)


def catch_up(
    *,
    upto: int | None = None,
    chunk: int = CATCH_UP_CHUNK,
    progress: Callable[[int], None] = lambda n: None,
) -> int:
    """Extend the tiles over the sequenced entries up to `upto` (default: every one), a chunk a
    transaction (joining the caller's if there is one); returns the tiled size. Raises
    MissingTile (the right edge is not stored) or GapInLedger (an entry is missing)."""
    while True:
        with transaction.atomic():
            _lock()
            size = tiled_size()
            end = _last_seq() if upto is None else upto
            if size >= end:
                return size
            stop = min(end, size + chunk)
            builder = TileBuilder(size, _edge(size))
            builder.extend(_leaves(size, stop))
            _store(builder.changed())
        progress(stop - size)


class GapInLedger(LookupError):
    """The entries to tile are not every seq in a range."""


def _lock() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [TILES_LOCK_KEY])


def _last_seq() -> int:
    return int(LedgerEntry.objects.order_by("-seq").values_list("seq", flat=True).first() or 0)


def _edge(size: int) -> dict[int, bytes]:
    """The stored partial tile of each level of a tree of `size` leaves, by level."""
    keys = {(level, index) for level, index, _ in right_edge(size)}
    return {level: tile.hashes for (level, _), tile in fetch_tiles(keys).items()}


def _leaves(after: int, upto: int) -> bytes:
    """The leaf hashes of seq after+1..upto, concatenated; GapInLedger unless every one exists."""
    if connection.vendor == "postgresql":
        leaves, count = _leaves_in_one_row(after, upto)
    else:
        rows = LedgerEntry.objects.filter(seq__gt=after, seq__lte=upto).order_by("seq")
        column = rows.values_list("leaf_hash", flat=True)
        hashes = [bytes(leaf) for leaf in column.iterator(chunk_size=10_000)]
        leaves, count = b"".join(hashes), len(hashes)
    if count != upto - after or len(leaves) != HASH_SIZE * count:
        raise GapInLedger(f"the ledger does not hold every entry from {after + 1} to {upto} ({count} found)")
    return leaves


def _leaves_in_one_row(after: int, upto: int) -> tuple[bytes, int]:
    """PostgreSQL concatenates a chunk's leaf hashes itself, as one binary value (ten times the
    speed of a row per entry). seq is unique, so `count` rows in the range are every seq."""
    import psycopg

    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(
            "SELECT count(*), string_agg(leaf_hash, ''::bytea ORDER BY seq) "
            "FROM audit_ledgerentry WHERE seq > %s AND seq <= %s",
            [after, upto],
            binary=True,
        )
        count, leaves = cursor.fetchone() or (0, None)
    return bytes(leaves or b""), int(count)


def _store(tiles: Iterable[Tile]) -> None:
    """Insert new tiles and grow partial ones (an upsert; on PostgreSQL a trigger refuses any
    change that is not growth), a bounded batch a statement."""
    rows = (
        LedgerTile(level=t.level, index=t.index, width=t.width, hashes=t.hashes, inner=t.inner) for t in tiles
    )
    while batch := list(islice(rows, 500)):
        LedgerTile.objects.bulk_create(
            batch,
            update_conflicts=True,
            unique_fields=["level", "index"],
            update_fields=["width", "hashes", "inner"],
        )
