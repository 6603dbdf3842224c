"""The ledger's stored tiles (C2SP tlog-tiles): byte-identical to tiles computed from scratch at
every size around tile and level boundaries, proofs from tiles identical to RFC 9162's reference
definitions, tampering caught by verify_ledger, tiles of an older ledger built by the command and
the migration, and a tile writer or appender killed mid-way (real processes) leaving a ledger that
still signs correct heads."""

from __future__ import annotations

import importlib
import random
import signal
import subprocess
import sys
import time
from io import StringIO

import pytest
from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from audit.integrity import check_ledger
from audit.keys import signing_key
from audit.merkle import MerkleTree, tree_head
from audit.models import LedgerEntry, LedgerTile, SignedTreeHead
from audit.services import Actor, record_event, sign_tree_head
from audit.tile_store import tiled_size
from audit.tiles import Tile, TileBuilder, TiledTree, right_edge, tile_path
from tests.audit.test_ledger import behind_the_triggers_back, tamper_tile_hash
from tests.audit.test_merkle import LEAVES, leaf, mth, path, subproof
from tests.ledger import append, verify_ledger
from tests.liveserver import ROOT, service_environment

ACTOR = Actor.job("test")


def scratch_tiles(leaves: list[bytes]) -> dict[tuple[int, int], bytes]:
    """The tiles of a tree written out from the spec: tile (L, N) holds the MTH of each complete
    run of 256**L leaves, hashes N*256 .. N*256+255 of that level, the last tile partial."""
    tiles: dict[tuple[int, int], bytes] = {}
    level, span = 0, 1
    while len(leaves) >= span:
        hashes = [tree_head(leaves[at : at + span]) for at in range(0, len(leaves) // span * span, span)]
        for index in range(0, len(hashes), 256):
            tiles[(level, index // 256)] = b"".join(hashes[index : index + 256])
        level, span = level + 1, span * 256
    return tiles


def built_in_pieces(leaves: list[bytes], seed: int) -> dict[tuple[int, int], Tile]:
    """Tiles built as the ledger builds them: in pieces of random size, each piece resumed from
    the stored right edge only, as a new catch-up would."""
    rng, size = random.Random(seed), 0
    stored: dict[tuple[int, int], Tile] = {}
    while size < len(leaves):
        step = rng.choice([1, 3, 255, 256, 257, 1000, 70_000])
        edge = {level: stored[(level, index)].hashes for level, index, _ in right_edge(size)}
        builder = TileBuilder(size, edge)
        builder.extend(b"".join(leaves[size : size + step]))
        size = builder.size
        stored.update({(tile.level, tile.index): tile for tile in builder.changed()})
    return stored


many_leaves = [leaf(n) for n in range(65_537)]


@pytest.mark.parametrize(
    "size",
    [1, 2, 255, 256, 257, 511, 512, 65_535, 65_536, 65_537, *random.Random(21).sample(range(1, 65_537), 4)],
)
def test_tiles_are_byte_identical_to_a_tree_built_from_scratch(size: int) -> None:
    leaves = many_leaves[:size]
    built = built_in_pieces(leaves, seed=size)
    assert {key: tile.hashes for key, tile in built.items()} == scratch_tiles(leaves)
    tree = TiledTree(size, lambda keys: {key: built[key] for key in keys if key in built})
    assert tree.root() == (mth(leaves) if size <= 3000 else tree_head(leaves))


def test_tile_paths_are_spelt_as_the_specification_writes_them() -> None:
    assert tile_path(0, 1234067) == "tile/0/x001/x234/067"
    assert tile_path(1, 5, 3) == "tile/1/005.p/3"
    assert tile_path(2, 0) == "tile/2/000"
    assert tile_path(0, 1000) == "tile/0/x001/000"


def test_proofs_from_tiles_are_the_rfc9162_reference_proofs() -> None:
    built = built_in_pieces(LEAVES, seed=7)
    rng = random.Random(9162)
    for size in [1, 2, 7, 255, 256, 257, 300, 511, 513, *rng.sample(range(1, len(LEAVES)), 6)]:
        tree = TiledTree(size, lambda keys: {key: built[key] for key in keys if key in built})
        leaves = LEAVES[:size]
        assert tree.root() == mth(leaves)
        for index in {0, size - 1, *rng.sample(range(size), min(size, 5))}:
            assert tree.inclusion_proof(index) == path(index, leaves)
        for first in {1, size, *rng.sample(range(1, size + 1), min(size, 5))}:
            expected = subproof(first, leaves, True) if first < size else []  # PROOF(n, D[n]) is empty
            assert tree.consistency_proof(first) == expected


def test_a_proof_reads_a_logarithmic_number_of_tiles() -> None:
    built = built_in_pieces(many_leaves, seed=3)
    tree = TiledTree(65_537, lambda keys: {key: built[key] for key in keys if key in built})
    tree.inclusion_proof(12_345)
    tree.consistency_proof(40_000)
    assert tree.tiles_read <= 8  # the leaf's and the older size's tiles at 3 levels, the right edge


def stored_tiles() -> dict[tuple[int, int], bytes]:
    return {(t.level, t.index): bytes(t.hashes) for t in LedgerTile.objects.all()}


def all_leaves() -> list[bytes]:
    return [bytes(h) for h in LedgerEntry.objects.order_by("seq").values_list("leaf_hash", flat=True)]


@pytest.mark.django_db
def test_the_stored_tiles_follow_the_ledger_head_after_head() -> None:
    for count in (255, 1, 1, 254, 1, 300):
        append(count)
        head, _ = sign_tree_head(trigger=SignedTreeHead.Trigger.SCHEDULE)
        assert stored_tiles() == scratch_tiles(all_leaves())
        assert bytes(head.root_hash) == mth(all_leaves())
    assert check_ledger().ok


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("level", "index", "position", "says"),
    [
        (0, 0, 5, "first bad seq 1: tile tile/0/000 does not match"),
        (0, 1, 200, "tile tile/0/001.p/44 does not match"),
        (1, 0, 0, "tile tile/1/000.p/1 does not match"),
    ],
)
def test_a_tampered_tile_is_caught_by_verify_ledger(level: int, index: int, position: int, says: str) -> None:
    append(300)
    sign_tree_head(trigger=SignedTreeHead.Trigger.SCHEDULE)
    append(2)
    assert "Ledger verified" in verify_ledger()
    tamper_tile_hash(level=level, index=index, position=min(position, 43), new=b"\x07" * 32)
    with pytest.raises(CommandError, match=says.replace(".", r"\.")):
        verify_ledger()


@pytest.mark.django_db
def test_tampered_inner_nodes_are_caught_by_verify_ledger() -> None:
    append(300)
    sign_tree_head(trigger=SignedTreeHead.Trigger.SCHEDULE)
    behind_the_triggers_back(
        'UPDATE audit_ledgertile SET "inner" = %s WHERE level = 0 AND "index" = 0',
        [b"\x07" * 30 * 32],
        table="audit_ledgertile",
    )
    with pytest.raises(CommandError, match="inner nodes do not match"):
        verify_ledger()


def forget_tiles() -> None:
    """A ledger as written before tiles existed."""
    behind_the_triggers_back("DELETE FROM audit_ledgertile", table="audit_ledgertile")


@pytest.mark.django_db
def test_build_ledger_tiles_builds_an_older_ledger_and_checks_the_last_head() -> None:
    append(700)
    sign_tree_head(trigger=SignedTreeHead.Trigger.SCHEDULE)
    append(5)
    forget_tiles()
    out = StringIO()
    call_command("build_ledger_tiles", verbosity=0, stdout=out)
    assert "cover 705 entries (705 added)" in out.getvalue()
    assert stored_tiles() == scratch_tiles(all_leaves())
    call_command("build_ledger_tiles", verbosity=0, stdout=out)  # nothing left to do
    assert "(0 added)" in out.getvalue()
    assert check_ledger().ok


@pytest.mark.django_db
def test_build_ledger_tiles_refuses_tiles_that_do_not_give_the_last_head() -> None:
    append(10)
    sign_tree_head(trigger=SignedTreeHead.Trigger.SCHEDULE)
    forget_tiles()
    behind_the_triggers_back("UPDATE audit_ledgerentry SET leaf_hash = %s WHERE seq = 4", [b"\x01" * 32])
    with pytest.raises(CommandError, match="do not give the root of the head"):
        call_command("build_ledger_tiles", verbosity=0, stdout=StringIO())


@pytest.mark.django_db
def test_the_migration_builds_the_tiles_of_a_small_ledger_and_leaves_a_large_one_to_the_command(
    capsys, monkeypatch
) -> None:
    migration = importlib.import_module("audit.migrations.0009_tiles_of_existing_ledgers")
    append(600)
    forget_tiles()
    migration.build(apps, None)
    assert "Built the tiles of the ledger's 600" in capsys.readouterr().out
    assert stored_tiles() == scratch_tiles(all_leaves())
    forget_tiles()
    monkeypatch.setattr(migration, "BUILT_HERE_UP_TO", 100)
    migration.build(apps, None)
    assert "Run `manage.py build_ledger_tiles`" in capsys.readouterr().out
    assert not LedgerTile.objects.exists()


@pytest.mark.django_db
def test_a_head_over_a_ledger_without_tiles_builds_them_first() -> None:
    append(300)
    forget_tiles()
    head, _ = sign_tree_head(trigger=SignedTreeHead.Trigger.COMMAND)
    assert bytes(head.root_hash) == mth(all_leaves())
    assert stored_tiles() == scratch_tiles(all_leaves())


@pytest.mark.postgres
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("statement", "says"),
    [
        ("UPDATE audit_ledgertile SET hashes = %s, width = 12", "only grows"),
        ("DELETE FROM audit_ledgertile", "append-only"),
    ],
)
def test_postgres_lets_a_tile_only_grow(statement: str, says: str) -> None:
    append(10)
    sign_tree_head(trigger=SignedTreeHead.Trigger.SCHEDULE)
    with pytest.raises(DatabaseError, match=says), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement, [b"\x00" * 32 * 12] if "%s" in statement else None)
    assert stored_tiles() == scratch_tiles(all_leaves())


TILE_WRITER = """
import django
django.setup()
from django.core.management import call_command
call_command("build_ledger_tiles", "--chunk", "256", verbosity=0)
"""

APPENDER = """
import django
django.setup()
from audit.services import Actor, record_event
actor = Actor.job("appender")
n = 0
while True:
    record_event(action="test.appended", actor=actor, details={"n": n})
    n += 1
"""


def killed_mid_way(script: str, until: object, env: dict[str, str]) -> None:
    process = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 120
        while not until() and time.monotonic() < deadline:  # type: ignore[operator]
            assert process.poll() is None, "the process ended before it could be killed"
            time.sleep(0.02)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_tile_writer_killed_mid_way_leaves_a_ledger_that_signs_correct_heads() -> None:
    signing_key()
    env = service_environment(LEDGER_SIGNING_KEY_FILE=settings.LEDGER_SIGNING_KEY_FILE)
    append(30_000)
    sign_tree_head(trigger=SignedTreeHead.Trigger.SCHEDULE)
    append(40_000)
    forget_tiles()
    killed_mid_way(TILE_WRITER, lambda: tiled_size() >= 2_560, env)
    assert 0 < tiled_size() < 70_000  # killed between two committed chunks, or inside one
    head, _ = sign_tree_head(trigger=SignedTreeHead.Trigger.SCHEDULE)
    assert head.tree_size == 70_000 and bytes(head.root_hash) == MerkleTree(b"".join(all_leaves())).root()
    assert stored_tiles() == scratch_tiles(all_leaves())
    assert check_ledger().ok


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_an_appender_killed_mid_way_leaves_a_ledger_that_signs_correct_heads() -> None:
    signing_key()
    env = service_environment(LEDGER_SIGNING_KEY_FILE=settings.LEDGER_SIGNING_KEY_FILE)
    record_event(action="test.appended", actor=ACTOR)
    sign_tree_head(trigger=SignedTreeHead.Trigger.SCHEDULE)
    killed_mid_way(APPENDER, lambda: LedgerEntry.objects.count() >= 300, env)
    head, _ = sign_tree_head(trigger=SignedTreeHead.Trigger.SCHEDULE)
    assert head.tree_size == LedgerEntry.objects.count()
    assert bytes(head.root_hash) == MerkleTree(b"".join(all_leaves())).root()
    assert stored_tiles() == scratch_tiles(all_leaves())
    assert check_ledger().ok
