"""The ledger's Merkle tree as hash tiles (C2SP tlog-tiles, https://c2sp.org/tlog-tiles): building
them as leaves arrive, naming them, and answering tree heads and RFC 9162 proofs from them.

A tile of level L and index N holds up to 256 hashes of Merkle level 8L: hash j is the root of the
complete subtree of 256**L leaves starting at leaf (N * 256 + j) * 256**L. A full tile has 256;
the right edge of the tree is a partial tile of fewer (its hashes are a prefix of the full tile
it becomes). Standard library only: the offline verifier and the tests import it.

Beside the spec's hashes, each stored tile keeps its own inner nodes of levels 4 to 7 (30 hashes
of a full tile, 12% more): an inclusion proof then hashes at most 11 nodes inside a tile instead
of 247, which is what keeps an export of 10,000 entries spread over 50 million under two seconds
(bench/README.md, Ledger). They are a cache of the tile: `inner_nodes(hashes)` recomputes them.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from audit.merkle import HASH_SIZE, NODE_PREFIX, ProofTree, _subtree_root

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT  # 256 hashes
FULL_TILE_BYTES = TILE_WIDTH * HASH_SIZE
INNER_FROM = 4  # inner levels 4..7 of a tile are stored; levels 1..3 are hashed when needed
MAX_LEVEL = 63  # tlog-tiles: L is at most 63


class MissingTile(LookupError):
    """A tile the tree needs is not stored (or is narrower than the tree needs)."""


@dataclass(frozen=True)
class Tile:
    level: int
    index: int
    hashes: bytes  # the spec's tile: width * 32 bytes
    inner: bytes  # inner_nodes(hashes)

    @property
    def width(self) -> int:
        return len(self.hashes) // HASH_SIZE


TileKey = tuple[int, int]  # (level, index)
Fetch = Callable[[set[TileKey]], Mapping[TileKey, Tile]]


def tile_levels(hashes: bytes) -> list[list[bytes]]:
    """Levels 0 to 8 of a tile's own tree: the complete nodes over its hashes (level 8 holds the
    tile's root once it is full)."""
    sha256, prefix = hashlib.sha256, NODE_PREFIX
    level = [hashes[at : at + HASH_SIZE] for at in range(0, len(hashes), HASH_SIZE)]
    levels = [level]
    for _ in range(TILE_HEIGHT):
        level = [sha256(prefix + level[at] + level[at + 1]).digest() for at in range(0, len(level) - 1, 2)]
        levels.append(level)
    return levels


def inner_nodes(hashes: bytes, levels: list[list[bytes]] | None = None) -> bytes:
    """The stored inner nodes of a tile: its complete nodes of levels 4 to 7, level by level."""
    levels = levels or tile_levels(hashes)
    return b"".join(b"".join(levels[j]) for j in range(INNER_FROM, TILE_HEIGHT))


def _inner_offset(width: int, level: int) -> int:
    return sum(width >> j for j in range(INNER_FROM, level))


_FULL_INNER_OFFSET = {level: _inner_offset(TILE_WIDTH, level) for level in range(INNER_FROM, TILE_HEIGHT)}


def tile_path(level: int, index: int, width: int = TILE_WIDTH) -> str:
    """tile/<L>/<N>[.p/<W>] as tlog-tiles spells it: N in groups of three digits, each but the
    last prefixed with x (1234067 -> x001/x234/067)."""
    groups = f"{index:03d}"
    groups = "0" * (-len(groups) % 3) + groups
    parts = [groups[at : at + 3] for at in range(0, len(groups), 3)]
    encoded = "/".join([f"x{part}" for part in parts[:-1]] + [parts[-1]])
    suffix = "" if width == TILE_WIDTH else f".p/{width}"
    return f"tile/{level}/{encoded}{suffix}"


_INDEX = re.compile(r"(?:x[0-9]{3}/)*[0-9]{3}")


def parse_tile_index(text: str) -> int:
    """The index of an encoded N (ValueError unless spelt exactly as tile_path spells it)."""
    if not _INDEX.fullmatch(text):
        raise ValueError(f"{text!r} is not a tile index")
    index = int(text.replace("x", "").replace("/", ""))
    if tile_path(0, index).removeprefix("tile/0/") != text:
        raise ValueError(f"{text!r} is not the canonical spelling of tile index {index}")
    return index


