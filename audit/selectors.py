"""Reads of the ledger."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from django.db.models import Count, QuerySet
from django.db.models.functions import TruncWeek

from audit import tile_store
from audit.canonical import canonical_bytes, entry_fields, leaf_hash
from audit.merkle import ProofTree
from audit.models import LedgerEntry, SignedTreeHead
from audit.tile_store import tiled_size
from audit.tiles import MissingTile, TiledTree
from config.errors import DomainError


def entries(
    *,
    action: str | None = None,
    recording_id: uuid.UUID | str | None = None,
    session_id: uuid.UUID | str | None = None,
    after_seq: int = 0,
) -> QuerySet[LedgerEntry]:
    query = LedgerEntry.objects.filter(seq__gt=after_seq)
    if action is not None:
        query = query.filter(action=action)
    if recording_id is not None:
        query = query.filter(recording_id=recording_id)
    if session_id is not None:
        query = query.filter(session_id=session_id)
    return query.order_by("seq")


def verify_leaf_hashes(*, start_seq: int = 1) -> int | None:
    """Recompute every leaf hash from `start_seq` on; the first bad or missing seq, or None."""
    expected = start_seq
    for entry in LedgerEntry.objects.filter(seq__gte=start_seq).order_by("seq").iterator(chunk_size=2000):
        if entry.seq != expected:
            return expected
        if bytes(entry.leaf_hash) != leaf_hash(canonical_bytes(entry_fields(entry))):
            return int(entry.seq)
        expected += 1
    return None


class LedgerInconsistent(DomainError):
    """The stored ledger contradicts itself: a gap in seq, or leaves that no longer give a signed
    head's root. Nothing is signed or exported over it; `manage.py verify_ledger` says where."""

    code = "ledger_inconsistent"
    status = 500


def last_seq() -> int:
    return int(LedgerEntry.objects.order_by("-seq").values_list("seq", flat=True).first() or 0)


def ledger_tree(*, tree_size: int) -> TiledTree:
    """The Merkle tree of entries seq 1..tree_size, read from the stored tiles, which must cover
    it (`tile_store.catch_up`); its root is checked here, so a missing or short tile is refused
    before anything is built on it. Reads only the right edge of the tree."""
    if tiled_size() < tree_size:
        raise LedgerInconsistent(
            f"The ledger's tiles cover {tiled_size()} entries, not {tree_size}: "
            "run manage.py build_ledger_tiles."
        )
    tree = tile_store.tree(tree_size)
    tree_root(tree)
    return tree


def tree_root(tree: ProofTree, size: int | None = None) -> bytes:
    """The tree's root at `size`; LedgerInconsistent if a tile it needs is missing or short."""
    try:
        return tree.root(size)
    except MissingTile as error:
        raise LedgerInconsistent(f"The ledger's tiles are incomplete: {error}.") from None


def latest_head() -> SignedTreeHead | None:
    return SignedTreeHead.objects.order_by("-tree_size", "-timestamp_ms", "-id").first()


# Accesses to recordings, as the auditor page charts them per week.
ACCESS_ACTIONS = {"recording.played": "played", "access.denied": "denied"}


def accesses_per_week(*, now: datetime, weeks: int = 12) -> list[tuple[datetime, dict[str, int]]]:
    """(Monday 00:00 UTC, {"played": n, "denied": n}) for the last `weeks` weeks, oldest first."""
    this_monday = (now.astimezone(UTC) - timedelta(days=now.astimezone(UTC).weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    starts = [this_monday - timedelta(weeks=n) for n in reversed(range(weeks))]
    counts: dict[datetime, dict[str, int]] = {
        start: dict.fromkeys(ACCESS_ACTIONS.values(), 0) for start in starts
    }
    rows = (
        LedgerEntry.objects.filter(action__in=ACCESS_ACTIONS, recorded_at__gte=starts[0])
        .annotate(week=TruncWeek("recorded_at", tzinfo=UTC))
        .values_list("week", "action")
        .annotate(n=Count("id"))
    )
    for week, action, n in rows:
        counts[week.astimezone(UTC)][ACCESS_ACTIONS[action]] += n
    return [(start, counts[start]) for start in starts]
