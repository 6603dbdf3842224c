"""Retention services: expiry at ingest, legal holds, and the purge of expired recordings.

The purge follows DESIGN.md's order per batch: claim (SKIP LOCKED) and shred with the ledger
event in one transaction, delete the payloads (DeleteObjects, 1000 keys a call), then mark
purged, pseudonymise the session and write the ledger event. Then sessions that never got a
recording are pseudonymised once their retention has passed, in batches of their own. The
mechanics of each step live in `recorder.shredding`; this module decides what to purge and
keeps the record of the run.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, connections, transaction
from django.db.models import Q
from django.utils import timezone

from audit.services import Actor, record_event
from core.errors import Conflict, NotFound
from recorder import shredding
from recorder.models import Recording, Session
from recorder.stores import StoreError, get_store
from retention import selectors, signals
from retention.models import LegalHold, PurgeRun

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int], None]  # (shredded in this batch, purged in this batch)


def place_legal_hold(
    *, session_id: uuid.UUID | str, reason: str, actor: Actor, case_id: uuid.UUID | None = None
) -> LegalHold:
    """Hold a session's recording past its expiry (a complaint needs it)."""
    with transaction.atomic():
        session = Session.objects.filter(pk=session_id).first()
        if session is None:
            raise NotFound("No such session.", code="session_not_found")
        # Lock the recording row: a purge batch claiming it concurrently either finishes first
        # (and the hold comes too late, as the ledger shows) or sees the hold.
        recording = Recording.objects.select_for_update().filter(session=session).first()
        hold = LegalHold(
            session=session, case_id=case_id, reason=reason, placed_at=timezone.now(), placed_by=actor.label
        )
        hold.full_clean()
        hold.save()
        if recording is not None:
            key = recording.object_key
            transaction.on_commit(lambda: _mirror_legal_hold(key, on=True))
        record_event(
            action="legal_hold.placed",
            actor=actor,
            session_id=session.id,
            recording_id=recording.id if recording else None,
            case_id=case_id,
            details={
                "hold": str(hold.id),
                "recording_state": recording.state if recording else None,
                "reason": reason,
            },
        )
    return hold


def release_legal_hold(*, hold_id: uuid.UUID | str, actor: Actor, reason: str = "") -> LegalHold:
    """Release a hold (`reason` goes to the ledger); an expired recording with no other hold is
    purged on the next run."""
    with transaction.atomic():
        hold = LegalHold.objects.select_for_update().filter(pk=hold_id).first()
        if hold is None:
            raise NotFound("No such legal hold.", code="hold_not_found")
        if hold.released_at is not None:
            raise Conflict("The legal hold was released already.", code="hold_released")
        hold.released_at = timezone.now()
        hold.released_by = actor.label
        hold.save(update_fields=["released_at", "released_by"])
        recording = Recording.objects.filter(session_id=hold.session_id).first()
        still_held = LegalHold.objects.filter(session_id=hold.session_id, released_at__isnull=True).exists()
        if recording is not None and not still_held:
            key = recording.object_key
            transaction.on_commit(lambda: _mirror_legal_hold(key, on=False))
        record_event(
            action="legal_hold.released",
            actor=actor,
            session_id=hold.session_id,
            case_id=hold.case_id,
            details={"hold": str(hold.id), "reason": reason[:500]},
        )
    return hold


def _mirror_legal_hold(key: str, *, on: bool) -> None:
    """Mirror a hold onto the stored object (S3 Object Lock); the database hold is what the purge obeys."""
    try:
        get_store().set_legal_hold(key, on=on)
    except StoreError as error:
        logger.error("legal hold %s not mirrored onto %s: %s", "on" if on else "off", key, error)


def purge_expired(
    *,
    trigger: str = PurgeRun.Trigger.SCHEDULE,
    dry_run: bool = False,
    limit: int | None = None,
    batch_size: int | None = None,
    progress: ProgressCallback | None = None,
) -> PurgeRun:
    """Purge every expired, unheld recording (at most `limit`); safe beside other purge workers."""
    batch_size = batch_size or settings.PURGE_BATCH_SIZE
    now = timezone.now()
    mark_abandoned_runs(now=now)
    run = PurgeRun.objects.create(trigger=trigger, dry_run=dry_run, started_at=now, progressed_at=now)
    run.skipped_held = Recording.objects.filter(
        state=Recording.State.LOCKED, expires_at__lte=now, session_id__in=selectors.held_session_ids()
    ).count()
    if dry_run:
        backlog = selectors.purge_backlog(now=now, limit=limit)
        run.shredded, run.purged = backlog.to_shred, backlog.to_purge
        run.pseudonymised = backlog.to_pseudonymise
    else:
        _run_batches(run, now=now, limit=limit, batch_size=batch_size, progress=progress)
        _pseudonymise_unrecorded(run, now=now, batch_size=batch_size, progress=progress)
    run.finished_at = timezone.now()
    with transaction.atomic():
        run.save()
        if not dry_run:
            record_event(
                action="retention.purge_run",
                actor=Actor.job("purge"),
                details={
                    "run": str(run.id),
                    "shredded": run.shredded,
                    "purged": run.purged,
                    "pseudonymised": run.pseudonymised,
                    "skipped_held": run.skipped_held,
                    "failed": run.failed,
                },
            )
            if run.failed:
                signals.purge_run_failed.send(sender=PurgeRun, run_id=run.id)
    if not dry_run and (run.shredded or run.purged or run.pseudonymised):
        shredding.remove_overwritten_copies()
    return run


