"""The ledger: gapless seq, RFC 9162 leaf hashes, append-only on PostgreSQL, safe under concurrency."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
import uuid
from itertools import pairwise

import pytest
from django.contrib import admin
from django.db import DatabaseError, connection, transaction
from django.test import RequestFactory

from audit.models import LedgerEntry, PendingEntry
from audit.selectors import entries, verify_leaf_hashes
from audit.services import Actor, Event, append_entry, record_event, record_events
from tests.liveserver import ROOT, service_environment

ACTOR = Actor(kind="job", id="test", label="test")


def independent_leaf_hash(entry: LedgerEntry) -> bytes:
    """SHA-256(0x00 || canonical JSON), written out here without the project's helpers."""
    fields = {
        "seq": entry.seq,
        "recorded_at": entry.recorded_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "actor": {"kind": entry.actor_kind, "id": entry.actor_id, "label": entry.actor_label},
        "action": entry.action,
        "recording_id": str(entry.recording_id) if entry.recording_id else None,
        "session_id": str(entry.session_id) if entry.session_id else None,
        "case_id": str(entry.case_id) if entry.case_id else None,
        "details": entry.details,
    }
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return hashlib.sha256(b"\x00" + canonical).digest()


@pytest.mark.django_db
def test_appends_get_consecutive_seq_and_rfc9162_leaf_hashes() -> None:
    for n in range(5):
        record_event(action="test.appended", actor=ACTOR, details={"n": n, "name": "Zoë"})
    entries = list(LedgerEntry.objects.order_by("seq"))
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    for entry in entries:
        entry.refresh_from_db()
        assert bytes(entry.leaf_hash) == independent_leaf_hash(entry)
    assert verify_leaf_hashes() is None


@pytest.mark.django_db
def test_the_appended_entry_returned_is_the_stored_row() -> None:
    """append_entry writes with a statement built once; what it returns is what was stored."""
    first = append_entry(Event("test.first", ACTOR, {"a": [1, "two", None, 0.5]}, case_id=uuid.uuid4()))
    second = append_entry(Event("test.second", ACTOR, {"nested": {"deep": True}}))
    for returned in (first, second):
        stored = LedgerEntry.objects.get(pk=returned.pk)
        assert returned._state.adding is False
        assert [getattr(returned, f.attname) for f in LedgerEntry._meta.concrete_fields] == [
            getattr(stored, f.attname) for f in LedgerEntry._meta.concrete_fields
        ]
        assert bytes(stored.leaf_hash) == independent_leaf_hash(stored)
    assert (first.seq, second.seq) == (1, 2) and second.pk != first.pk


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_append_leaves_no_gap() -> None:
    record_event(action="test.kept", actor=ACTOR)
    with pytest.raises(RuntimeError), transaction.atomic():
        record_event(action="test.rolled_back", actor=ACTOR)
        raise RuntimeError("the state change failed")
    record_event(action="test.kept", actor=ACTOR)
    assert list(LedgerEntry.objects.values_list("seq", "action")) == [(1, "test.kept"), (2, "test.kept")]