def tree_levels(size: int) -> int:
    """How many tile levels a tree of `size` leaves has hashes in."""
    levels = 0
    while size >> (TILE_HEIGHT * levels):
        levels += 1
    return levels


def right_edge(size: int) -> list[tuple[int, int, int]]:
    """(level, index, width) of the partial tiles a tree of `size` leaves ends in (width > 0)."""
    edge = []
    for level in range(tree_levels(size)):
        width = (size >> (TILE_HEIGHT * level)) % TILE_WIDTH
        if width:
            edge.append((level, size >> (TILE_HEIGHT * (level + 1)), width))
    return edge


def tile_width_in(size: int, level: int, index: int) -> int:
    """How many hashes tile (level, index) holds in a tree of `size` leaves (0: none yet)."""
    hashes_at_level = size >> (TILE_HEIGHT * level)
    return max(0, min(TILE_WIDTH, hashes_at_level - index * TILE_WIDTH))


def inclusion_tiles(index: int, size: int) -> set[TileKey]:
    """The tiles an inclusion proof of leaf `index` in a tree of `size` leaves reads: the leaf's
    tile at each level, and the right edge (O(log n) tiles)."""
    keys = {(level, index >> (TILE_HEIGHT * (level + 1))) for level in range(tree_levels(size))}
    keys.update((level, tile) for level, tile, _ in right_edge(size))
    return keys


class TiledTree(ProofTree):
    """The tree of the first `size` leaves, read from tiles through `fetch` (a set of keys in, the
    stored tiles out), which are cached (least recently used first out) up to `cache_tiles`."""

    def __init__(self, size: int, fetch: Fetch, *, cache_tiles: int = 4096, use_inner: bool = True) -> None:
        super().__init__()
        self.size = size
        self._fetch = fetch
        self._upper: dict[tuple[int, int], bytes] = {}  # complete nodes above the leaves' tiles
        self._cache: OrderedDict[TileKey, Tile] = OrderedDict()
        self._cache_tiles = cache_tiles
        self.tiles_read = 0
        self._use_inner = use_inner

    def root(self, size: int | None = None) -> bytes:
        """MTH from the tiles' own hashes, never from their inner nodes: a head signs what a
        client of the tiles would compute (the right edge costs at most 255 hashes a level)."""
        use_inner, self._use_inner = self._use_inner, False
        try:
            return super().root(size)
        finally:
            self._use_inner = use_inner

    def prefetch(self, keys: Iterable[TileKey]) -> None:
        """Read the tiles not cached yet in one call (an export does this a chunk at a time); the
        cached ones are marked as recently used, so reading the others does not evict them."""
        missing = set()
        for key in keys:
            if key in self._cache:
                self._cache.move_to_end(key)
            else:
                missing.add(key)
        if missing:
            found = self._fetch(missing)
            self.tiles_read += len(found)
            for key, tile in found.items():
                self._remember(key, tile)

    def _remember(self, key: TileKey, tile: Tile) -> None:
        self._cache[key] = tile
        self._cache.move_to_end(key)
        while len(self._cache) > self._cache_tiles:
            self._cache.popitem(last=False)

    def tile(self, level: int, index: int) -> Tile:
        key = (level, index)
        if key not in self._cache:
            self.prefetch([key])
            if key not in self._cache:
                raise MissingTile(f"tile {tile_path(level, index)} is not stored")
        self._cache.move_to_end(key)
        return self._cache[key]

    def leaf(self, index: int) -> bytes:
        """The leaf hash of leaf `index` (entry seq index + 1)."""
        return self._complete(0, index)

    def _complete(self, level: int, index: int) -> bytes:
        if level < TILE_HEIGHT:
            return self._in_tiles(level, index)
        # Nodes above the leaves' tiles are shared by the proofs of many entries: remembered.
        key = (level, index)
        if (known := self._upper.get(key)) is None:
            if len(self._upper) > 65_536:
                self._upper.clear()
            known = self._upper[key] = self._in_tiles(level, index)
        return known

    def _in_tiles(self, level: int, index: int) -> bytes:
        # The hot path of proofs (an export computes hundreds of thousands of these): the tile
        # is looked up in the cache directly, full tiles' inner offsets come from a table.
        tile_level, height = level >> 3, level & 7  # divmod(level, TILE_HEIGHT)
        first = index << height  # of the 2**height hashes of tile_level under this node
        key = (tile_level, first >> TILE_HEIGHT)
        tile = self._cache.get(key) or self.tile(*key)
        at = first & (TILE_WIDTH - 1)
        width = len(tile.hashes) >> 5  # // HASH_SIZE
        if at + (1 << height) > width:
            raise MissingTile(
                f"tile {tile_path(tile_level, first >> TILE_HEIGHT, width)} is narrower than "
                f"a tree of {self.size} leaves needs"
            )
        if height >= INNER_FROM and self._use_inner:
            base = _FULL_INNER_OFFSET[height] if width == TILE_WIDTH else _inner_offset(width, height)
            offset = (base + (at >> height)) * HASH_SIZE
            return tile.inner[offset : offset + HASH_SIZE]
        hashes = tile.hashes[at * HASH_SIZE : (at + (1 << height)) * HASH_SIZE]
        if height == 0:
            return hashes
        if height == 1:
            return hashlib.sha256(NODE_PREFIX + hashes).digest()
        return _subtree_root([hashes[p : p + HASH_SIZE] for p in range(0, len(hashes), HASH_SIZE)])


