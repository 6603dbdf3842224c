"""The reconciler runs on the real Celery worker over the configured broker (Redis in CI)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from config.celery import app
from recorder.models import Recording
from recorder.services import create_recorder_client, register_session
from tests.liveserver import ROOT, service_environment

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_beat_schedules_the_reconciler() -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["reconcile-abandoned-uploads"]
    assert entry["task"] == "recorder.tasks.reconcile_abandoned_uploads"
    app.loader.import_default_modules()  # what a worker does at start: autodiscovery
    assert entry["task"] in app.tasks


def test_a_worker_removes_an_abandoned_upload(store, age_keys) -> None:
    client, _ = create_recorder_client(name="tool")
    now = timezone.now()
    session = register_session(
        client=client, external_id="x", customer_ref="C", agent_ref="A", initiated_by="customer",
        started_at=now, consent_granted_at=now, consent_view=True, consent_control=True,
    )  # fmt: skip
    stale = now - timedelta(hours=1)
    Recording.objects.create(
        session=session, media_type="video/webm", object_key="recordings/2026/01/stale.age",
        upload_started_at=stale, last_activity_at=stale,
    )  # fmt: skip
    env = service_environment(UPLOAD_STALE_AFTER_SECONDS="60")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "--app", "config", "worker", "--pool", "solo",
         "--loglevel", "WARNING",
         "--without-mingle", "--without-gossip", "--queues", "celery"],
        cwd=ROOT, env=env, start_new_session=True,
    )  # fmt: skip
    try:
        app.send_task("recorder.tasks.reconcile_abandoned_uploads")
        deadline = time.monotonic() + 60
        while Recording.objects.filter(session=session).exists():
            assert worker.poll() is None, "the worker died"
            assert time.monotonic() < deadline, "the worker did not run the task within 60 s"
            time.sleep(0.2)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
