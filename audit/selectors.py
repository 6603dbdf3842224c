"""Reads of the ledger."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

from audit.canonical import canonical_bytes, entry_fields, leaf_hash
from audit.models import LedgerEntry


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
