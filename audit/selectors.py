"""Reads of the ledger."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from django.db.models import Count, QuerySet
from django.db.models.functions import TruncWeek
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from audit import signed_note, tile_store
from audit.canonical import canonical_bytes, entry_fields, leaf_hash
from audit.keys import ledger_origin, signing_key
from audit.merkle import HASH_SIZE, ProofTree
from audit.models import LedgerEntry, LedgerExport, SignedTreeHead
from audit.signed_note import Checkpoint
from audit.tile_store import fetch_tiles, tiled_size
from audit.tiles import MissingTile, TiledTree, tile_width_in
from core.errors import DomainError, NotFound


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
            format_lazy(
                _("The ledger's tiles cover {tiled} entries, not {size}: run manage.py build_ledger_tiles."),
                tiled=tiled_size(),
                size=tree_size,
            )
        )
    tree = tile_store.tree(tree_size)
    tree_root(tree)
    return tree


def tree_root(tree: ProofTree, size: int | None = None) -> bytes:
    """The tree's root at `size`; LedgerInconsistent if a tile it needs is missing or short."""
    try:
        return tree.root(size)
    except MissingTile as error:
        raise LedgerInconsistent(
            format_lazy(_("The ledger's tiles are incomplete: {error}."), error=error)
        ) from None


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


def recent_exports(*, limit: int) -> QuerySet[LedgerExport]:
    """The latest exports, newest first, with who made them and their head."""
    return LedgerExport.objects.select_related("created_by", "head").order_by("-created_at")[:limit]


def signed_checkpoint(head: SignedTreeHead) -> str:
    """The head as a C2SP checkpoint, signed as a note with the ledger's key (Ed25519 signatures
    are deterministic: the same head always gives the same bytes)."""
    checkpoint = Checkpoint(
        origin=ledger_origin(), tree_size=int(head.tree_size), root_hash=bytes(head.root_hash)
    )
    return signed_note.signed_checkpoint(checkpoint, signing_key())


def served_tile(*, level: int, index: int, width: int) -> bytes | None:
    """The tile (level, index) of `width` hashes as tlog-tiles serves it, if the latest signed
    head's tree holds that many (tiles past the last signed head are not published); else None."""
    head = latest_head()
    if head is None or width > tile_width_in(int(head.tree_size), level, index):
        return None
    tile = fetch_tiles({(level, index)}).get((level, index))
    if tile is None or tile.width < width:
        raise LedgerInconsistent(
            format_lazy(_("The signed tree's tile {level}/{index} is not stored."), level=level, index=index)
        )
    return tile.hashes[: width * HASH_SIZE]


def signed_size(tree_size: int | None) -> int:
    """`tree_size` if a head of that size was signed (the latest head's size if None), else NotFound."""
    if tree_size is None:
        head = latest_head()
        if head is None:
            raise NotFound(_("No tree head has been signed yet."), code="no_head")
        return int(head.tree_size)
    if not SignedTreeHead.objects.filter(tree_size=tree_size).exists():
        raise NotFound(
            format_lazy(_("No signed tree head covers exactly {size} entries."), size=tree_size),
            code="no_head",
        )
    return tree_size


def inclusion_proof(*, seq: int, tree_size: int) -> tuple[bytes, list[bytes]]:
    """(leaf hash, PATH) of entry `seq` in the signed tree of `tree_size`, from O(log n) tiles."""
    if not 1 <= seq <= tree_size:
        raise NotFound(
            format_lazy(_("Entry {seq} is not in the tree of {size} entries."), seq=seq, size=tree_size),
            code="not_in_tree",
        )
    tree = ledger_tree(tree_size=tree_size)
    try:
        return tree.leaf(seq - 1), tree.inclusion_proof(seq - 1)
    except MissingTile as error:
        raise LedgerInconsistent(
            format_lazy(_("The ledger's tiles are incomplete: {error}."), error=error)
        ) from None


def consistency_proof(*, first: int, second: int) -> list[bytes]:
    """PROOF(first, second) between two signed trees, from O(log n) tiles."""
    if first > second:
        raise NotFound(
            format_lazy(
                _("No consistency proof from {first} entries back to {second}."), first=first, second=second
            ),
            code="not_in_tree",
        )
    try:
        return ledger_tree(tree_size=second).consistency_proof(first)
    except MissingTile as error:
        raise LedgerInconsistent(
            format_lazy(_("The ledger's tiles are incomplete: {error}."), error=error)
        ) from None
