"""RFC 9162 (Certificate Transparency 2.0) Merkle trees over ledger leaf hashes: tree heads,
inclusion proofs and consistency proofs (sections 2.1.1 to 2.1.4), standard library only.

The offline verifier imports this module, so it must never import Django. Leaves are given as
their leaf hashes, SHA-256(0x00 || entry), which the ledger stores with each row.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from itertools import islice

HASH_SIZE = 32
NODE_PREFIX = b"\x01"  # RFC 9162 section 2.1.1: SHA-256(0x01 || MTH(left) || MTH(right))
EMPTY_ROOT = hashlib.sha256(b"").digest()  # MTH({}) = SHA-256()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def largest_power_of_two_below(n: int) -> int:
    """k with k < n <= 2k (n > 1): where RFC 9162 splits a tree of n leaves."""
    return 1 << ((n - 1).bit_length() - 1)


class TreeHeadBuilder:
    """The tree head of leaves appended one by one, in O(log n) memory.

    Keeps the hashes of the complete subtrees the leaves so far form (one per set bit of the
    size, largest first); folding them from the right is MTH's split at the largest power of two.
    """

    def __init__(self) -> None:
        self._stack: list[bytes] = []
        self.size = 0

    def append(self, leaf_hash: bytes) -> None:
        merged, size = leaf_hash, self.size
        while size & 1:
            merged = node_hash(self._stack.pop(), merged)
            size >>= 1
        self._stack.append(merged)
        self.size += 1

    # Leaves are folded a block at a time where the size allows: a block of 2**k leaves starting
    # at a multiple of 2**k is a complete subtree, hashed level by level in list comprehensions
    # (three times the speed of one append per leaf), then pushed as one node of the stack.
    BLOCK = 1024

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        leaves = iter(leaf_hashes)
        if self.size % self.BLOCK:
            for leaf in islice(leaves, self.BLOCK - self.size % self.BLOCK):
                self.append(leaf)
        while batch := list(islice(leaves, self.BLOCK)):
            if len(batch) < self.BLOCK:
                for leaf in batch:
                    self.append(leaf)
                break
            self._push_subtree(_subtree_root(batch), self.BLOCK)

    def _push_subtree(self, subtree: bytes, size: int) -> None:
        """A complete subtree of `size` (a power of two dividing self.size) leaves."""
        merged, count = subtree, self.size // size
        while count & 1:
            merged = node_hash(self._stack.pop(), merged)
            count >>= 1
        self._stack.append(merged)
        self.size += size

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        root = self._stack[-1]
        for left in reversed(self._stack[:-1]):
            root = node_hash(left, root)
        return root


def _subtree_root(leaves: list[bytes]) -> bytes:
    """MTH of a power-of-two number of leaves."""
    sha256, prefix = hashlib.sha256, NODE_PREFIX
    level = leaves
    while len(level) > 1:
        level = [sha256(prefix + level[i] + level[i + 1]).digest() for i in range(0, len(level), 2)]
    return level[0]


def tree_head(leaf_hashes: Iterable[bytes]) -> bytes:
    """MTH(D[n]) of the leaves (RFC 9162 section 2.1.1), streamed."""
    builder = TreeHeadBuilder()
    builder.extend(leaf_hashes)
    return builder.root()


class ProofTree:
    """MTH, PATH and PROOF (RFC 9162 section 2.1) for any size up to `size`, from the hashes of
    complete, aligned subtrees (`_complete`), which each kind of tree keeps its own way: in
    memory (MerkleTree) or as stored tiles (audit/tiles.py). Every method walks RFC 9162's
    recursion and looks up O(log n) complete subtrees, plus O(log n) hashes for the right edge.
    """

    size: int
    _edge_nodes: dict[tuple[int, int], bytes]

    def __init__(self) -> None:
        self._edge_nodes = {}

    def _complete(self, level: int, index: int) -> bytes:
        """The hash of the complete subtree of 2**level leaves starting at leaf index << level."""
        raise NotImplementedError

    def root(self, size: int | None = None) -> bytes:
        """MTH of the first `size` leaves (all of them by default)."""
        size = self.size if size is None else size
        self._check_size(size)
        return EMPTY_ROOT if size == 0 else self._subtree(0, size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(index, D[size]) (RFC 9162 section 2.1.3.1), nearest the leaf first.

        Walked bottom-up rather than by the RFC's descent from the root (the same path without
        the descent's splits; an export proves thousands of entries): at each height the sibling of the
        leaf's ancestor, which is complete when it lies to the left or ends within the tree, is
        the right edge's subtree (MTH of what is left of the tree) when it starts within the
        tree but ends past it, and is no node at all when it starts past the tree's end (the
        ancestor is then the last node of its height and rises alone, as MTH's split at the
        largest power of two makes it).
        """
        size = self.size if size is None else size
        self._check_size(size)
        if not 0 <= index < size:
            raise ValueError(f"leaf index {index} is not in a tree of {size} leaves")
        path: list[bytes] = []
        node, last, height = index, size - 1, 0  # last: the ancestor of the tree's last leaf
        while last:
            sibling = node ^ 1
            if sibling < node or (sibling + 1) << height <= size:
                path.append(self._complete(height, sibling))
            elif sibling <= last:
                start = sibling << height
                path.append(self._subtree(start, size - start))
            node, last, height = node >> 1, last >> 1, height + 1
        return path

    def consistency_proof(self, first: int, second: int | None = None) -> list[bytes]:
        """PROOF(first, D[second]) (RFC 9162 section 2.1.4.1); empty when first is 0 or second."""
        second = self.size if second is None else second
        self._check_size(second)
        if not 0 <= first <= second:
            raise ValueError(f"no consistency proof from {first} leaves to {second}")
        if first in (0, second):
            return []
        proof: list[bytes] = []
        start, end, complete = 0, second, True  # SUBPROOF(m, D[start:end], complete)
        m = first
        while m != end - start:
            k = largest_power_of_two_below(end - start)
            if m <= k:
                proof.append(self._subtree(start + k, end - start - k))
                end = start + k
            else:
                proof.append(self._subtree(start, k))
                start, m, complete = start + k, m - k, False
        if not complete:
            proof.append(self._subtree(start, m))
        proof.reverse()
        return proof

    def _check_size(self, size: int) -> None:
        if not 0 <= size <= self.size:
            raise ValueError(f"tree size {size} is not between 0 and {self.size}")

    def _subtree(self, start: int, size: int) -> bytes:
        """MTH(D[start:start+size]) for the subtrees RFC 9162's recursion visits: complete and
        aligned (looked up), or on the right edge of a tree (split as MTH does)."""
        if size & (size - 1) == 0 and start % size == 0:
            level = size.bit_length() - 1
            return self._complete(level, start >> level)
        # Not complete: on the right edge of a tree, where every proof of that tree passes; the
        # O(log n) of them are remembered (an export proves thousands of entries in one tree).
        key = (start, size)
        if (known := self._edge_nodes.get(key)) is not None:
            return known
        k = largest_power_of_two_below(size)
        node = node_hash(self._subtree(start, k), self._subtree(start + k, size - k))
        if len(self._edge_nodes) > 4096:
            self._edge_nodes.clear()
        self._edge_nodes[key] = node
        return node


