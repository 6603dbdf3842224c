"""Crypto-shredding and deletion of recordings, step by step, for the retention purge.

Each step is a state transition guarded by the row's state, so a crash between any two steps
leaves rows the next run completes, and each transition (with its one ledger event) happens
exactly once however many workers run: rows are claimed with `SELECT ... FOR UPDATE SKIP LOCKED`.

    locked --shred_expired()--> shredded --delete_shredded_payloads()--> purged
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from audit.services import Actor, record_event
from recorder.models import Recording, Session
from recorder.pseudonyms import pseudonym
from recorder.stores import ObjectStore, StoreError

logger = logging.getLogger(__name__)


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
) -> list[Recording]:
    """Claim up to `limit` expired, unheld recordings and erase their headers, in one transaction.

    Erasing the header destroys the only wrapped copy of the file key: from this commit on no
    copy of the payload, in the store or in any backup, can be decrypted.
    """
    with transaction.atomic():
        claimed = list(
            expired(now=now, held_session_ids=held_session_ids)
            .select_for_update(skip_locked=True, of=("self",))
            .only("id", "session_id", "object_key", "state")[:limit]
        )
        if not claimed:
            return []
        shredded_at = timezone.now()
        Recording.objects.filter(id__in=[r.id for r in claimed], state=Recording.State.LOCKED).update(
            header=None, state=Recording.State.SHREDDED, shredded_at=shredded_at
        )
        for recording in claimed:
            record_event(
                action="recording.shredded",
                actor=actor,
                recording_id=recording.id,
                session_id=recording.session_id,
                details={"reason": "retention_expired"},
            )
            recording.state = Recording.State.SHREDDED
    return claimed


def delete_shredded_payloads(*, store: ObjectStore, limit: int, actor: Actor) -> DeletionOutcome:
    """Delete the payloads of shredded recordings, then mark them purged and pseudonymise the session.

    A recording is marked purged only once the store confirmed its object gone; the rest stay
    `shredded` for the next run, counted as failed.
    """
    outcome = DeletionOutcome()
    with transaction.atomic():
        claimed = list(
            Recording.objects.filter(state=Recording.State.SHREDDED)
            .select_for_update(skip_locked=True, of=("self",))
            .select_related("session")
            .order_by("shredded_at", "id")[:limit]
        )
        if not claimed:
            return outcome
        try:
            deleted = set(store.delete_many([r.object_key for r in claimed]))
        except StoreError as error:
            logger.warning("payload deletion failed for %d recording(s): %s", len(claimed), error)
            outcome.failed = len(claimed)
            outcome.errors.append(str(error))
            return outcome
        purged_at = timezone.now()
        for recording in claimed:
            if recording.object_key not in deleted:
                outcome.failed += 1
                continue
            _mark_purged(recording, purged_at=purged_at, actor=actor)
            outcome.purged += 1
        if outcome.failed:
            outcome.errors.append(f"the store did not confirm {outcome.failed} deletion(s)")
    return outcome


def _mark_purged(recording: Recording, *, purged_at: datetime, actor: Actor) -> None:
    Recording.objects.filter(pk=recording.pk, state=Recording.State.SHREDDED).update(
        state=Recording.State.PURGED, purged_at=purged_at
    )
    pseudonymise_session(recording.session)
    record_event(
        action="recording.purged",
        actor=actor,
        recording_id=recording.id,
        session_id=recording.session_id,
        details={"purged_at": purged_at.isoformat()},
    )


def pseudonymise_session(session: Session) -> None:
    """Erase the raw customer and agent references; the keyed hashes (kept from registration) remain."""
    hashes = {
        "customer_ref_hash": session.customer_ref_hash
        or pseudonym(session.customer_ref or "", purpose="customer_ref"),
        "agent_ref_hash": session.agent_ref_hash or pseudonym(session.agent_ref or "", purpose="agent_ref"),
    }
    Session.objects.filter(pk=session.pk).update(customer_ref=None, agent_ref=None, **hashes)


def sessions_for_customer(customer_ref: str) -> QuerySet[Session]:
    """Sessions of a customer, found by keyed hash: works before and after pseudonymisation."""
    return Session.objects.filter(customer_ref_hash=pseudonym(customer_ref, purpose="customer_ref"))
