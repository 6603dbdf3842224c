"""Purge workers and beat schedulers side by side on PostgreSQL purge every recording exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db.models import Count

from audit.models import LedgerEntry
from recorder.models import Recording
from retention.models import PurgeRun
from tests.liveserver import ROOT, service_environment

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PURGE = """
import sys, time
import django
django.setup()
from retention.services import purge_expired
time.sleep(max(0.0, float(sys.argv[1]) - time.time()))  # both start together, whatever their import took
purge_expired(batch_size=7)
"""


def assert_each_purged_exactly_once(count: int) -> None:
    assert Recording.objects.filter(state=Recording.State.PURGED).count() == count
    for action in ("recording.shredded", "recording.purged"):
        per_recording = (
            LedgerEntry.objects.filter(action=action).values("recording_id").annotate(n=Count("seq"))
        )
        assert len(per_recording) == count
        assert {row["n"] for row in per_recording} == {1}


def test_two_purge_workers_side_by_side_purge_each_recording_once(folder_store, recording_maker) -> None:
    recording_maker(150, size=200)
    env = service_environment()
    start_at = str(time.time() + 10)
    workers = [subprocess.Popen([sys.executable, "-c", PURGE, start_at], cwd=ROOT, env=env) for _ in range(2)]
    assert [w.wait(timeout=300) for w in workers] == [0, 0]
    assert_each_purged_exactly_once(150)
    runs = list(PurgeRun.objects.all())
    assert len(runs) == 2 and sum(r.purged for r in runs) == 150
    assert all(r.purged > 0 for r in runs), "both workers should have taken a share"


def test_two_beats_and_two_workers_purge_each_recording_once(
    folder_store, recording_maker, tmp_path: Path
) -> None:
    recording_maker(120, size=200)
    env = service_environment(PURGE_EVERY_SECONDS="1", PURGE_BATCH_SIZE="5")
    celery = [sys.executable, "-m", "celery", "--app", "config"]
    beats = [
        [*celery, "beat", "--loglevel", "WARNING", "--schedule", str(tmp_path / f"beat-{n}")]
        for n in range(2)
    ]
    workers = [
        [*celery, "worker", "--loglevel", "WARNING", "--concurrency", "2",
         "--without-mingle", "--without-gossip",
         "--hostname", f"purge-{n}@%h"]
        for n in range(2)
    ]  # fmt: skip
    processes = [
        subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True) for command in beats + workers
    ]
    try:
        deadline = time.monotonic() + 120
        # Until every recording is purged and a second run has finished too (on a slow machine the
        # first run can take them all): a later run must find nothing left to purge again.
        while (
            Recording.objects.exclude(state=Recording.State.PURGED).exists()
            or PurgeRun.objects.filter(finished_at__isnull=False).count() < 2
        ):
            assert all(p.poll() is None for p in processes), "a beat or worker process died"
            assert time.monotonic() < deadline, "the purge did not finish within 120 s"
            time.sleep(0.5)
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            process.wait(timeout=60)
    assert_each_purged_exactly_once(120)
    assert PurgeRun.objects.count() >= 2
