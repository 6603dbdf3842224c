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
from typing import Any

from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from audit.canonical import COLUMNS, canonical_bytes, hashed_fields, leaf_hash
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
    with transaction.atomic():
        [row] = _rows([event], last_seq=_lock_and_last_seq())
        entry = LedgerEntry(**row)
        entry.save(force_insert=True)
    return entry


def record_events(events: Sequence[Event]) -> int:
    """Append several entries with consecutive seq under one lock (purge batches): on PostgreSQL
    with one COPY, elsewhere one multi-row INSERT. Returns the last seq appended (0 if none)."""
    if not events:
        return 0
    with transaction.atomic():
        last = _lock_and_last_seq()
        rows = _rows(events, last_seq=last)
        if connection.vendor == "postgresql":
            _copy_into_ledger(rows)
        else:
            LedgerEntry.objects.bulk_create([LedgerEntry(**row) for row in rows])
    return last + len(rows)


def _lock_and_last_seq() -> int:
    """Serialise appends until the caller's transaction ends, and read the last seq."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LEDGER_LOCK_KEY])
    return int(LedgerEntry.objects.aggregate(last=Max("seq"))["last"] or 0)


def _rows(events: Sequence[Event], *, last_seq: int) -> list[dict[str, Any]]:
    """Column values of each entry, its leaf hash included; refuses bad actions and details."""
    now = timezone.now()
    rows = []
    for seq, event in enumerate(events, start=last_seq + 1):
        if not _ACTION.match(event.action):
            raise ValueError(
                f"ledger action {event.action!r} must be dotted lowercase, e.g. recording.ingested"
            )
        details = dict(event.details or {})
        _check_details(details)
        row: dict[str, Any] = {
            "seq": seq,
            "recorded_at": now,
            "actor_kind": event.actor.kind,
            "actor_id": event.actor.id,
            "actor_label": event.actor.label,
            "action": event.action,
            "recording_id": _uuid(event.recording_id),
            "session_id": _uuid(event.session_id),
            "case_id": _uuid(event.case_id),
            "details": details,
        }
        row["leaf_hash"] = leaf_hash(canonical_bytes(hashed_fields(**row)))
        rows.append(row)
    return rows


def _copy_into_ledger(rows: list[dict[str, Any]]) -> None:
    """COPY takes a purge batch's thousand entries in a fraction of the time of a multi-row
    INSERT with 11,000 parameters (built, sent and parsed)."""
    from psycopg.types.json import Jsonb

    columns = (*COLUMNS, "leaf_hash")
    statement = f"COPY {LedgerEntry._meta.db_table} ({', '.join(columns)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row([Jsonb(row[c]) if c == "details" else row[c] for c in columns])


def _uuid(value: uuid.UUID | str | None) -> uuid.UUID | None:
    return None if value is None else uuid.UUID(str(value))