@pytest.mark.django_db
def test_bulk_appends_get_consecutive_seq_and_valid_leaf_hashes() -> None:
    record_event(action="test.single", actor=ACTOR)
    last = record_events([Event("test.bulk", ACTOR, {"n": n}, uuid.uuid4()) for n in range(50)])
    assert last == 51
    assert list(LedgerEntry.objects.values_list("seq", flat=True)) == list(range(1, 52))
    for entry in LedgerEntry.objects.all():
        assert bytes(entry.leaf_hash) == independent_leaf_hash(entry)
    assert verify_leaf_hashes() is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("action", "details"),
    [
        ("Recording Ingested", {}),
        ("recording", {}),
        ("recording.ingested\n", {}),
        ("recording." + "x" * 60, {}),
        ("recording.ingested", {"token": "rvt_abc"}),
        ("recording.ingested", {"nested": {"password": "x"}}),
        ("recording.ingested", {"list": [{"Secret": "x"}]}),
        ("recording.ingested", {"api_key": "x"}),
        ("recording.ingested", {"customer_ref": "CUST-1"}),
        ("recording.ingested", {"when": object()}),
        ("recording.ingested", {"size": float("nan")}),
        ("recording.ingested", {"size": 1e20}),
        ("recording.ingested", {1: "not a string key"}),
        ("recording.ingested", {"reason": "nul\x00byte"}),
    ],
)
def test_bad_actions_and_forbidden_details_are_refused(action: str, details: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        record_event(action=action, actor=ACTOR, details=details)
    with pytest.raises(ValueError):
        record_events([Event("test.fine", ACTOR), Event(action, ACTOR, details)])
    assert not LedgerEntry.objects.exists()


@pytest.mark.parametrize(
    ("kind", "id", "label"),
    [("robot", "r1", "robot"), ("job", "", "purge"), ("user", "1", "u" * 151)],
)
def test_actors_of_unknown_kind_or_unfit_ids_are_refused(kind: str, id: str, label: str) -> None:
    with pytest.raises(ValueError):
        Actor(kind=kind, id=id, label=label)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "value",
    [12.5, 0.1, 1e-05, 9.5e15, -0.0, 2**70, (1, "two"), "Zoë \u2028 ✓", {"b": [1.0, True, None], "a": {}}],
)
def test_details_hash_the_same_after_a_trip_through_the_database(value: object) -> None:
    """jsonb gives back numeric spellings of its own (1e16 -> 10000000000000000, no -0.0): what
    is accepted must come back with the canonical bytes it was hashed with."""
    record_event(action="test.appended", actor=ACTOR, details={"value": value})
    entry = LedgerEntry.objects.get()
    assert bytes(entry.leaf_hash) == independent_leaf_hash(entry)
    assert verify_leaf_hashes() is None


@pytest.mark.django_db
def test_entries_filter_by_action_subject_and_position() -> None:
    recording, session = uuid.uuid4(), uuid.uuid4()
    record_event(action="recording.ingested", actor=ACTOR, recording_id=recording, session_id=session)
    record_event(action="recording.played", actor=ACTOR, recording_id=str(recording))
    record_event(action="recording.played", actor=ACTOR, recording_id=uuid.uuid4())
    assert [e.seq for e in entries(action="recording.played")] == [2, 3]
    assert [e.seq for e in entries(recording_id=recording)] == [1, 2]
    assert [e.seq for e in entries(session_id=session)] == [1]
    assert [e.seq for e in entries(after_seq=1)] == [2, 3]


@pytest.mark.django_db
def test_the_admin_shows_the_ledger_but_lets_nobody_change_it(admin_user) -> None:
    request = RequestFactory().get("/admin/audit/ledgerentry/")
    request.user = admin_user
    model_admin = admin.site._registry[LedgerEntry]
    assert model_admin.has_view_permission(request)
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)


