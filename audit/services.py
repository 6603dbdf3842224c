"""Appending to the ledger: the only writer of `LedgerEntry`.

`record_event` joins the caller's transaction, so a state change and its entry commit together
or not at all. `seq` is gapless: on PostgreSQL appends are serialised by a transaction-scoped
advisory lock held to commit; on SQLite by the database's write lock (IMMEDIATE transactions).
A unique constraint on `seq` backs both.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from audit.canonical import canonical_bytes, entry_fields, leaf_hash
from audit.models import LedgerEntry

# An arbitrary, fixed 64-bit key for pg_advisory_xact_lock: "ledger" in ASCII.
LEDGER_LOCK_KEY = 0x6C6564676572
_ACTION = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
# Cheap guard: details must never carry content, secrets or raw personal references.
_FORBIDDEN_KEYS = {
    "token",
    "password",
    "secret",
    "key",
    "file_key",
    "identity",
    "customer_ref",
    "agent_ref",
    "content",
}


@dataclass(frozen=True)
class Actor:
    kind: str  # "user" | "recorder_client" | "job" | "system"
    id: str
    label: str

    @classmethod
    def system(cls) -> Actor:
        return cls(kind="system", id="system", label="system")

    @classmethod
    def job(cls, name: str) -> Actor:
        return cls(kind="job", id=name, label=name)

    @classmethod
    def for_user(cls, user: Any) -> Actor:
        return cls(kind="user", id=str(user.pk), label=user.get_username())


def _check_details(details: Any, path: str = "details") -> None:
    if isinstance(details, dict):
        for key, value in details.items():
            if str(key).lower() in _FORBIDDEN_KEYS:
                raise ValueError(f"{path}.{key} must not be written to the ledger")
            _check_details(value, f"{path}.{key}")
    elif isinstance(details, list):
        for item in details:
            _check_details(item, path)


@dataclass(frozen=True)
class Event:
    """One entry to append (see `record_events`)."""

    action: str
    actor: Actor
    details: dict[str, Any] | None = None
    recording_id: uuid.UUID | str | None = None
    session_id: uuid.UUID | str | None = None
    case_id: uuid.UUID | str | None = None


def record_event(
    *,
    action: str,
    actor: Actor,
    details: dict[str, Any] | None = None,
    recording_id: uuid.UUID | str | None = None,
    session_id: uuid.UUID | str | None = None,
    case_id: uuid.UUID | str | None = None,
) -> LedgerEntry:
    """Append one entry. Never pass content, keys, tokens, passwords or raw customer references."""
    event = Event(action, actor, details, recording_id, session_id, case_id)
    [entry] = record_events([event])
    return entry


def record_events(events: Sequence[Event]) -> list[LedgerEntry]:
    """Append several entries with consecutive seq under one lock and one INSERT (purge batches)."""
    for event in events:
        if not _ACTION.match(event.action):
            raise ValueError(
                f"ledger action {event.action!r} must be dotted lowercase, e.g. recording.ingested"
            )
        _check_details(event.details or {})
        canonical_bytes(event.details or {})  # refuses anything not JSON-serialisable before the lock
    if not events:
        return []
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LEDGER_LOCK_KEY])
        last = LedgerEntry.objects.aggregate(last=Max("seq"))["last"] or 0
        now = timezone.now()
        entries = [_entry(event, seq=last + n, recorded_at=now) for n, event in enumerate(events, start=1)]
        LedgerEntry.objects.bulk_create(entries)
    return entries


def _entry(event: Event, *, seq: int, recorded_at: datetime) -> LedgerEntry:
    entry = LedgerEntry(
        seq=seq,
        recorded_at=recorded_at,
        actor_kind=event.actor.kind,
        actor_id=event.actor.id,
        actor_label=event.actor.label,
        action=event.action,
        recording_id=_uuid(event.recording_id),
        session_id=_uuid(event.session_id),
        case_id=_uuid(event.case_id),
        details=dict(event.details or {}),
    )
    entry.leaf_hash = leaf_hash(canonical_bytes(entry_fields(entry)))
    return entry


def _uuid(value: uuid.UUID | str | None) -> uuid.UUID | None:
    return None if value is None else uuid.UUID(str(value))
