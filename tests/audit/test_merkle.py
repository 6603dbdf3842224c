"""RFC 9162 Merkle trees: hand-checked small trees, the RFC's recursive definitions written out
independently, and property tests that any altered proof fails."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    TreeHeadBuilder,
    tree_head,
    verify_consistency,
    verify_inclusion,
)


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def leaf(n: int) -> bytes:
    return sha(b"\x00" + f"entry {n}".encode())


def node(left: bytes, right: bytes) -> bytes:
    return sha(b"\x01" + left + right)


# --- RFC 9162 section 2.1, transcribed recursively (the definitions, not the fast code) ---------


def k_of(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(d: list[bytes]) -> bytes:
    if not d:
        return sha(b"")
    if len(d) == 1:
        return d[0]
    k = k_of(len(d))
    return node(mth(d[:k]), mth(d[k:]))


def path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = k_of(len(d))
    if m < k:
        return [*path(m, d[:k]), mth(d[k:])]
    return [*path(m - k, d[k:]), mth(d[:k])]


def subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    if m == len(d):
        return [] if b else [mth(d)]
    k = k_of(len(d))
    if m <= k:
        return [*subproof(m, d[:k], b), mth(d[k:])]
    return [*subproof(m - k, d[k:], False), mth(d[:k])]


LEAVES = [leaf(n) for n in range(3000)]


# --- hand-checked small trees ------------------------------------------------------------------


def test_the_empty_tree_and_a_single_leaf() -> None:
    assert MerkleTree(b"").root() == EMPTY_ROOT == sha(b"") == tree_head([])
    assert MerkleTree(leaf(0)).root() == leaf(0) == tree_head([leaf(0)])
    assert MerkleTree(leaf(0)).inclusion_proof(0) == []


def test_a_tree_of_seven_leaves_computed_by_hand() -> None:
    a, b, c, d, e, f, g = (leaf(n) for n in range(7))
    ab, cd, ef = node(a, b), node(c, d), node(e, f)
    abcd = node(ab, cd)
    efg = node(ef, g)  # 3 leaves split at 2: ([e f] [g])
    root = node(abcd, efg)  # 7 leaves split at 4
    tree = MerkleTree(b"".join([a, b, c, d, e, f, g]))
    assert tree.root() == root == tree_head([a, b, c, d, e, f, g])
    assert tree.root(3) == node(ab, c)
    assert tree.root(5) == node(abcd, e)
    assert tree.root(6) == node(abcd, ef)
    # RFC 9162 section 2.1.5's example tree: inclusion proofs of a, d and g
    assert tree.inclusion_proof(0) == [b, cd, efg]
    assert tree.inclusion_proof(3) == [c, ab, efg]
    assert tree.inclusion_proof(6) == [ef, abcd]
    # ... and its consistency proofs: 3 -> 7, 4 -> 7, 6 -> 7
    assert tree.consistency_proof(3) == [c, d, ab, efg]
    assert tree.consistency_proof(4) == [efg]
    assert tree.consistency_proof(6) == [ef, g, abcd]
    for m, proof in [(3, [c, d, ab, efg]), (4, [efg]), (6, [ef, g, abcd])]:
        assert verify_consistency(m, 7, tree.root(m), root, proof)
    assert verify_inclusion(d, 3, 7, [c, ab, efg], root)
    assert not verify_inclusion(d, 2, 7, [c, ab, efg], root)


def test_the_streaming_builder_agrees_with_the_tree_at_every_size() -> None:
    builder = TreeHeadBuilder()
    tree = MerkleTree(b"".join(LEAVES[:130]))
    assert builder.root() == EMPTY_ROOT
    for n in range(130):
        builder.append(LEAVES[n])
        assert builder.root() == tree.root(n + 1) == mth(LEAVES[: n + 1])


@given(cuts=st.lists(st.integers(0, 2600), max_size=5), total=st.integers(0, 5000))
@settings(max_examples=40, deadline=None)
def test_extending_in_any_pieces_gives_the_tree_head_at_every_cut(cuts: list[int], total: int) -> None:
    """extend() folds aligned blocks of TreeHeadBuilder.BLOCK leaves at once: any way of cutting
    the leaves into pieces (aligned or not, appended or extended) gives the RFC's head."""
    leaves = [hashlib.sha256(n.to_bytes(4, "big")).digest() for n in range(total)]
    tree = MerkleTree(b"".join(leaves))
    builder = TreeHeadBuilder()
    for cut in sorted({min(c, total) for c in cuts} | {total}):
        builder.extend(leaves[builder.size : cut])
        assert builder.size == cut
        assert builder.root() == tree.root(cut)
    builder.append(b"\x07" * 32)
    assert builder.root() == MerkleTree(b"".join(leaves) + b"\x07" * 32).root()


