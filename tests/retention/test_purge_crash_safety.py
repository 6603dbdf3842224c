"""A purge worker SIGKILLed between any two steps: the next run completes, and every recording
gets exactly one `recording.shredded` and one `recording.purged` ledger event.

The worker is a real separate process running the real purge; the harness only decides where
it dies, by replacing the next step with `kill -9` of itself (fault injection in the child).
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from django.db import connection

from audit.models import LedgerEntry
from recorder.models import Recording
from retention.services import purge_expired
from tests.liveserver import ROOT, service_environment

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

HARNESS = """
import os, signal, sys
import django
django.setup()
from recorder import shredding
from retention import services

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

point = sys.argv[1]
if point == "inside_shred_transaction":      # claimed, headers erased, not yet committed
    shredding.record_events = die
elif point == "after_shred":                 # shred committed, payloads not yet deleted
    shredding.delete_shredded_payloads = die
elif point == "after_payload_delete":        # objects deleted, rows not yet marked purged
    shredding._mark_purged = die
elif point == "after_first_batch_purged":    # one batch fully done, the rest not started
    real = shredding.delete_shredded_payloads
    def once(**kwargs):
        real(**kwargs)
        die()
    shredding.delete_shredded_payloads = once
elif point == "before_run_recorded":         # everything purged, the run's record not written
    services.record_event = die
services.purge_expired(batch_size=3)
"""

POINTS = [
    "inside_shred_transaction",
    "after_shred",
    "after_payload_delete",
    "after_first_batch_purged",
    "before_run_recorded",
]


def states() -> dict[str, int]:
    return {s: Recording.objects.filter(state=s).count() for s in Recording.State.values}


@pytest.mark.parametrize("point", POINTS)
def test_the_next_run_completes_what_a_killed_worker_left(point: str, make_recordings, store) -> None:
    made = make_recordings(7)
    worker = subprocess.run(
        [sys.executable, "-c", HARNESS, point], cwd=ROOT, env=service_environment(), timeout=120
    )
    assert worker.returncode == -9, "the worker should have died by SIGKILL"
    left = states()
    # On PostgreSQL the purge shreds the next batch while the last one's payloads are deleted, so
    # the worker may die with a second batch's shred committed too; elsewhere the steps alternate.
    shredded_when_killed = {3, 6} if connection.vendor == "postgresql" else {3}
    if point == "inside_shred_transaction":
        assert left["locked"] == 7  # the uncommitted shred rolled back: nothing happened
    if point in {"after_shred", "after_payload_delete"}:
        assert left["shredded"] in shredded_when_killed and left["purged"] == 0
    if point == "after_payload_delete":
        assert len(list(store.keys())) == 4  # the batch's objects are gone, its rows not yet purged
    if point == "after_first_batch_purged":
        assert left["purged"] == 3
    if point == "before_run_recorded":
        assert left["purged"] == 7

    purge_expired()

    assert states()["purged"] == 7
    assert list(store.keys()) == []
    for recording in made:
        for action in ("recording.shredded", "recording.purged"):
            assert LedgerEntry.objects.filter(action=action, recording_id=recording.id).count() == 1
