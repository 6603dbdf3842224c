"""Appending to the ledger: the only writer of `LedgerEntry`.

Two ways in, one order. Inside a transaction `record_event` joins it, so a state change and its
entry commit together or not at all: the entry is appended under the ledger lock, held until the
caller commits. Outside any transaction on PostgreSQL (a playback, a denial: the entry is the
only write) the entry goes through a queue, `PendingEntry`. If no other appender holds the lock,
it is queued and moved in one transaction: one commit (migration 0007). Otherwise it is first
committed to the queue without any lock, so concurrent appenders share WAL flushes; then the
appender takes the lock and moves every queued entry into the ledger in one transaction (one
flush for the batch), or finds that another appender already moved its entry. Either way the
call returns only once the entry is in the ledger with its seq.
A queued entry keeps the time it was queued, so `recorded_at` may step back by the milliseconds
between two appenders' commits; seq, not time, is the ledger's order.

`seq` is gapless: on PostgreSQL moves and direct appends are serialised by a transaction-scoped
advisory lock; on SQLite by the database's write lock (IMMEDIATE transactions). A unique
constraint on `seq` backs both. Callers use READ COMMITTED (Django's default): in a REPEATABLE
READ transaction the last seq would be read from a stale snapshot, and the unique constraint
would refuse the append rather than let a duplicate in.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from audit import exports, signing, tile_store
from audit.canonical import COLUMNS, canonical_bytes, hashed_fields, leaf_hash, split_at_seq
from audit.exports import ExportFilters
from audit.keys import signing_key
from audit.merkle import ProofTree
from audit.models import LedgerEntry, LedgerExport, SignedTreeHead
from audit.selectors import LedgerInconsistent, last_seq, latest_head, ledger_tree, tree_root
from audit.tiles import MissingTile
from core.errors import InvalidInput
from core.rows import column_of

# An arbitrary, fixed 64-bit key for pg_advisory_xact_lock: "ledger" in ASCII.
LEDGER_LOCK_KEY = 0x6C6564676572
# Another for signing heads: signers queue behind each other, never behind or in front of appends.
HEADS_LOCK_KEY = 0x6C6564676572_68
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ACTION = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")  # used with fullmatch
ACTOR_KINDS = frozenset({"user", "recorder_client", "job", "system"})
# Cheap guard: details must never carry content, secrets or raw personal references. A key is
# refused when it is one of these words or ends in "_" and one of them ("api_key", "agent_ref").
_FORBIDDEN_WORDS = ("token", "password", "secret", "key", "identity", "content", "customer_ref", "agent_ref")
# Python spells floats from 1e16 up with an exponent; PostgreSQL's jsonb keeps them as numeric and
# gives back an int (1e16 -> 10000000000000000), which would change the canonical bytes.
_FLOAT_LIMIT = 1e16


def _max_length(column: str) -> int:
    field = LedgerEntry._meta.get_field(column)
    assert isinstance(field, models.Field)
    return int(field.max_length or 0)


@dataclass(frozen=True)
class Actor:
    kind: str  # "user" | "recorder_client" | "job" | "system"
    id: str
    label: str

    def __post_init__(self) -> None:
        if self.kind not in ACTOR_KINDS:
            raise ValueError(f"actor kind {self.kind!r} is not one of {sorted(ACTOR_KINDS)}")
        for column, value in (("actor_id", self.id), ("actor_label", self.label)):
            if not value or len(value) > _max_length(column):
                raise ValueError(f"{column} must be 1 to {_max_length(column)} characters: {value!r}")

    @classmethod
    def system(cls) -> Actor:
        return cls(kind="system", id="system", label="system")

    @classmethod
    def job(cls, name: str) -> Actor:
        return cls(kind="job", id=name, label=name)

    @classmethod
    def for_user(cls, user: Any) -> Actor:
        return cls(kind="user", id=str(user.pk), label=user.get_username())


def _forbidden(key: str) -> bool:
    key = key.lower()
    return any(key == word or key.endswith("_" + word) for word in _FORBIDDEN_WORDS)


def clean_details(details: Mapping[str, Any] | None) -> dict[str, Any]:
    """`details` as stored: a JSON object whose canonical bytes come back unchanged from either
    database, so a leaf hash computed now still matches when recomputed from the row.

    Raises ValueError for forbidden keys, non-string keys, values that are not JSON, floats that
    are not finite or not below 1e16 in magnitude, and strings with NUL (jsonb refuses it).
    Tuples become lists and -0.0 becomes 0.0, as the database would return them.
    """
    cleaned = _clean(dict(details or {}), "details")
    assert isinstance(cleaned, dict)
    return cleaned


def _clean(value: Any, path: str) -> Any:
    if isinstance(value, dict):
        cleaned = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{path}: keys must be strings, not {key!r}")
            if _forbidden(key):
                raise ValueError(f"{path}.{key} must not be written to the ledger")
            cleaned[_clean(key, path)] = _clean(item, f"{path}.{key}")
        return cleaned
    if isinstance(value, list | tuple):
        return [_clean(item, f"{path}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError(f"{path} contains a NUL character, which PostgreSQL's jsonb refuses")
        return value
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value) or abs(value) >= _FLOAT_LIMIT:
            raise ValueError(f"{path} = {value!r}: write it as an int or a string")
        return value + 0.0  # -0.0 -> 0.0: numeric has no negative zero
    raise ValueError(f"{path} is a {type(value).__name__}, which is not JSON")


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
) -> None:
    """Append one entry: inside the caller's transaction if there is one (committed with it),
    else through the queue; either way it is in the ledger, with its seq, when this returns.

    `details` is metadata about the event. Never put recording content, keys, tokens, passwords,
    secrets or raw customer references in it: the ledger is exported and kept forever. Callers are
    responsible; `clean_details` refuses the obvious keys and anything that is not stable JSON.
    Raises ValueError (and stores nothing) for a bad action, actor or details.
    """
    event = Event(action, actor, details, recording_id, session_id, case_id)
    if connection.in_atomic_block or connection.vendor != "postgresql":
        # SQLite serialises every write anyway: a queue would add a commit and save nothing.
        append_entry(event)
        return
    checked = _checked(event)
    recorded_at = timezone.now()
    before, after = split_at_seq(hashed_fields(seq=0, **_columns(checked, recorded_at)))
    # One round trip: the procedure queues the entry and moves the queue, in one commit when the
    # lock is free, else in two (migrations 0006, 0007). `details` goes as JSON text:
    # clean_details made it round-trip safe.
    with connection.cursor() as cursor:
        cursor.execute(
            "CALL audit_append(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s, %s)",
            [LEDGER_LOCK_KEY, recorded_at, checked.actor.kind, checked.actor.id, checked.actor.label,
             checked.action, checked.recording_id, checked.session_id, checked.case_id,
             json.dumps(checked.details), before, after],
        )  # fmt: skip


def _columns(event: Event, recorded_at: datetime) -> dict[str, Any]:
    return {
        "recorded_at": recorded_at,
        "actor_kind": event.actor.kind,
        "actor_id": event.actor.id,
        "actor_label": event.actor.label,
        "action": event.action,
        "recording_id": event.recording_id,
        "session_id": event.session_id,
        "case_id": event.case_id,
        "details": event.details,
    }


def append_entry(event: Event) -> LedgerEntry:
    """Append one entry directly under the ledger lock, inside the caller's transaction if there
    is one (the lock is then held until it ends), else in its own; returns the stored entry."""
    event = _checked(event)
    with transaction.atomic():
        [row] = _rows([event], last_seq=_lock_and_last_seq())
        entry = LedgerEntry(**row)
        _insert_entry(entry)
    return entry


def _insert_entry(entry: LedgerEntry) -> None:
    """INSERT one entry with a statement built once: on SQLite a playback's entry is appended
    here, before its first byte, and `Model.save()` took 0.1 ms to build the same statement.
    Values are prepared by the model's own fields, as save() prepares them."""
    returning = connection.features.can_return_columns_from_insert
    sql, fields = _insert_sql(connection.vendor, returning)
    values = [field.get_db_prep_save(getattr(entry, field.attname), connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        entry.pk = (
            cursor.fetchone()[0]
            if returning
            else connection.ops.last_insert_id(
                cursor, LedgerEntry._meta.db_table, column_of(LedgerEntry._meta.pk)
            )
        )
    entry._state.adding = False
    entry._state.db = connection.alias


@cache
def _insert_sql(vendor: str, returning: bool) -> tuple[str, tuple[models.Field, ...]]:
    """The INSERT of one entry (returning its new id if `returning`) and the fields it writes."""
    quote = connection.ops.quote_name
    fields = tuple(field for field in LedgerEntry._meta.concrete_fields if not field.primary_key)
    columns = ", ".join(quote(column_of(field)) for field in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {quote(LedgerEntry._meta.db_table)} ({columns}) VALUES ({placeholders})"  # noqa: S608
    if returning:
        sql += f" RETURNING {quote(column_of(LedgerEntry._meta.pk))}"
    return sql, fields


# Queues of apps above audit whose rows become entries (staff's account changes, queued by
# database triggers): each is a callable moving its rows into the ledger, registered at start.
_queues: list[Callable[[], int]] = []


def register_queue(move: Callable[[], int]) -> None:
    """Have `sequence_pending` (so every signed head) also move this queue into the ledger."""
    if move not in _queues:
        _queues.append(move)


def sequence_pending() -> int:
    """Move every entry committed to the queue into the ledger, under the lock; returns how many
    this call moved. Appends do this themselves; a signed head does it first, for entries left by
    an appender that died between its two steps. Only PostgreSQL queues (see record_event); the
    registered queues of other apps (register_queue) are moved on every database."""
    moved = sum(move() for move in _queues)
    if connection.vendor != "postgresql":
        return moved
    with connection.cursor() as cursor:
        cursor.execute("SELECT audit_sequence_pending(%s, NULL)", [LEDGER_LOCK_KEY])
        return moved + int(cursor.fetchone()[0])


def record_events(events: Sequence[Event], *, savepoint: bool = True) -> int:
    """Append several entries with consecutive seq under one lock, inside the caller's
    transaction if there is one (purge batches): on PostgreSQL with one COPY, elsewhere one
    multi-row INSERT. Returns the last seq appended (0 if none). `savepoint=False` inside a
    transaction: an error fails the caller's transaction (SQLite opens no savepoint while a
    statement of the caller's still has rows to give, as an INSERT ... RETURNING has)."""
    if not events:
        return 0
    events = _checked_all(events)
    with transaction.atomic(savepoint=savepoint):
        last = _lock_and_last_seq()
        rows = _rows(events, last_seq=last)
        _insert(rows)
    return last + len(rows)


def _insert(rows: list[dict[str, Any]]) -> None:
    if connection.vendor == "postgresql":
        _copy_into_ledger(rows)
    else:
        LedgerEntry.objects.bulk_create([LedgerEntry(**row) for row in rows])


def _lock() -> None:
    """Serialise appends until the caller's transaction ends (on SQLite its IMMEDIATE transaction
    already holds the database's write lock)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LEDGER_LOCK_KEY])


def _last_seq() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT seq FROM audit_ledgerentry ORDER BY seq DESC LIMIT 1")
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def _lock_and_last_seq() -> int:
    """Serialise appends until the caller's transaction ends, and read the last seq."""
    _lock()
    return _last_seq()


def _checked(event: Event) -> Event:
    """The event with its details cleaned and ids parsed; checked before the lock is taken, so a
    refused event neither waits for nor holds up other writers."""
    if not _ACTION.fullmatch(event.action) or len(event.action) > _max_length("action"):
        raise ValueError(
            f"ledger action {event.action!r} must be dotted lowercase (at most "
            f"{_max_length('action')} characters), e.g. recording.ingested"
        )
    return Event(
        action=event.action,
        actor=event.actor,
        details=clean_details(event.details),
        recording_id=_uuid(event.recording_id),
        session_id=_uuid(event.session_id),
        case_id=_uuid(event.case_id),
    )


def _checked_all(events: Sequence[Event]) -> list[Event]:
    """`_checked` for a batch. A purge batch shares one details object among a thousand events:
    it is cleaned once, not a thousand times (a fresh dict per event, as the database will hold)."""
    cleaned: dict[int, dict[str, Any]] = {}
    checked = []
    for event in events:
        key = id(event.details)
        if key not in cleaned:
            cleaned[key] = _checked(event).details or {}
        details = cleaned[key]
        if not _ACTION.fullmatch(event.action) or len(event.action) > _max_length("action"):
            _checked(event)  # raises the one error message
        checked.append(
            Event(
                action=event.action,
                actor=event.actor,
                details=dict(details),
                recording_id=_uuid(event.recording_id),
                session_id=_uuid(event.session_id),
                case_id=_uuid(event.case_id),
            )
        )
    return checked


def _rows(events: Sequence[Event], *, last_seq: int) -> list[dict[str, Any]]:
    """Column values of each (checked) entry, its leaf hash included. The time is read under the
    lock, so these entries' recorded_at follows seq as far as the clock does."""
    now = timezone.now()
    rows = []
    for seq, event in enumerate(events, start=last_seq + 1):
        row: dict[str, Any] = {"seq": seq, **_columns(event, now)}
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
    """A UUID from a UUID or its text; ValueError for anything else."""
    if value is None or isinstance(value, uuid.UUID):
        return value
    return uuid.UUID(str(value))


def sign_tree_head(*, trigger: str) -> tuple[SignedTreeHead, ProofTree]:
    """Sign the tree head of every committed entry now; returns the head and its tree.

    The tiles are caught up with the new entries first (audit/tile_store.py), in the signing
    transaction for the last of them, so no head is signed over missing tiles; the root is then
    read from the right edge of the tiles only, never from the whole ledger. Refuses
    (LedgerInconsistent) when the tiles no longer give the last signed head's root: a new head
    must never launder a rewritten history (entries rewritten under the tiles are what
    `verify_ledger` finds). Signers are serialised, so heads grow in tree size and time together.
    The entries are read without the ledger lock: appends go on.
    """
    key = signing_key()  # a missing or unsafe key fails before any work
    sequence_pending()  # entries queued by an appender that died before moving them
    _catch_up_tiles(upto=None)  # a backlog (a ledger from before tiles) in resumable chunks
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [HEADS_LOCK_KEY])
        size = last_seq()
        _catch_up_tiles(upto=size)
        tree = ledger_tree(tree_size=size)
        previous = latest_head()
        timestamp_ms = (timezone.now() - _EPOCH) // timedelta(milliseconds=1)
        if previous is not None:
            if tree_root(tree, int(previous.tree_size)) != bytes(previous.root_hash):
                raise LedgerInconsistent(
                    format_lazy(
                        _(
                            "The stored tiles of entries 1 to {size} no longer give the root of the head "
                            "signed at {signed_at} UTC: the ledger was altered."
                        ),
                        size=previous.tree_size,
                        signed_at=f"{previous.signed_at:%Y-%m-%d %H:%M:%S}",
                    )
                )
            timestamp_ms = max(timestamp_ms, previous.timestamp_ms)  # a clock stepping back
        signed = signing.sign_tree_head(
            key, tree_size=tree.size, root_hash=tree_root(tree), timestamp_ms=timestamp_ms
        )
        head = SignedTreeHead.objects.create(
            tree_size=signed.tree_size,
            root_hash=signed.root_hash,
            timestamp_ms=signed.timestamp_ms,
            signed_at=_EPOCH + timedelta(milliseconds=signed.timestamp_ms),
            key_id=signed.key_id,
            signature=signed.signature,
            trigger=trigger,
        )
    return head, tree


def build_tiles(
    *, chunk: int = tile_store.CATCH_UP_CHUNK, progress: Callable[[int], None] = lambda n: None
) -> int:
    """Catch the tiles up with every sequenced entry (`manage.py build_ledger_tiles`), resumable,
    and check them against the last signed head; returns the tiled size."""
    sequence_pending()
    size = _catch_up_tiles(upto=None, chunk=chunk, progress=progress)
    head = latest_head()
    if head is not None and head.tree_size <= size:
        root = tree_root(ledger_tree(tree_size=int(head.tree_size)))
        if root != bytes(head.root_hash):
            raise LedgerInconsistent(
                format_lazy(
                    _(
                        "The tiles built from entries 1 to {size} do not give the root of the head "
                        "signed at {signed_at} UTC: the ledger was altered."
                    ),
                    size=head.tree_size,
                    signed_at=f"{head.signed_at:%Y-%m-%d %H:%M:%S}",
                )
            )
    return size


def _catch_up_tiles(
    *,
    upto: int | None,
    chunk: int = tile_store.CATCH_UP_CHUNK,
    progress: Callable[[int], None] = lambda n: None,
) -> int:
    try:
        return tile_store.catch_up(upto=upto, chunk=chunk, progress=progress)
    except (MissingTile, tile_store.GapInLedger) as error:
        raise LedgerInconsistent(
            format_lazy(_("The ledger's tiles cannot be extended: {error}."), error=error)
        ) from None


def create_export(*, user: Any, filters: ExportFilters, since_head: int | None = None) -> LedgerExport:
    """Record `ledger.exported` (committed before anything else), sign a head that covers it,
    count the selected entries and digest both files, which downloads regenerate byte for byte.

    A previous head and a consistency proof from it go into the manifest: the head of
    `since_head` entries when given (an auditor's earlier export, to show the ledger only grew
    since), else the latest head. Raises InvalidInput, before writing anything, if the period is
    implausible (exports.period_problem) or no head of `since_head` entries exists.
    """
    problem = exports.period_problem(filters.since, filters.until)
    if problem:
        raise InvalidInput(problem)
    export_id = uuid.uuid4()
    if since_head is None:
        previous = latest_head()
    else:
        previous = SignedTreeHead.objects.filter(tree_size=since_head).order_by("timestamp_ms").first()
        if previous is None:
            raise InvalidInput(
                format_lazy(_("No signed tree head covers exactly {size} entries."), size=since_head)
            )
    event = append_entry(
        Event(
            action="ledger.exported",
            actor=Actor.for_user(user),
            details={"export_id": str(export_id), "filters": filters.as_json(), "since_head": since_head},
            case_id=filters.case_id,
            recording_id=filters.recording_id,
        )
    )
    head, tree = sign_tree_head(trigger=SignedTreeHead.Trigger.EXPORT)
    if previous is not None and previous.tree_size > head.tree_size:
        previous = None  # cannot happen (heads only grow); never claim a backwards proof
    proof = tree.consistency_proof(int(previous.tree_size)) if previous else []
    files = exports.digests(filters, tree)
    return LedgerExport.objects.create(
        id=export_id,
        created_at=event.recorded_at,
        created_by=user,
        filters=filters.as_json(),
        head=head,
        previous_head=previous,
        entry_count=filters.entries(tree_size=head.tree_size).count(),
        ledger_seq=event.seq,
        consistency_proof=[p.hex() for p in proof],
        files=files,
    )
