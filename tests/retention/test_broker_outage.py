"""Redis stopped for a while: ingest keeps working, and the scheduled purge catches up after."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from django.utils import timezone

from recorder.models import Recording
from recorder.services import register_session
from tests.conftest import free_port, require_program
from tests.liveserver import ROOT, LiveServer, service_environment

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


class PrivateRedis:
    """A redis-server of the test's own, so stopping it disturbs nothing else."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = require_program("redis-server", "apt-get install redis-server")
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while (
            subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True).stdout
            != b"PONG\n"
        ):
            assert time.monotonic() < deadline, "redis did not start"
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


def wait_until_purged(count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while Recording.objects.filter(state=Recording.State.PURGED).count() < count:
        assert time.monotonic() < deadline, f"fewer than {count} recordings purged after {timeout} s"
        time.sleep(0.5)


def test_ingest_works_while_redis_is_down_and_the_purge_catches_up(
    settings, data_dir, age_keys, recorder_client, recording_maker, tmp_path: Path
) -> None:
    settings.OBJECT_STORE = "local"
    redis = PrivateRedis(free_port())
    redis.start()
    env = service_environment(
        CELERY_BROKER_URL=f"redis://127.0.0.1:{redis.port}/0", PURGE_EVERY_SECONDS="1", LOG_LEVEL="ERROR"
    )
    celery = [sys.executable, "-m", "celery", "--app", "config"]
    processes = [
        subprocess.Popen(
            [*celery, "beat", "--loglevel", "ERROR", "--schedule", str(tmp_path / "beat")],
            cwd=ROOT, env=env, start_new_session=True, stderr=subprocess.DEVNULL,
        ),
        subprocess.Popen(
            [*celery, "worker", "--loglevel", "ERROR", "--concurrency", "1",
             "--without-mingle", "--without-gossip"],
            cwd=ROOT, env=env, start_new_session=True, stderr=subprocess.DEVNULL,
        ),
    ]  # fmt: skip
    try:
        recording_maker(2)
        wait_until_purged(2, timeout=180)  # the schedule works
        redis.stop()
        client, token = recorder_client
        with LiveServer(CELERY_BROKER_URL=env["CELERY_BROKER_URL"]) as server:
            now = timezone.now()
            for n in range(3):
                session = register_session(
                    client=client, external_id=f"during-outage-{n}", customer_ref="C", agent_ref="A",
                    initiated_by="customer", started_at=now, consent_granted_at=now,
                    consent_view=True, consent_control=True,
                )  # fmt: skip
                answer = requests.put(
                    f"{server.url}/api/v1/sessions/{session.id}/recording",
                    data=b"recorded while the broker was down",
                    headers={"Authorization": f"Bearer {token}", "Content-Type": "video/webm"},
                    timeout=30,
                )
                assert answer.status_code == 201, answer.text
        Recording.objects.filter(state=Recording.State.LOCKED).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
        time.sleep(3)  # beat and worker fail to reach the broker for a while
        assert Recording.objects.filter(state=Recording.State.LOCKED).count() == 3
        redis.start()
        back = time.monotonic()
        wait_until_purged(5, timeout=300)
        # Recovery time, quoted in docs/RELIABILITY.md (printed with -s; never asserted).
        print(f"\nredis back: the missed purges done {time.monotonic() - back:.1f} s later")
        assert all(p.poll() is None for p in processes), "beat or worker gave up instead of reconnecting"
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            process.wait(timeout=60)
        redis.stop()
