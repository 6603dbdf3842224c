"""On PostgreSQL appends outside a transaction go through the queue (`PendingEntry`) and are
moved into the ledger before `record_event` returns; an entry left queued by a dead appender is
moved later. (SQLite appends directly: it serialises every write anyway.)"""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime

import pytest
from django.db import DatabaseError, connection, transaction
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.canonical import canonical_bytes, hashed_fields, leaf_hash, split_at_seq
from audit.models import LedgerEntry, PendingEntry
from audit.selectors import verify_leaf_hashes
from audit.services import Actor, record_event, sequence_pending, sign_tree_head
from tests.audit.test_ledger import independent_leaf_hash

ACTOR = Actor(kind="user", id="7", label="officer")

# Any character a UTF-8 database can hold: no NUL, no lone surrogates.
chars = st.characters(exclude_characters="\x00", exclude_categories=("Cs",))
scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53)
json_values = st.recursive(
    scalars | st.text(chars),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


@given(
    details=st.dictionaries(st.sampled_from(["seq", "n", "session_id", "x"]), json_values, max_size=4),
    seq=st.integers(1, 10**12),
    label=st.text(chars, min_size=1, max_size=20),
)
@settings(max_examples=200, deadline=None)
def test_the_halves_around_seq_give_the_canonical_bytes_for_any_seq(details, seq, label) -> None:
    """Nested "seq" keys (details may hold one) do not confuse the split."""
    fields = hashed_fields(
        seq=0, recorded_at=datetime(2026, 11, 26, 14, 0, 0, 123456, tzinfo=UTC), actor_kind="user",
        actor_id="7", actor_label=label, action="recording.played", recording_id=uuid.uuid4(),
        session_id=None, case_id=uuid.uuid4(), details=details,
    )  # fmt: skip
    before, after = split_at_seq(fields)
    assert before + str(seq).encode() + after == canonical_bytes({**fields, "seq": seq})


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_append_outside_a_transaction_is_in_the_ledger_when_the_call_returns() -> None:
    recording = uuid.uuid4()
    assert not connection.in_atomic_block
    record_event(action="recording.played", actor=ACTOR, recording_id=recording, details={"range": "x"})
    entry = LedgerEntry.objects.get()
    assert (entry.seq, entry.action, entry.recording_id) == (1, "recording.played", recording)
    assert bytes(entry.leaf_hash) == independent_leaf_hash(entry)
    assert not PendingEntry.objects.exists()
    record_event(action="recording.played", actor=ACTOR, details={"seq": 99, "name": "Zoë"})
    second = LedgerEntry.objects.get(seq=2)
    assert second.details == {"seq": 99, "name": "Zoë"}
    assert bytes(second.leaf_hash) == independent_leaf_hash(second)
    assert verify_leaf_hashes() is None


def queue_as_a_dead_appender_would(action: str) -> None:
    """Committed to the queue, never moved: the appender died between its two steps."""
    recorded_at = datetime.now(UTC)
    columns = {
        "recorded_at": recorded_at, "actor_kind": "job", "actor_id": "dead", "actor_label": "dead",
        "action": action, "recording_id": None, "session_id": None, "case_id": None, "details": {},
    }  # fmt: skip
    before, after = split_at_seq(hashed_fields(seq=0, **columns))
    PendingEntry.objects.create(**columns, canonical_before_seq=before, canonical_after_seq=after)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_entry_left_queued_is_moved_first_by_the_next_append() -> None:
    record_event(action="test.first", actor=ACTOR)
    queue_as_a_dead_appender_would("test.orphan")
    record_event(action="test.third", actor=ACTOR)
    actions = list(LedgerEntry.objects.order_by("seq").values_list("seq", "action"))
    assert actions == [(1, "test.first"), (2, "test.orphan"), (3, "test.third")]
    assert not PendingEntry.objects.exists()
    assert verify_leaf_hashes() is None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_signed_head_covers_entries_left_queued() -> None:
    record_event(action="test.first", actor=ACTOR)
    queue_as_a_dead_appender_would("test.orphan")
    head, tree = sign_tree_head(trigger="command")
    assert head.tree_size == 2
    orphan = LedgerEntry.objects.get(seq=2)
    assert orphan.action == "test.orphan"
    assert tree.root() == bytes(head.root_hash)
    assert bytes(orphan.leaf_hash) == leaf_hash(canonical_bytes(hashed_fields(**{
        f: getattr(orphan, f) for f in ("seq", "recorded_at", "actor_kind", "actor_id", "actor_label",
                                        "action", "recording_id", "session_id", "case_id", "details")
    })))  # fmt: skip
    assert sequence_pending() == 0  # nothing left


@pytest.mark.django_db(transaction=True)
def test_inside_a_transaction_the_entry_commits_or_rolls_back_with_it() -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        record_event(action="test.rolled_back", actor=ACTOR)
        assert LedgerEntry.objects.filter(action="test.rolled_back").exists()  # appended directly
        raise RuntimeError
    assert not LedgerEntry.objects.exists()
    assert not PendingEntry.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_postgres_refuses_to_alter_a_queued_entry() -> None:
    queue_as_a_dead_appender_would("test.orphan")
    with pytest.raises(DatabaseError, match="append-only"), connection.cursor() as cursor:
        cursor.execute("UPDATE audit_pendingentry SET action = 'test.forged'")
    sequence_pending()
    assert LedgerEntry.objects.get().action == "test.orphan"


def xids_taken_by(append) -> int:
    """Transaction ids the database assigned while `append` ran: one per committed writing
    transaction. Counted cluster-wide, so anything else writing meanwhile adds to it; the fewest
    of five tries is the append's own."""
    counts = []
    for _ in range(5):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint")
            before = cursor.fetchone()[0]
            append()
            cursor.execute("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint")
            counts.append(cursor.fetchone()[0] - before)
    return min(counts)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_append_nobody_contends_with_is_one_commit() -> None:
    """Migration 0007: queued and moved in one transaction, one WAL flush before the call returns."""
    assert xids_taken_by(lambda: record_event(action="recording.played", actor=ACTOR)) == 1
    assert list(LedgerEntry.objects.order_by("seq").values_list("seq", flat=True)) == [1, 2, 3, 4, 5]
    assert not PendingEntry.objects.exists()
    assert verify_leaf_hashes() is None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_append_while_another_holds_the_lock_is_queued_then_moved() -> None:
    """Contended, an append commits its entry to the queue first (sharing WAL flushes with the
    other waiters), and returns once the lock is free and the entry is in the ledger."""
    import psycopg

    from audit.services import LEDGER_LOCK_KEY

    record_event(action="test.first", actor=ACTOR)
    holder = psycopg.connect(**connection.get_connection_params())
    holder.execute("SELECT pg_advisory_xact_lock(%s)", [LEDGER_LOCK_KEY])
    errors: list[BaseException] = []

    def append() -> None:
        try:
            record_event(action="test.contended", actor=ACTOR)
        except BaseException as error:  # handed to the test thread
            errors.append(error)
        finally:
            connection.close()

    appender = threading.Thread(target=append)
    appender.start()
    try:
        deadline = time.monotonic() + 10
        while holder.execute("SELECT count(*) FROM audit_pendingentry").fetchone()[0] == 0:
            assert time.monotonic() < deadline, "the contended entry was never committed to the queue"
            time.sleep(0.01)
        assert appender.is_alive()  # queued, waiting for the lock
        assert not LedgerEntry.objects.filter(action="test.contended").exists()
    finally:
        holder.commit()
        holder.close()
        appender.join(10)
    assert not errors and not appender.is_alive()
    assert list(LedgerEntry.objects.order_by("seq").values_list("seq", "action")) == [
        (1, "test.first"),
        (2, "test.contended"),
    ]
    assert not PendingEntry.objects.exists()
