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


def canonical_bytes(fields: Mapping[str, Any]) -> bytes:
    """JSON with sorted keys and no white space, UTF-8: the same entry always gives the same bytes."""
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def leaf_hash(canonical: bytes) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + canonical).digest()


def _id(value: Any) -> str | None:
    return None if value is None else str(value)


def entry_fields(entry: Any) -> dict[str, Any]:
    """The hashed fields of a ledger entry (a LedgerEntry or anything with those attributes)."""
    return {
        "seq": int(entry.seq),
        "recorded_at": timestamp(entry.recorded_at),
        "actor": {"kind": entry.actor_kind, "id": entry.actor_id, "label": entry.actor_label},
        "action": entry.action,
        "recording_id": _id(entry.recording_id),
        "session_id": _id(entry.session_id),
        "case_id": _id(entry.case_id),
        "details": entry.details,
    }
