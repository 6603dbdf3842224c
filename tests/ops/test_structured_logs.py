"""Logs are JSON lines carrying the request id, into Celery tasks too, and never carry content,
tokens or raw customer references (a marker pushed through a real upload must not appear)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from config.celery import app
from ops.logs import current_request_id
from recorder.services import create_recorder_client
from tests.factories import SessionPayload
from tests.liveserver import ROOT, LiveServer, private_file_broker, service_environment

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

MARKER = b"PLAINTEXT-MARKER-7f3a9c"
CUSTOMER = "CUSTOMER-MARKER-5521"


class LoggingLiveServer(LiveServer):
    """The live server with its standard error (where the logs go) captured in a file."""

    def __init__(self, log_path: Path, **extra_env: str) -> None:
        super().__init__(**extra_env)
        self.log_path = log_path

    def __enter__(self) -> LoggingLiveServer:
        self._log = open(self.log_path, "wb")  # closed in __exit__
        self.process = subprocess.Popen(
            self.args, cwd=ROOT, env=self.env, start_new_session=True, stderr=self._log
        )
        from tests.conftest import wait_for_http

        wait_for_http(self.url + "/healthz")
        return self

    def __exit__(self, *exc: object) -> None:
        super().__exit__(*exc)
        self._log.close()


def json_lines(path: Path) -> list[dict[str, Any]]:
    """Every line the service wrote, each of which must be a JSON object."""
    lines = []
    for raw in path.read_text().splitlines():
        if raw.startswith("["):
            continue  # gunicorn's own error log ("[date] [pid] [INFO] Booting worker")
        lines.append(json.loads(raw))
    return lines


def test_an_upload_logs_json_with_its_request_id_and_never_the_content_or_token(
    store, age_keys, tmp_path: Path
) -> None:
    _, token = create_recorder_client(name="log-test-tool")
    log = tmp_path / "server.log"
    with LoggingLiveServer(log, LOG_FORMAT="json", LOG_LEVEL="DEBUG") as server:
        auth = {"Authorization": f"Bearer {token}"}
        payload = SessionPayload(customer_ref=CUSTOMER)
        session = requests.post(f"{server.url}/api/v1/sessions", json=payload, headers=auth, timeout=30)
        assert session.status_code == 201
        body = MARKER * 5000
        upload = requests.put(
            f"{server.url}/api/v1/sessions/{session.json()['id']}/recording",
            data=body,
            headers={**auth, "Content-Type": "video/webm", "X-Request-ID": "upload-req-000111"},
            timeout=60,
        )
        assert upload.status_code == 201
        assert upload.headers["X-Request-ID"] == "upload-req-000111"
        # A refused call logs (django.request warning) under its id too.
        refused = requests.put(
            f"{server.url}/api/v1/sessions/{session.json()['id']}/recording",
            data=b"other bytes",
            headers={**auth, "X-Request-ID": "refused-req-000222"},
            timeout=30,
        )
        assert refused.status_code == 409
    raw = log.read_bytes()
    assert MARKER not in raw
    assert token.encode() not in raw
    assert token[len("rvt_") :].encode() not in raw
    assert CUSTOMER.encode() not in raw
    lines = json_lines(log)
    assert lines, "the server logged nothing"
    for line in lines:
        assert {"time", "level", "logger", "message", "request_id"} <= set(line)
    assert any(line["request_id"] == "refused-req-000222" for line in lines)


def test_a_task_published_under_a_request_id_logs_under_it_in_the_worker(tmp_path: Path) -> None:
    """A private file-system broker, so no other test's or developer's queue is touched."""
    data_dir = tmp_path / "vault"
    env = service_environment(
        VAULT_DATA_DIR=str(data_dir), CELERY_BROKER_URL="filesystem://", LOG_FORMAT="json", LOG_LEVEL="INFO"
    )
    log = tmp_path / "worker.log"
    options = private_file_broker(data_dir)
    reset = current_request_id.set("task-req-000333")
    try:
        with app.connection_for_write("filesystem://", transport_options=options) as connection:
            app.send_task("recorder.tasks.reconcile_abandoned_uploads", connection=connection)
    finally:
        current_request_id.reset(reset)
    with open(log, "wb") as sink:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "--app", "config", "worker", "--pool", "solo",
             "--without-mingle", "--without-gossip", "--queues", "celery"],
            cwd=ROOT, env=env, start_new_session=True, stderr=sink, stdout=sink,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while b"finished" not in log.read_bytes():
                assert worker.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "the worker did not run the task within 60 s"
                time.sleep(0.2)
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=30)
    lines = [json.loads(raw) for raw in log.read_text().splitlines() if raw.startswith("{")]
    task_lines = [line for line in lines if line["logger"] == "ops.task_context"]
    assert [line["message"] for line in task_lines][:1] == [
        "task recorder.tasks.reconcile_abandoned_uploads started"
    ]
    assert {line["request_id"] for line in task_lines} == {"task-req-000333"}