def behind_the_triggers_back(
    sql: str, params: list[object] | None = None, *, table: str = "audit_ledgerentry"
) -> None:
    """Tamper as a database superuser would: with the append-only trigger disabled."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")


def tamper_tile_hash(*, level: int, index: int, position: int, new: bytes) -> None:
    """Replace one hash of a stored tile, as a superuser would (the tile trigger disabled)."""
    from audit.models import LedgerTile

    hashes = bytearray(LedgerTile.objects.get(level=level, index=index).hashes)
    hashes[position * 32 : (position + 1) * 32] = new
    behind_the_triggers_back(
        'UPDATE audit_ledgertile SET hashes = %s WHERE level = %s AND "index" = %s',
        [bytes(hashes), level, index],
        table="audit_ledgertile",
    )


@pytest.mark.django_db
def test_verification_finds_the_first_altered_entry() -> None:
    for n in range(6):
        record_event(action="test.appended", actor=ACTOR, details={"n": n})
    behind_the_triggers_back("UPDATE audit_ledgerentry SET details = %s WHERE seq = 4", ['{"n": 99}'])
    assert verify_leaf_hashes() == 4


@pytest.mark.django_db
def test_verification_finds_a_removed_entry() -> None:
    for n in range(4):
        record_event(action="test.appended", actor=ACTOR, details={"n": n})
    behind_the_triggers_back("DELETE FROM audit_ledgerentry WHERE seq = 2")
    assert verify_leaf_hashes() == 2


@pytest.mark.postgres
@pytest.mark.django_db
@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_ledgerentry SET action = 'x.y'", "DELETE FROM audit_ledgerentry WHERE seq = 1"],
)
def test_postgres_refuses_update_and_delete_even_for_the_superuser(statement: str) -> None:
    record_event(action="test.appended", actor=ACTOR)
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement)
    assert LedgerEntry.objects.get().action == "test.appended"
    assert verify_leaf_hashes() is None


@pytest.mark.postgres
@pytest.mark.django_db
def test_postgres_refuses_truncate_for_the_application_role() -> None:
    record_event(action="test.appended", actor=ACTOR)
    with connection.cursor() as cursor:
        cursor.execute(
            "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'vault_app_test') "
            "THEN CREATE ROLE vault_app_test NOSUPERUSER; END IF; END $$"
        )
        cursor.execute(
            "GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON audit_ledgerentry TO vault_app_test"
        )
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        # SET LOCAL inside the savepoint: rolling the savepoint back resets the role.
        cursor.execute("SET LOCAL ROLE vault_app_test")
        cursor.execute("TRUNCATE audit_ledgerentry")
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        assert cursor.fetchone()[0] != "vault_app_test"
    assert LedgerEntry.objects.count() == 1
    assert verify_leaf_hashes() is None


APPENDER = """
import sys, time, django
django.setup()
from django.db import transaction
from audit.services import Actor, Event, append_entry, record_event, record_events
actor = Actor.job(sys.argv[1])
time.sleep(max(0.0, float(sys.argv[3]) - time.time()))  # all writers start together
for n in range(int(sys.argv[2])):
    if n % 20 == 0:  # a bulk append of 3, its entries interleaving with the other writers' singles
        record_events([Event("test.concurrent", actor, {"n": n, "i": i}) for i in range(3)])
    elif n % 20 == 10:  # a state change that fails: its entry is rolled back and leaves no gap
        try:
            with transaction.atomic():
                record_event(action="test.rolled_back", actor=actor, details={"n": n})
                raise RuntimeError
        except RuntimeError:
            pass
    else:
        record_event(action="test.concurrent", actor=actor, details={"n": n})
"""


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_in_separate_processes_leave_no_gap_and_no_duplicate() -> None:
    """PostgreSQL (advisory lock) in CI; on SQLite the same test pins the write-lock claim."""
    writers, iterations = 6, 200
    # per writer: 10 bulk appends of 3, 10 rolled back, 180 singles
    each = 10 * 3 + (iterations - 20)
    env = service_environment()
    start_at = str(time.time() + 5)  # after every writer has imported Django
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", APPENDER, f"writer-{w}", str(iterations), start_at], cwd=ROOT, env=env
        )
        for w in range(writers)
    ]
    assert all(p.wait(timeout=180) == 0 for p in processes)
    seqs = list(LedgerEntry.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, writers * each + 1))
    per_writer = {w: LedgerEntry.objects.filter(actor_id=f"writer-{w}").count() for w in range(writers)}
    assert set(per_writer.values()) == {each}
    assert not LedgerEntry.objects.filter(action="test.rolled_back").exists()
    assert not PendingEntry.objects.exists()  # every queued entry was moved
    for w in range(writers):
        # Each call returned only once its entry had a seq: a writer's own entries keep its order.
        own = LedgerEntry.objects.filter(actor_id=f"writer-{w}").order_by("seq")
        ns = list(own.values_list("details__n", flat=True))
        assert ns == sorted(ns)
    assert verify_leaf_hashes() is None
    if connection.vendor == "postgresql":
        # The writers really did run at the same time: their entries interleave along seq. (Not
        # asserted on SQLite: its busy handler is not fair, a writer keeps the lock for long runs.)
        actors = list(LedgerEntry.objects.order_by("seq").values_list("actor_id", flat=True))
        assert sum(a != b for a, b in pairwise(actors)) > 10 * writers
