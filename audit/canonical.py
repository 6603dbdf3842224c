"""Canonical bytes and RFC 9162 leaf hashes of ledger entries (pure; no Django needed).

The offline verifier reuses this module, so it depends on the standard library only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

LEAF_PREFIX = b"\x00"  # RFC 9162 section 2.1.1: MTH({d(0)}) = SHA-256(0x00 || d(0))


def timestamp(moment: datetime) -> str:
    """ISO 8601 in UTC with microseconds and a Z, the one spelling that is hashed."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# allow_nan=False: NaN and Infinity are not JSON (RFC 8259), so they have no canonical bytes.
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def canonical_bytes(fields: Mapping[str, Any]) -> bytes:
    """JSON with sorted keys and no white space, UTF-8: the same entry always gives the same bytes."""
    return _ENCODER.encode(fields).encode()


def split_at_seq(fields: Mapping[str, Any]) -> tuple[bytes, bytes]:
    """The canonical bytes of `fields` around the value of their top-level "seq": `before +
    str(seq) + after` is `canonical_bytes(fields)` for any seq. An entry queued before it has a
    seq carries these two, and PostgreSQL's sequencer joins them with the seq it assigns.

    The halves are found by encoding the entry with two different seq values and taking the
    common prefix and suffix, so nothing here repeats the encoder's rules.
    """
    one = canonical_bytes({**fields, "seq": 1})
    two = canonical_bytes({**fields, "seq": 2})
    cut = next(i for i, (a, b) in enumerate(zip(one, two, strict=True)) if a != b)
    return one[:cut], one[cut + 1 :]


def leaf_hash(canonical: bytes) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + canonical).digest()


def _id(value: Any) -> str | None:
    return None if value is None else str(value)


COLUMNS = (
    "seq", "recorded_at", "actor_kind", "actor_id", "actor_label", "action",
    "recording_id", "session_id", "case_id", "details",
)  # fmt: skip


def hashed_fields(
    *,
    seq: int,
    recorded_at: datetime,
    actor_kind: str,
    actor_id: str,
    actor_label: str,
    action: str,
    recording_id: Any,
    session_id: Any,
    case_id: Any,
    details: Any,
) -> dict[str, Any]:
    """The fields a leaf hash covers, from the ledger's columns: the one definition of an entry."""
    return {
        "seq": int(seq),
        "recorded_at": timestamp(recorded_at),
        "actor": {"kind": actor_kind, "id": actor_id, "label": actor_label},
        "action": action,
        "recording_id": _id(recording_id),
        "session_id": _id(session_id),
        "case_id": _id(case_id),
        "details": details,
    }


def entry_fields(entry: Any) -> dict[str, Any]:
    """The hashed fields of a ledger entry (a LedgerEntry or anything with those attributes)."""
    return hashed_fields(**{column: getattr(entry, column) for column in COLUMNS})