class MerkleTree(ProofTree):
    """A tree of n leaves held in memory.

    Every complete, aligned subtree hash is computed once and kept, level by level, each level one
    bytes object (32 bytes a node): a million leaves take 64 MB. For small trees and tests; the
    ledger itself keeps its tree as stored tiles (audit/tiles.py).
    """

    def __init__(self, leaf_hashes: bytes) -> None:
        super().__init__()
        if len(leaf_hashes) % HASH_SIZE:
            raise ValueError("leaf hashes must be a concatenation of 32-byte hashes")
        self.size = len(leaf_hashes) // HASH_SIZE
        self._levels = [leaf_hashes]
        level = leaf_hashes
        sha256, pair = hashlib.sha256, 2 * HASH_SIZE
        while len(level) >= pair:
            parents = bytearray()  # grown in place: no list of a million small bytes objects
            view = memoryview(level)
            for at in range(0, len(level) // pair * pair, pair):
                parents += sha256(NODE_PREFIX + view[at : at + pair]).digest()
            level = bytes(parents)
            self._levels.append(level)

    @classmethod
    def from_leaves(cls, leaf_hashes: Iterable[bytes]) -> MerkleTree:
        return cls(b"".join(leaf_hashes))

    def leaf(self, index: int) -> bytes:
        return self._levels[0][index * HASH_SIZE : (index + 1) * HASH_SIZE]

    def _complete(self, level: int, index: int) -> bytes:
        at = index * HASH_SIZE
        return self._levels[level][at : at + HASH_SIZE]


def verify_inclusion(
    leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 section 2.1.3.2, step by step."""
    if not 0 <= index < tree_size or any(len(p) != HASH_SIZE for p in proof):
        return False
    fn, sn, r = index, tree_size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 section 2.1.4.2, step by step; sizes 0 and equal sizes as the RFC implies (an
    empty tree is a prefix of every tree; a tree is consistent with itself and no proof)."""
    if not 0 <= first <= second or any(len(p) != HASH_SIZE for p in proof):
        return False
    if first == 0:
        return not proof and first_root == EMPTY_ROOT
    if first == second:
        return not proof and first_root == second_root
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == first_root and sr == second_root and sn == 0