class TileBuilder:
    """Extends the tiles of a tree of `size` leaves with more leaves, given its right edge (the
    stored partial tile of each level, by level). `changed()` hands out the tiles to store."""

    def __init__(self, size: int, edge: Mapping[int, bytes]) -> None:
        self.size = size
        self._edge: dict[int, bytearray] = {}
        for level, _index, width in right_edge(size):
            stored = edge.get(level, b"")
            if len(stored) < width * HASH_SIZE:
                raise MissingTile(f"the tile {tile_path(level, _index, width)} is not stored")
            self._edge[level] = bytearray(stored[: width * HASH_SIZE])
        self._changed: dict[TileKey, Tile] = {}

    def extend(self, leaves: bytes) -> None:
        """Append leaf hashes (concatenated, 32 bytes each)."""
        view = memoryview(leaves)
        at = 0
        while at < len(leaves):
            current = self._edge.setdefault(0, bytearray())
            take = min(FULL_TILE_BYTES - len(current), len(leaves) - at)
            current += view[at : at + take]
            at += take
            self.size += take // HASH_SIZE
            self._touched(0, self.size)

    def _touched(self, level: int, size_at_level: int) -> None:
        """The last tile of `level` grew to `size_at_level` hashes in all; a full one is stored and
        its root appended one level up."""
        current = self._edge[level]
        index = (size_at_level - 1) >> TILE_HEIGHT
        if len(current) < FULL_TILE_BYTES:
            self._changed[(level, index)] = Tile(level, index, bytes(current), b"")  # inner later
            return
        hashes = bytes(current)
        levels = tile_levels(hashes)
        self._changed[(level, index)] = Tile(level, index, hashes, inner_nodes(hashes, levels))
        self._edge[level] = bytearray()
        upper = self._edge.setdefault(level + 1, bytearray())
        upper += levels[TILE_HEIGHT][0]
        self._touched(level + 1, size_at_level >> TILE_HEIGHT)

    def edge_tiles(self) -> dict[TileKey, Tile]:
        """The partial tiles the tree ends in now (their inner nodes left out)."""
        return {
            (level, index): Tile(level, index, bytes(self._edge[level]), b"")
            for level, index, _ in right_edge(self.size)
        }

    def root(self) -> bytes:
        """MTH of the leaves so far, from the right edge."""
        edge = self.edge_tiles()
        return TiledTree(self.size, lambda keys: {key: edge[key] for key in keys if key in edge}).root()

    def changed(self) -> list[Tile]:
        """The tiles written or grown since the last call, with their inner nodes."""
        tiles = [
            tile
            if tile.width == TILE_WIDTH
            else Tile(tile.level, tile.index, tile.hashes, inner_nodes(tile.hashes))
            for tile in self._changed.values()
            if tile.hashes
        ]
        self._changed = {}
        return tiles
