"""The purge: exactly at expiry, never while held, everything due in one run, proof left behind."""

from __future__ import annotations

import subprocess
from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from audit.models import LedgerEntry
from audit.services import Actor
from recorder.models import Recording, Session
from recorder.shredding import sessions_for_customer
from retention.models import PurgeRun
from retention.services import place_legal_hold, purge_expired, release_legal_hold

pytestmark = pytest.mark.django_db
OFFICER = Actor(kind="user", id="1", label="officer")


def events(action: str, recording: Recording) -> int:
    return LedgerEntry.objects.filter(action=action, recording_id=recording.id).count()


def test_nothing_is_purged_one_second_before_expiry_and_everything_one_second_after(make_recordings) -> None:
    [recording] = make_recordings(1, expires_in=timedelta(days=90))
    with time_machine.travel(recording.expires_at - timedelta(seconds=1), tick=False):
        run = purge_expired()
    assert (run.shredded, run.purged) == (0, 0)
    assert Recording.objects.get(pk=recording.pk).state == Recording.State.LOCKED
    with time_machine.travel(recording.expires_at + timedelta(seconds=1), tick=False):
        run = purge_expired()
    assert (run.shredded, run.purged) == (1, 1)
    assert Recording.objects.get(pk=recording.pk).state == Recording.State.PURGED


def test_one_run_purges_everything_expired_and_unheld_across_batches(make_recordings, store) -> None:
    expired = make_recordings(23)
    fresh = make_recordings(3, expires_in=timedelta(days=1))
    run = purge_expired(batch_size=5)
    assert (run.shredded, run.purged, run.failed) == (23, 23, 0)
    assert set(Recording.objects.filter(state=Recording.State.PURGED).values_list("id", flat=True)) == {
        r.id for r in expired
    }
    assert sorted(store.keys()) == sorted(r.object_key for r in fresh)
    assert purge_expired().purged == 0  # nothing left to do


def test_a_purged_recording_leaves_a_tombstone_and_no_way_back(
    make_recordings, store, age_keys, tmp_path
) -> None:
    [recording] = make_recordings(1)
    payload_backup = store.read(recording.object_key, 0, recording.payload_size)  # as a backup would hold it
    session = Session.objects.get(pk=recording.session_id)
    customer_ref = str(session.customer_ref)
    purge_expired()
    recording.refresh_from_db()
    assert recording.state == Recording.State.PURGED and recording.header is None
    assert recording.shredded_at is not None and recording.purged_at is not None
    assert store.size(recording.object_key) is None
    session.refresh_from_db()
    assert session.customer_ref is None and session.agent_ref is None
    assert len(session.customer_ref_hash) == 64 and customer_ref not in session.customer_ref_hash
    assert list(sessions_for_customer(customer_ref)) == [session]
    assert events("recording.shredded", recording) == 1 and events("recording.purged", recording) == 1
    # Crypto-shredding: the restored payload cannot be opened with the identity, header or not.
    backup = tmp_path / "restored.age"
    backup.write_bytes(payload_backup)
    identity, _ = age_keys
    assert (
        subprocess.run(["age", "-d", "-i", str(identity), str(backup)], capture_output=True).returncode != 0
    )
    assert not Recording.objects.filter(header__isnull=False, state=Recording.State.PURGED).exists()


def test_a_held_recording_outlives_its_expiry_until_released(make_recordings) -> None:
    held, free = make_recordings(2)
    hold = place_legal_hold(session_id=held.session_id, reason="complaint", actor=OFFICER)
    run = purge_expired()
    assert (run.purged, run.skipped_held) == (1, 1)
    assert Recording.objects.get(pk=held.pk).state == Recording.State.LOCKED
    assert Recording.objects.get(pk=free.pk).state == Recording.State.PURGED
    release_legal_hold(hold_id=hold.id, actor=OFFICER)
    assert purge_expired().purged == 1
    assert Recording.objects.get(pk=held.pk).state == Recording.State.PURGED
    placed = LedgerEntry.objects.get(action="legal_hold.placed")
    released = LedgerEntry.objects.get(action="legal_hold.released")
    assert placed.session_id == released.session_id == held.session_id


def test_any_open_hold_keeps_the_recording(make_recordings) -> None:
    [recording] = make_recordings(1)
    first = place_legal_hold(session_id=recording.session_id, reason="case A", actor=OFFICER)
    place_legal_hold(session_id=recording.session_id, reason="case B", actor=OFFICER)
    release_legal_hold(hold_id=first.id, actor=OFFICER)
    assert purge_expired().purged == 0


def test_a_dry_run_changes_nothing(make_recordings, store) -> None:
    made = make_recordings(4)
    run = purge_expired(dry_run=True)
    assert (run.dry_run, run.shredded) == (True, 4)
    assert Recording.objects.filter(state=Recording.State.LOCKED).count() == 4
    assert len(list(store.keys())) == len(made)
    assert not LedgerEntry.objects.filter(action__in=["recording.shredded", "recording.purged"]).exists()


def test_each_run_is_recorded_and_ledgered(make_recordings) -> None:
    make_recordings(3)
    run = purge_expired()
    stored = PurgeRun.objects.get(pk=run.pk)
    assert (stored.shredded, stored.purged, stored.failed, stored.skipped_held) == (3, 3, 0, 0)
    assert stored.finished_at is not None and stored.finished_at >= stored.started_at
    entry = LedgerEntry.objects.get(action="retention.purge_run")
    assert entry.details["run"] == str(run.id) and entry.details["purged"] == 3


def test_the_command_prints_a_summary_and_honours_limit(make_recordings, capsys) -> None:
    make_recordings(5)
    call_command("purge_expired", "--limit", "2")
    out = capsys.readouterr().out
    assert "shredded (key destroyed)" in out and "2" in out
    assert Recording.objects.filter(state=Recording.State.PURGED).count() == 2
    call_command("purge_expired", "--dry-run")
    assert "would shred" in capsys.readouterr().out
    assert Recording.objects.filter(state=Recording.State.PURGED).count() == 2


def test_a_hold_on_an_unknown_session_is_refused() -> None:
    import uuid

    from core.errors import NotFound

    with pytest.raises(NotFound):
        place_legal_hold(session_id=uuid.uuid4(), reason="x", actor=OFFICER)
    assert timezone.now()
