"""The ledger: gapless seq, RFC 9162 leaf hashes, append-only on PostgreSQL, safe under concurrency."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest
from django.db import DatabaseError, connection, transaction

from audit.models import LedgerEntry
from audit.selectors import verify_leaf_hashes
from audit.services import Actor, record_event
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


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_append_leaves_no_gap() -> None:
    record_event(action="test.kept", actor=ACTOR)
    with pytest.raises(RuntimeError), transaction.atomic():
        record_event(action="test.rolled_back", actor=ACTOR)
        raise RuntimeError("the state change failed")
    record_event(action="test.kept", actor=ACTOR)
    assert list(LedgerEntry.objects.values_list("seq", "action")) == [(1, "test.kept"), (2, "test.kept")]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("action", "details"),
    [
        ("Recording Ingested", {}),
        ("recording", {}),
        ("recording.ingested", {"token": "rvt_abc"}),
        ("recording.ingested", {"nested": {"password": "x"}}),
        ("recording.ingested", {"customer_ref": "CUST-1"}),
        ("recording.ingested", {"when": object()}),
    ],
)
def test_bad_actions_and_forbidden_details_are_refused(action: str, details: dict[str, object]) -> None:
    with pytest.raises((ValueError, TypeError)):
        record_event(action=action, actor=ACTOR, details=details)
    assert not LedgerEntry.objects.exists()


def behind_the_triggers_back(sql: str, params: list[str] | None = None) -> None:
    """Tamper as a database superuser would: with the append-only trigger disabled."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_ledgerentry DISABLE TRIGGER USER")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_ledgerentry ENABLE TRIGGER USER")


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
        cursor.execute("SET LOCAL ROLE vault_app_test")
        cursor.execute("TRUNCATE audit_ledgerentry")
    assert LedgerEntry.objects.count() == 1


APPENDER = """
import sys, django
django.setup()
from audit.services import Actor, record_event
for n in range(int(sys.argv[2])):
    record_event(action="test.concurrent", actor=Actor.job(sys.argv[1]), details={"n": n})
"""


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_in_separate_processes_leave_no_gap_and_no_duplicate() -> None:
    writers, each = 6, 150
    env = service_environment()
    processes = [
        subprocess.Popen([sys.executable, "-c", APPENDER, f"writer-{w}", str(each)], cwd=ROOT, env=env)
        for w in range(writers)
    ]
    assert all(p.wait(timeout=180) == 0 for p in processes)
    seqs = list(LedgerEntry.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, writers * each + 1))
    per_writer = {w: LedgerEntry.objects.filter(actor_id=f"writer-{w}").count() for w in range(writers)}
    assert set(per_writer.values()) == {each}
    assert verify_leaf_hashes() is None
