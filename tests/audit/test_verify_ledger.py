"""`manage.py verify_ledger`: the live ledger end to end, tampering found at its first bad seq;
and heads signed while several processes append stay consistent (PostgreSQL in CI)."""

from __future__ import annotations

import hashlib
import itertools
import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.core.management.base import CommandError
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from audit.integrity import check_ledger
from audit.keys import signing_key
from audit.merkle import MerkleTree, verify_consistency
from audit.models import LedgerEntry, SignedTreeHead
from audit.services import Actor, record_event, sign_tree_head
from tests.audit.test_ledger import APPENDER, behind_the_triggers_back
from tests.ledger import verify_ledger
from tests.liveserver import ROOT, service_environment

ACTOR = Actor.job("test")


def ledger_with_heads(entries: int = 12, every: int = 4) -> None:
    for n in range(entries):
        record_event(action="test.appended", actor=ACTOR, details={"n": n})
        if (n + 1) % every == 0:
            sign_tree_head(trigger=SignedTreeHead.Trigger.SCHEDULE)


@pytest.mark.django_db
def test_an_untouched_ledger_verifies() -> None:
    ledger_with_heads()
    record_event(action="test.after_the_last_head", actor=ACTOR)
    assert "13 entries" in verify_ledger() and "3 signed tree heads" in verify_ledger()


@pytest.mark.django_db
def test_an_altered_entry_is_reported_at_its_seq() -> None:
    ledger_with_heads()
    behind_the_triggers_back("UPDATE audit_ledgerentry SET details = %s WHERE seq = 7", ['{"n": 99}'])
    with pytest.raises(CommandError, match="first bad seq 7: entry 7 was altered") as failure:
        verify_ledger()
    assert failure.value.returncode == 1


@pytest.mark.django_db
def test_a_removed_entry_is_reported_at_its_seq() -> None:
    ledger_with_heads()
    behind_the_triggers_back("DELETE FROM audit_ledgerentry WHERE seq = 5")
    with pytest.raises(CommandError, match="first bad seq 5: entry 5 is missing"):
        verify_ledger()


@pytest.mark.django_db
def test_entries_removed_from_the_end_are_caught_by_the_head_that_covered_them() -> None:
    ledger_with_heads()
    behind_the_triggers_back("DELETE FROM audit_ledgerentry WHERE seq > 10")
    with pytest.raises(CommandError, match="first bad seq 11: a head was signed for 12 entries"):
        verify_ledger()


@pytest.mark.django_db
def test_an_entry_rewritten_with_a_fresh_leaf_hash_is_caught_by_the_heads() -> None:
    """The careful attacker recomputes the leaf hash: the signed head over it no longer matches."""
    ledger_with_heads()
    entry = LedgerEntry.objects.get(seq=6)
    entry.details = {"n": 99}
    from audit.canonical import canonical_bytes, entry_fields, leaf_hash

    forged = leaf_hash(canonical_bytes(entry_fields(entry)))
    behind_the_triggers_back(
        "UPDATE audit_ledgerentry SET details = %s, leaf_hash = %s WHERE seq = 6",
        ['{"n": 99}', forged],  # type: ignore[list-item]
    )
    with pytest.raises(CommandError, match=r"first bad seq 5: the head of 8 entries .* rewritten"):
        verify_ledger()


@pytest.mark.django_db
def test_a_forged_head_is_caught() -> None:
    ledger_with_heads()
    with __import__("django.db", fromlist=["connection"]).connection.cursor() as cursor:
        if cursor.db.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_signedtreehead DISABLE TRIGGER USER")
        cursor.execute("UPDATE audit_signedtreehead SET timestamp_ms = timestamp_ms + 1 WHERE tree_size = 8")
        if cursor.db.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_signedtreehead ENABLE TRIGGER USER")
    with pytest.raises(CommandError, match=r"head of 8 entries .* not signed by the ledger's key"):
        verify_ledger()


@pytest.mark.postgres
@pytest.mark.django_db
def test_postgres_refuses_to_change_or_delete_a_signed_head() -> None:
    from django.db import DatabaseError, connection, transaction

    ledger_with_heads(4, 4)
    for statement in ("UPDATE audit_signedtreehead SET tree_size = 3", "DELETE FROM audit_signedtreehead"):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as c,
        ):
            c.execute(statement)
    assert SignedTreeHead.objects.get().tree_size == 4


