"""Crypto-shredding and deletion of recordings, step by step, for the retention purge.

Each step is a state transition guarded by the row's state, so a crash between any two steps
leaves rows the next run completes, and each transition (with its one ledger event) happens
exactly once however many workers run: rows are claimed with `SELECT ... FOR UPDATE SKIP LOCKED`.

    locked --shred_expired()--> shredded --delete_shredded_payloads()--> purged

An UPDATE leaves the old version of a row behind (PostgreSQL: a dead row version until VACUUM;
SQLite: the old page in the -wal until a checkpoint), so after a run `remove_overwritten_copies`
removes the old copies of the erased headers and references.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from audit.services import Actor, Event, record_events
from core.batching import any_of, rows_per_statement
from core.periods import add_period, parse_period
from recorder.models import Recording, Session
from recorder.pseudonyms import pseudonym
from recorder.stores import ObjectStore, StoreError

logger = logging.getLogger(__name__)

# A session's end for retention when it has no recording: when it ended, or, if it never ended,
# when it was registered. The partial index `session_unrecorded_due` covers it.
ENDED_OR_REGISTERED = Coalesce("ended_at", "registered_at")
# x + P3M <= now can hold for an x up to three days after now - P3M (31 Nov... clamps to the 28th).
MONTH_END_SLACK = timedelta(days=4)


@dataclass(frozen=True)
class Claimed:
    """What a purge step needs of a claimed recording (plain values: no model instances)."""

    id: uuid.UUID
    session_id: uuid.UUID
    object_key: str


def _claim(rows: QuerySet[Recording], limit: int) -> list[Claimed]:
    locked = rows.select_for_update(skip_locked=True, of=("self",))[:limit]
    return [Claimed(*row) for row in locked.values_list("id", "session_id", "object_key")]


@dataclass
class DeletionOutcome:
    purged: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def expired(*, now: datetime, held_session_ids: QuerySet[Any, Any]) -> QuerySet[Recording]:
    """Locked recordings past `expires_at` whose session is not held."""
    return (
        Recording.objects.filter(state=Recording.State.LOCKED, expires_at__lte=now)
        .exclude(session_id__in=held_session_ids)
        .order_by("expires_at", "id")
    )


def shred_expired(
    *, now: datetime, held_session_ids: QuerySet[Any, Any], limit: int, actor: Actor
) -> list[Claimed]:
    """Claim up to `limit` expired, unheld recordings and erase their headers, in one transaction.

    Erasing the header destroys the only wrapped copy of the file key: from this commit on no
    copy of the payload, in the store or in any backup, can be decrypted.
    """
    with transaction.atomic():
        claimed = _claim(expired(now=now, held_session_ids=held_session_ids), limit)
        _shred(claimed, actor=actor, reason="retention_expired")
    return claimed


def shred_recordings(*, recording_ids: list[uuid.UUID], actor: Actor, reason: str) -> list[Claimed]:
    """Erase the headers of these locked recordings now (an erasure request), in the caller's
    transaction: the caller has checked that no legal hold keeps them, under its locks."""
    with transaction.atomic():
        rows = Recording.objects.filter(any_of("id", recording_ids), state=Recording.State.LOCKED).order_by(
            "id"
        )
        claimed = [
            Claimed(*row) for row in rows.select_for_update().values_list("id", "session_id", "object_key")
        ]
        _shred(claimed, actor=actor, reason=reason)
    return claimed


def _shred(claimed: list[Claimed], *, actor: Actor, reason: str) -> None:
    if not claimed:
        return
    Recording.objects.filter(any_of("id", [r.id for r in claimed]), state=Recording.State.LOCKED).update(
        header=None, state=Recording.State.SHREDDED, shredded_at=timezone.now()
    )
    record_events(
        [Event("recording.shredded", actor, {"reason": reason}, r.id, r.session_id) for r in claimed]
    )


def delete_shredded_payloads(*, store: ObjectStore, limit: int, actor: Actor) -> DeletionOutcome:
    """Delete the payloads of shredded recordings, then mark them purged and pseudonymise the session.

    A recording is marked purged only once the store confirmed its object gone; the rest stay
    `shredded` for the next run, counted as failed.
    """
    with transaction.atomic():
        shredded = Recording.objects.filter(state=Recording.State.SHREDDED).order_by("shredded_at", "id")
        claimed = _claim(shredded, limit)
        outcome = delete_payloads(claimed, store=store, actor=actor)
    return outcome


def delete_shredded(
    *, recording_ids: list[uuid.UUID], store: ObjectStore, actor: Actor, reason: str
) -> DeletionOutcome:
    """`delete_shredded_payloads` for these recordings only (an erasure request); a purge worker
    claiming the same rows skips them (SKIP LOCKED), so each is marked purged once."""
    with transaction.atomic():
        shredded = Recording.objects.filter(any_of("id", recording_ids), state=Recording.State.SHREDDED)
        claimed = _claim(shredded.order_by("id"), len(recording_ids))
        outcome = delete_payloads(claimed, store=store, actor=actor, reason=reason)
    return outcome


def pseudonymise_now(*, session_ids: list[uuid.UUID], actor: Actor, reason: str) -> int:
    """Pseudonymise these sessions now, each with a `session.pseudonymised` entry (an erasure
    request: sessions without a recording, or whose payload the store has yet to delete)."""
    with transaction.atomic():
        due = list(
            Session.objects.select_for_update()
            .filter(any_of("id", session_ids), customer_ref__isnull=False)
            .values_list("id", flat=True)
        )
        pseudonymise_sessions(due)
        at = timezone.now().isoformat()
        record_events(
            [
                Event(
                    "session.pseudonymised",
                    actor,
                    {"reason": reason, "pseudonymised_at": at},
                    None,
                    session_id,
                )
                for session_id in due
            ]
        )
    return len(due)


def delete_payloads(
    claimed: list[Claimed], *, store: ObjectStore, actor: Actor, reason: str | None = None
) -> DeletionOutcome:
    """Delete the payloads of these shredded recordings; mark purged (and pseudonymise the
    session) those the store confirmed gone. The rest stay shredded for the next purge run."""
    outcome = DeletionOutcome()
    if not claimed:
        return outcome
    try:
        deleted = set(store.delete_many([r.object_key for r in claimed]))
    except StoreError as error:
        logger.warning("payload deletion failed for %d recording(s): %s", len(claimed), error)
        outcome.failed = len(claimed)
        outcome.errors.append(str(error))
        return outcome
    gone = [r for r in claimed if r.object_key in deleted]
    outcome.failed = len(claimed) - len(gone)
    _mark_purged(gone, actor=actor, reason=reason)
    outcome.purged = len(gone)
    if outcome.failed:
        outcome.errors.append(f"the store did not confirm {outcome.failed} deletion(s)")
    return outcome


def _mark_purged(recordings: list[Claimed], *, actor: Actor, reason: str | None = None) -> None:
    """Mark purged, pseudonymise their sessions and ledger it: three statements for the batch."""
    if not recordings:
        return
    purged_at = timezone.now()
    Recording.objects.filter(any_of("id", [r.id for r in recordings]), state=Recording.State.SHREDDED).update(
        state=Recording.State.PURGED, purged_at=purged_at
    )
    pseudonymise_sessions([r.session_id for r in recordings])
    details = {"purged_at": purged_at.isoformat()}
    if reason is not None:  # an erasure request; the purge's own entries name no reason
        details["reason"] = reason
    record_events([Event("recording.purged", actor, details, r.id, r.session_id) for r in recordings])


def pseudonymise_sessions(session_ids: list[uuid.UUID]) -> None:
    """Erase the raw customer and agent references and replace the tool's external id by its
    keyed hash (still unique, names nobody). The references' keyed hashes, computed at
    registration, remain: a later complaint still finds the tombstone by the customer's reference.
    Sessions pseudonymised already are left alone (their external id is a hash already)."""
    rows = Session.objects.filter(any_of("id", session_ids), customer_ref__isnull=False)
    hashed = [
        (id_, pseudonym(external_id, purpose="external_id"))
        for id_, external_id in rows.values_list("id", "external_id")
    ]
    if not hashed:
        return
    if connection.vendor == "postgresql":
        # Hand-built on the purge's hot path (bench/README.md, Purge, issue 20): one UPDATE joined
        # to the batch's (id, hash) pairs, two array parameters; bulk_update's CASE per row made
        # the 1000-session batch several times slower.
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {Session._meta.db_table} AS s SET external_id = v.hash, customer_ref = NULL, "  # noqa: S608 - the table name is ours
                "agent_ref = NULL FROM unnest(%s::uuid[], %s::text[]) AS v(id, hash) WHERE s.id = v.id",
                [[id_ for id_, _ in hashed], [hash_ for _, hash_ in hashed]],
            )
        return
    sessions = [
        Session(id=id_, external_id=hash_, customer_ref=None, agent_ref=None) for id_, hash_ in hashed
    ]
    Session.objects.bulk_update(
        sessions, ["external_id", "customer_ref", "agent_ref"], batch_size=rows_per_statement(4)
    )


def unrecorded_due(
    *, now: datetime, held_session_ids: QuerySet[Any, Any]
) -> QuerySet[Session, tuple[uuid.UUID, datetime]]:
    """Sessions that never got a recording, not pseudonymised yet, not held, whose end (or
    registration, if they never ended) lies at least about RECORDING_RETENTION back: a superset by
    at most the days a calendar month's end clamps (`is_unrecorded_due` decides exactly).
    Rows are (session id, ended or registered)."""
    period = parse_period(settings.RECORDING_RETENTION)
    cutoff = now - period + MONTH_END_SLACK
    return (
        Session.objects.annotate(ended_or_registered=ENDED_OR_REGISTERED)
        .filter(customer_ref__isnull=False, recording__isnull=True, ended_or_registered__lte=cutoff)
        .exclude(id__in=held_session_ids)
        .order_by("ended_or_registered", "id")
        .values_list("id", "ended_or_registered")
    )


def is_unrecorded_due(ended_or_registered: datetime, *, now: datetime) -> bool:
    return add_period(ended_or_registered, settings.RECORDING_RETENTION) <= now


def pseudonymise_unrecorded(
    *, now: datetime, held_session_ids: QuerySet[Any, Any], limit: int, actor: Actor
) -> int:
    """Claim up to `limit` due sessions without a recording and pseudonymise them, with one
    `session.pseudonymised` ledger event each, in one transaction. Returns how many it
    pseudonymised; 0 means none is due (the claim goes in due order, so the first not yet due
    ends the work)."""
    with transaction.atomic():
        rows = unrecorded_due(now=now, held_session_ids=held_session_ids)
        claimed = rows.select_for_update(skip_locked=True, of=("self",))[:limit]
        due = [
            (session_id, ended_or_registered)
            for session_id, ended_or_registered in claimed
            if is_unrecorded_due(ended_or_registered, now=now)
        ]
        if not due:
            return 0
        pseudonymise_sessions([session_id for session_id, _ in due])
        at = timezone.now().isoformat()
        record_events(
            [
                Event(
                    "session.pseudonymised",
                    actor,
                    {"reason": "retention_expired", "recording": None, "pseudonymised_at": at},
                    None,
                    session_id,
                )
                for session_id, _ in due
            ]
        )
    return len(due)


def sessions_for_customer(customer_ref: str) -> QuerySet[Session]:
    """Sessions of a customer, found by keyed hash: works before and after pseudonymisation."""
    return Session.objects.filter(customer_ref_hash=pseudonym(customer_ref, purpose="customer_ref"))


# The tables whose rows the purge overwrites: their old row versions hold what it erased (the
# wrapped file key of a shredded header, a pseudonymised session's customer and agent references).
OVERWRITTEN_TABLES = (Recording._meta.db_table, Session._meta.db_table)


def remove_overwritten_copies() -> None:
    """Remove the old copies of what the purge erased, once its changes are committed.

    SQLite (with `secure_delete`, config.settings): a TRUNCATE checkpoint copies the -wal's
    latest pages into the database, overwriting the old ones, and truncates the -wal to zero
    bytes: the older copies of the pages it held are gone. It waits for readers for the busy
    timeout; if they outlast it, the next run's checkpoint removes them.
    PostgreSQL: a VACUUM of the overwritten tables; why, rather than autovacuum, and what its
    cost is, are in docs/DEPLOYMENT.md ("Dead row versions") and bench/README.md. SKIP_LOCKED: a
    purge never waits behind another purge's or autovacuum's VACUUM of the same table.
    Inside an outer transaction (a test's) neither can run; there is nothing committed to clean.
    """
    if connection.in_atomic_block:
        return
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            busy, _, _ = cursor.fetchone()
            if busy:
                logger.warning(
                    "the -wal checkpoint after the purge waited for readers in vain; the next run retries"
                )
        elif connection.vendor == "postgresql":
            tables = ", ".join(connection.ops.quote_name(table) for table in OVERWRITTEN_TABLES)
            cursor.execute(f"VACUUM (SKIP_LOCKED) {tables}")