def mark_abandoned_runs(*, now: datetime) -> int:
    """Runs whose worker died (no batch finished for PURGE_RUN_STALE_AFTER_SECONDS) are marked
    abandoned, so nobody reads them as still running; what they left is completed by this run."""
    stale_before = now - timedelta(seconds=settings.PURGE_RUN_STALE_AFTER_SECONDS)
    stale = Q(progressed_at__lt=stale_before) | Q(progressed_at__isnull=True, started_at__lt=stale_before)
    with transaction.atomic():
        unfinished = PurgeRun.objects.filter(finished_at__isnull=True, abandoned_at__isnull=True)
        abandoned = list(unfinished.select_for_update().filter(stale).values_list("id", flat=True))
        PurgeRun.objects.filter(id__in=abandoned).update(abandoned_at=now)
        for run_id in abandoned:
            signals.purge_run_failed.send(sender=PurgeRun, run_id=run_id)
    return len(abandoned)


def _checkpoint(run: PurgeRun) -> None:
    """Save the run's counts after a batch: operators see a long run advance, and a run that
    stops advancing is recognisably abandoned."""
    run.progressed_at = timezone.now()
    run.save(update_fields=["progressed_at", "shredded", "purged", "pseudonymised", "failed", "errors"])


def _run_batches(
    run: PurgeRun, *, now: datetime, limit: int | None, batch_size: int, progress: ProgressCallback | None
) -> None:
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        _run_batches_pipelined(run, now=now, limit=limit, batch_size=batch_size, progress=progress)
    else:
        _run_batches_in_turn(run, now=now, limit=limit, batch_size=batch_size, progress=progress)


def _shred_next(run: PurgeRun, *, now: datetime, limit: int | None, batch_size: int, actor: Actor) -> int:
    room = batch_size if limit is None else min(batch_size, limit - run.shredded)
    if room <= 0:
        return 0
    claimed = shredding.shred_expired(
        now=now, held_session_ids=selectors.held_session_ids(), limit=room, actor=actor
    )
    run.shredded += len(claimed)
    return len(claimed)


def _count_deletions(run: PurgeRun, outcome: shredding.DeletionOutcome) -> bool:
    """Add a deletion batch to the run; False once the store fails (it will fail for the rest of
    this run: the rest is left for the next)."""
    run.purged += outcome.purged
    run.failed += outcome.failed
    run.errors.extend(outcome.errors)
    return outcome.failed == 0


def _run_batches_pipelined(
    run: PurgeRun, *, now: datetime, limit: int | None, batch_size: int, progress: ProgressCallback | None
) -> None:
    """On PostgreSQL, batch N's payloads are deleted (a round trip to the store, then the purged
    marks) on a second connection while batch N+1 is shredded on this one. Each step is still its
    own transaction in DESIGN.md's order for every recording; only different batches overlap.
    The steps' row locks are disjoint (locked rows here, shredded rows there), so they never wait
    for each other except on the ledger's append lock, which each holds only to its commit.
    """
    actor = Actor.job("purge")
    store = get_store()

    def delete_batch() -> shredding.DeletionOutcome:
        return shredding.delete_shredded_payloads(store=store, limit=batch_size, actor=actor)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="purge-delete") as deleter:
        try:
            pending: Future[shredding.DeletionOutcome] | None = None
            deletions_work, first = True, True
            while True:
                shredded = _shred_next(run, now=now, limit=limit, batch_size=batch_size, actor=actor)
                purged = 0
                if pending is not None:
                    outcome = pending.result()
                    pending = None
                    purged = outcome.purged
                    deletions_work = _count_deletions(run, outcome)
                # The first deletion also takes whatever a crashed run left shredded.
                if deletions_work and (shredded or purged or first):
                    pending = deleter.submit(delete_batch)
                first = False
                _checkpoint(run)
                if progress is not None:
                    progress(shredded, purged)
                if not shredded and pending is None:
                    return
        finally:
            deleter.submit(connections.close_all).result()  # the thread's own connection


def _pseudonymise_unrecorded(
    run: PurgeRun, *, now: datetime, batch_size: int, progress: ProgressCallback | None
) -> None:
    """Sessions that never got a recording (refused, or no upload came) end like a purged
    recording's session: pseudonymised RECORDING_RETENTION after they ended, in batches, a ledger
    event each, unless a legal hold keeps them. Nothing to delete in a store: no payload exists."""
    actor = Actor.job("purge")
    while True:
        done = shredding.pseudonymise_unrecorded(
            now=now, held_session_ids=selectors.held_session_ids(), limit=batch_size, actor=actor
        )
        run.pseudonymised += done
        _checkpoint(run)
        if progress is not None and done:
            progress(0, 0)
        if done < batch_size:
            return


def _run_batches_in_turn(
    run: PurgeRun, *, now: datetime, limit: int | None, batch_size: int, progress: ProgressCallback | None
) -> None:
    """Shred a batch, delete a batch, repeat: on SQLite (one writer at a time) and inside an
    outer transaction (which a second connection could not see into)."""
    actor = Actor.job("purge")
    store = get_store()
    deletions_work = True
    while True:
        shredded = _shred_next(run, now=now, limit=limit, batch_size=batch_size, actor=actor)
        purged = 0
        if deletions_work:
            outcome = shredding.delete_shredded_payloads(store=store, limit=batch_size, actor=actor)
            purged = outcome.purged
            deletions_work = _count_deletions(run, outcome)
        _checkpoint(run)
        if progress is not None:
            progress(shredded, purged)
        if not shredded and not purged:
            return
