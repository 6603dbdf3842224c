"""End to end with real processes: a committed access request is published to a broker (a private
file-system one), a real Celery worker takes it, meets a 451 from the SMTP server, retries after its
back-off and delivers; the worker reads the test's database and its EMAIL_URL from the environment,
as in production."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from complaints import services
from config.celery import app
from notifications.models import Notification
from tests.liveserver import ROOT, private_file_broker, service_environment
from tests.notifications.conftest import JUSTIFICATION, Case, Inbox

pytestmark = [pytest.mark.slow, pytest.mark.local_store, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def private_broker(tmp_path: Path, settings, monkeypatch) -> Iterator[Path]:
    """The embedded broker's folders under a data dir of this test only: no other test's worker
    takes these messages, and this test's worker takes no one else's. Celery reads the broker URL
    from the environment before its settings, so both are changed (on Redis runs it is set)."""
    monkeypatch.setenv("CELERY_BROKER_URL", "filesystem://")
    data_dir = tmp_path / "vault"
    options = private_file_broker(data_dir)
    saved = app.conf.broker_url, app.conf.broker_transport_options, app.conf.task_always_eager
    app.conf.broker_url, app.conf.broker_transport_options = "filesystem://", options
    app.conf.task_always_eager = False
    _new_connections()
    try:
        yield data_dir
    finally:
        app.conf.broker_url, app.conf.broker_transport_options, app.conf.task_always_eager = saved
        _new_connections()


def _new_connections() -> None:
    """The app keeps its broker connections and producers (made from the broker settings of the
    time) in pools: dropped, so the next publish connects to the broker configured now."""
    if app._pool is not None:
        app._pool.force_close_all()
    app._pool = None
    app.amqp._producer_pool = None


def test_a_worker_retries_a_refused_message_and_delivers_it(
    smtp: Inbox, private_broker: Path, addressed, opened: Case, tmp_path: Path, settings
) -> None:
    smtp.refuse_next = 1
    env = service_environment(
        VAULT_DATA_DIR=str(private_broker), CELERY_BROKER_URL="filesystem://",
        EMAIL_URL=f"smtp://127.0.0.1:{settings.EMAIL_PORT}", DEFAULT_FROM_EMAIL="vault@example.org",
        VAULT_PUBLIC_URL="https://vault.example.org", NOTIFY_RETRY_BACKOFF_SECONDS="1",
    )  # fmt: skip
    services.request_access(officer=addressed.officer, case_id=opened.case.id, justification=JUSTIFICATION)
    assert smtp.received == []  # published, not yet delivered: nobody has taken it
    log = tmp_path / "worker.log"
    with open(log, "wb") as sink:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "--app", "config", "worker", "--pool", "solo",
             "--without-mingle", "--without-gossip", "--queues", "celery"],
            cwd=ROOT, env=env, start_new_session=True, stderr=sink, stdout=sink,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 120
            while len(smtp.received) < 2:
                assert worker.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "the worker did not deliver within 120 s"
                time.sleep(0.2)
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=30)
    assert smtp.refused == 1
    assert smtp.addressees() == ["dan@staff.example.org", "dora@staff.example.org"]
    assert all(
        m.subject == f"[Vault] Case {opened.short}: an access request awaits your decision"
        for m in smtp.received
    )
    assert sorted(Notification.objects.values_list("attempts", flat=True)) == [1, 2]
    assert set(Notification.objects.values_list("status", flat=True)) == {"sent"}