def test_the_command_exits_non_zero_from_the_shell(tmp_path) -> None:
    """As an operator's script sees it (the embedded SQLite of a fresh data dir)."""
    env = {**service_environment(), "VAULT_DATA_DIR": str(tmp_path)}
    env.pop("DATABASE_URL")
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    code = (
        "from audit.services import *\nfor _ in range(3): record_event(action='test.a', actor=Actor.system())"
    )
    subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env, check=True)
    ok = subprocess.run(
        [sys.executable, "manage.py", "verify_ledger"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert ok.returncode == 0 and "Ledger verified: 3 entries" in ok.stdout
    import sqlite3

    with sqlite3.connect(tmp_path / "vault.sqlite3") as db:
        db.execute("UPDATE audit_ledgerentry SET action = 'test.b' WHERE seq = 2")
    bad = subprocess.run(
        [sys.executable, "manage.py", "verify_ledger"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert bad.returncode == 1 and "first bad seq 2" in bad.stderr


SIGNER = """
import sys, time, django
django.setup()
from audit.services import sign_tree_head
time.sleep(max(0.0, float(sys.argv[1]) - time.time()))
for _ in range(int(sys.argv[2])):
    sign_tree_head(trigger="schedule")
"""


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_heads_signed_while_processes_append_stay_consistent() -> None:
    writers, iterations, signers, heads_each = 4, 100, 2, 6
    signing_key()  # created here; the processes sign with the same file
    env = service_environment(LEDGER_SIGNING_KEY_FILE=settings.LEDGER_SIGNING_KEY_FILE)
    start_at = str(time.time() + 5)
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", APPENDER, f"writer-{w}", str(iterations), start_at], cwd=ROOT, env=env
        )
        for w in range(writers)
    ] + [
        subprocess.Popen([sys.executable, "-c", SIGNER, start_at, str(heads_each)], cwd=ROOT, env=env)
        for _ in range(signers)
    ]
    assert all(p.wait(timeout=180) == 0 for p in processes)
    each = 5 * 3 + (iterations - 10)  # as in test_ledger's APPENDER: bulk appends of 3, rollbacks
    assert list(LedgerEntry.objects.values_list("seq", flat=True)) == list(range(1, writers * each + 1))
    heads = list(SignedTreeHead.objects.order_by("tree_size", "timestamp_ms"))
    assert len(heads) == signers * heads_each
    assert [h.timestamp_ms for h in heads] == sorted(h.timestamp_ms for h in heads)
    leaves = b"".join(
        bytes(h) for h in LedgerEntry.objects.order_by("seq").values_list("leaf_hash", flat=True)
    )
    tree = MerkleTree(leaves)
    for older, newer in itertools.pairwise(heads):
        proof = tree.consistency_proof(older.tree_size, newer.tree_size)
        assert verify_consistency(
            older.tree_size, newer.tree_size, bytes(older.root_hash), bytes(newer.root_hash), proof
        )
    assert check_ledger().ok
    assert hashlib.sha256(b"").digest() != tree.root()


@pytest.mark.django_db
def test_every_entry_recomputes_to_its_stored_leaf_whatever_its_values() -> None:
    """Floats with exponents and integers beyond 64 bits (orjson spells the first differently and
    refuses the second) are recomputed by the book, not reported as altered."""
    import uuid

    from audit.integrity import _chunks

    values = [12.5, 1e-05, -0.0, 2**70, "Zoë \u2028 ✓ \\ \t", {"b": [1.0, True, None], "a": {}}, None]
    for value in values:
        record_event(
            action="test.appended",
            actor=Actor(kind="user", id="7", label="Zoë\tO'Brien, \\n"),
            details={"value": value},
            recording_id=uuid.uuid4(),
            case_id=uuid.uuid4() if value is None else None,
        )
    stored = [(e.seq, bytes(e.leaf_hash)) for e in LedgerEntry.objects.order_by("seq")]
    assert [(seq, leaf) for chunk in _chunks() for seq, leaf, _ in chunk] == stored
    assert check_ledger().ok


texts = st.text(st.characters(exclude_characters="\x00", exclude_categories=("Cs",)), min_size=1, max_size=30)
unchecked_fixture = [HealthCheck.function_scoped_fixture]  # the database is emptied per test, not per example


@pytest.mark.postgres
@pytest.mark.django_db
@given(label=texts, actor_id=texts, detail=texts, number=st.integers(-(2**63), 2**63 - 1))
@hypothesis_settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_postgres_spells_every_field_around_details_as_the_canonical_bytes(
    label, actor_id, detail, number
) -> None:
    """verify_ledger's fast path: PostgreSQL's to_json, to_char and uuid text, with orjson for
    details, give exactly canonical.py's bytes for any text (control characters, quotes,
    backslashes, U+2028, astral planes) and any 64-bit integer."""
    import uuid

    from audit.canonical import canonical_bytes, entry_fields
    from audit.integrity import copied_entries

    record_event(
        action="test.appended",
        actor=Actor(kind="user", id=actor_id[:64], label=label),
        details={detail: number, "nested": {"z": [detail, None, True], "a": 1.5}},
        recording_id=uuid.uuid4(),
        session_id=None,
        case_id=uuid.uuid4(),
    )
    entry = LedgerEntry.objects.order_by("-seq").first()
    [(seq, canonical, stored)] = copied_entries(entry.seq - 1, entry.seq)
    assert canonical == canonical_bytes(entry_fields(entry))
    assert (seq, stored) == (entry.seq, bytes(entry.leaf_hash))
