"""The forwarder: each destination's entries after its cursor, in seq order, in batches; the cursor
moves only after the destination confirmed a batch; a destination that fails is tried again after
a growing pause, and resumes at its cursor. At least once: a crash between a confirmed batch and
the cursor's update sends that batch again (a duplicate, recognisable by seq), never skips one.

Entries are read through audit's selectors and serialised as the export serialises them
(audit.canonical.entry_fields); nothing here writes the ledger.
"""

from __future__ import annotations

import logging
import random
import threading
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import DatabaseError, connection
from django.utils import timezone

from audit import selectors as ledger
from audit.canonical import entry_fields
from audit.models import LedgerEntry
from forwarding.destinations import Destination
from forwarding.models import ForwardCursor
from forwarding.syslog import DeliveryFailed

logger = logging.getLogger(__name__)

# pg_try_advisory_lock(int4, int4): this class key ("fwd" in ASCII) and the CRC-32 of the name.
_LOCK_CLASS = 0x667764


class LedgerHole(Exception):
    """The ledger lacks the next seq (see contiguous_after): nothing more is sent until it is there."""


@dataclass(frozen=True)
class Settings:
    batch_size: int
    poll_seconds: float
    backoff_initial_seconds: float
    backoff_max_seconds: float


def contiguous_after(entries: Sequence[LedgerEntry], acked_seq: int) -> list[LedgerEntry]:
    """The entries that follow `acked_seq` without a hole. Committed seqs are always a prefix of
    1..n (audit.services appends under a lock held until commit), so a hole is a damaged ledger:
    the forwarder stops before it rather than let a destination believe it has everything."""
    batch: list[LedgerEntry] = []
    for entry in entries:
        if int(entry.seq) != acked_seq + len(batch) + 1:
            break
        batch.append(entry)
    return batch


def forward_batch(destination: Destination, *, batch_size: int) -> int:
    """Send the next batch after the destination's cursor and move the cursor past it; the number
    of entries sent (0: nothing new). DeliveryFailed if the destination did not confirm,
    LedgerHole if the ledger lacks the next seq while later ones exist."""
    cursor, _ = ForwardCursor.objects.get_or_create(destination=destination.name)
    acked = int(cursor.acked_seq)
    batch = contiguous_after(list(ledger.entries(after_seq=acked)[:batch_size]), acked)
    if not batch:
        if ledger.last_seq() > acked:
            raise LedgerHole(f"the ledger has no entry {acked + 1}: run manage.py verify_ledger")
        return 0
    destination.send([entry_fields(entry) for entry in batch])
    # Compare-and-set: a second forwarder that moved the cursor meanwhile is not moved back.
    ForwardCursor.objects.filter(pk=cursor.pk, acked_seq=acked).update(
        acked_seq=int(batch[-1].seq), acked_at=timezone.now(), failing_since=None, last_error=""
    )
    return len(batch)


def record_failure(destination: Destination, reason: str) -> None:
    cursor, _ = ForwardCursor.objects.get_or_create(destination=destination.name)
    ForwardCursor.objects.filter(pk=cursor.pk, failing_since__isnull=True).update(
        failing_since=timezone.now()
    )
    ForwardCursor.objects.filter(pk=cursor.pk).update(last_error=reason[:300])


def _holds_turn(destination: Destination) -> bool:
    """One forwarder per destination at a time, across machines: a PostgreSQL advisory lock held
    by this thread's session, released when its connection ends (a killed forwarder included).
    On SQLite, the single-machine default, there is one forwarder process anyway."""
    if connection.vendor != "postgresql":
        return True
    key = zlib.crc32(destination.name.encode()) - 2**31  # into int4's range
    with connection.cursor() as cursor:
        # Already held by this session? Then not again: the lock counts re-entries.
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() "
            "AND classid::int = %s AND objid::int = %s AND granted",
            [_LOCK_CLASS, key],
        )
        row = cursor.fetchone()
        if row and row[0]:
            return True
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [_LOCK_CLASS, key])
        row = cursor.fetchone()
    return bool(row and row[0])


def forward_forever(destination: Destination, *, config: Settings, stop: threading.Event) -> None:
    """The loop of one destination, until `stop` is set. Failures of the destination or of the
    database back off exponentially with jitter, up to the maximum; a success resets the pause."""
    pause = config.backoff_initial_seconds
    while not stop.is_set():
        try:
            if not _holds_turn(destination):
                stop.wait(config.poll_seconds * 5)  # another forwarder has it: stand by
                continue
            sent = forward_batch(destination, batch_size=config.batch_size)
        except DeliveryFailed as error:
            logger.warning("ledger forwarding to %s failed: %s", destination.name, error)
            _record_failure_quietly(destination, str(error))
        except LedgerHole as error:
            logger.error("ledger forwarding to %s stopped: %s", destination.name, error)
            _record_failure_quietly(destination, str(error))
        except DatabaseError as error:
            logger.warning(
                "ledger forwarding to %s: database error (%s)", destination.name, type(error).__name__
            )
            connection.close()  # the next round opens a new connection (and takes the lock again)
        else:
            pause = config.backoff_initial_seconds
            if sent < config.batch_size:
                stop.wait(config.poll_seconds)
            continue
        stop.wait(random.uniform(pause / 2, pause))  # noqa: S311 (jitter, not a secret)
        pause = min(pause * 2, config.backoff_max_seconds)
    connection.close()


def _record_failure_quietly(destination: Destination, reason: str) -> None:
    try:
        record_failure(destination, reason)
    except DatabaseError as error:
        logger.warning("ledger forwarding: the failure could not be recorded (%s)", type(error).__name__)
        connection.close()


def run(destinations: Sequence[Destination], *, config: Settings, stop: threading.Event) -> None:
    """One thread per destination, so a slow one holds back none of the others; returns once
    `stop` is set and every thread finished its batch."""
    threads = [
        threading.Thread(
            target=forward_forever,
            args=(destination,),
            kwargs={"config": config, "stop": stop},
            name=f"forward {destination.name}",
            daemon=True,
        )
        for destination in destinations
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