def test_leaves_that_are_not_whole_hashes_are_refused() -> None:
    with pytest.raises(ValueError):
        MerkleTree(b"\x00" * 33)


@pytest.mark.parametrize(("index", "size"), [(-1, 5), (5, 5), (0, 0), (0, 8)])
def test_proofs_outside_the_tree_are_refused(index: int, size: int) -> None:
    tree = MerkleTree(b"".join(LEAVES[:5]))
    with pytest.raises(ValueError):
        tree.inclusion_proof(index, size)


# --- properties over any tree up to a few thousand leaves ----------------------------------------

sizes = st.integers(min_value=1, max_value=len(LEAVES) - 1)  # one spare leaf to grow by


def altered(proof: list[bytes], data: st.DataObject) -> list[bytes]:
    """The proof with one hash flipped, dropped, added or two swapped: never the same list."""
    choices = ["add"] + (["flip", "drop"] if proof else []) + (["swap"] if len(set(proof)) > 1 else [])
    how = data.draw(st.sampled_from(choices))
    proof = list(proof)
    if how == "add":
        proof.insert(data.draw(st.integers(0, len(proof))), leaf(-1))
    elif how == "flip":
        at, bit = data.draw(st.integers(0, len(proof) - 1)), data.draw(st.integers(0, 255))
        damaged = bytearray(proof[at])
        damaged[bit // 8] ^= 1 << (bit % 8)
        proof[at] = bytes(damaged)
    elif how == "drop":
        del proof[data.draw(st.integers(0, len(proof) - 1))]
    else:
        i, j = data.draw(st.sampled_from([(i, j) for i in range(len(proof)) for j in range(i)]))
        if proof[i] == proof[j]:
            proof.insert(0, leaf(-1))
        proof[i], proof[j] = proof[j], proof[i]
    return proof


@settings(max_examples=300, deadline=None)
@given(size=sizes, data=st.data())
def test_any_leaf_of_any_tree_has_an_inclusion_proof_that_verifies_and_no_altered_one_does(
    size: int, data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, size - 1))
    tree = MerkleTree(b"".join(LEAVES[:size]))
    root = tree.root()
    proof = tree.inclusion_proof(index)
    if size <= 300:  # the recursive definitions are slow; they pin the small and odd shapes
        assert root == mth(LEAVES[:size])
        assert proof == path(index, LEAVES[:size])
    assert verify_inclusion(LEAVES[index], index, size, proof, root)
    assert not verify_inclusion(LEAVES[index], index, size, altered(proof, data), root)
    assert not verify_inclusion(leaf(-1), index, size, proof, root)
    other = data.draw(st.integers(0, size))
    if other != index:
        assert not verify_inclusion(LEAVES[index], other, size, proof, root)
    # a proof made for one tree size says nothing about the tree one leaf larger
    bigger = MerkleTree(b"".join(LEAVES[: size + 1]))
    assert not verify_inclusion(LEAVES[index], index, size + 1, proof, bigger.root())


@settings(max_examples=300, deadline=None)
@given(second=sizes, data=st.data())
def test_any_earlier_tree_is_proven_consistent_with_a_later_one_and_no_altered_proof_is(
    second: int, data: st.DataObject
) -> None:
    first = data.draw(st.integers(0, second))
    tree = MerkleTree(b"".join(LEAVES[:second]))
    first_root, second_root = tree.root(first), tree.root()
    proof = tree.consistency_proof(first)
    if second <= 300 and 0 < first < second:
        assert proof == subproof(first, LEAVES[:second], True)
    assert verify_consistency(first, second, first_root, second_root, proof)
    if 0 < first < second:
        assert not verify_consistency(first, second, first_root, second_root, altered(proof, data))
        assert not verify_consistency(first, second, leaf(-1), second_root, proof)
        assert not verify_consistency(first, second, first_root, leaf(-1), proof)
        bigger = MerkleTree(b"".join(LEAVES[: second + 1]))
        assert not verify_consistency(first, second + 1, first_root, bigger.root(), proof)
        # a history rewritten before `first`: the old head is no prefix of the new tree
        rewritten = MerkleTree(b"".join([leaf(-1), *LEAVES[1:second]]))
        assert not verify_consistency(
            first, second, first_root, rewritten.root(), rewritten.consistency_proof(first)
        )
    else:
        assert not verify_consistency(first, second, first_root, second_root, [leaf(-1)])
