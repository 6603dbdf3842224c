"""Run the real service (gunicorn, production settings path) in its own process group.

Used where a test must kill the server or measure it: it shares the test database (committed
data, so tests use `transactional_db`), the test's store and keys, through the environment.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

from tests.conftest import free_port, wait_for_http

ROOT = Path(__file__).resolve().parent.parent


def database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or "postgres"
    return f"postgres://{user}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


def service_environment(**extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url(),
        "SECRET_KEY": settings.SECRET_KEY,
        "VAULT_HASH_KEY": settings.VAULT_HASH_KEY,
        "OBJECT_STORE": settings.OBJECT_STORE,
        "LOCAL_STORE_DIR": str(settings.LOCAL_STORE_DIR),
        "S3_BUCKET": settings.S3_BUCKET,
        "S3_ENDPOINT_URL": settings.S3_ENDPOINT_URL or "",
        "S3_PART_SIZE": str(settings.S3_PART_SIZE),
        "AGE_RECIPIENTS": ",".join(settings.AGE_RECIPIENTS),
        "AGE_RECIPIENTS_FILE": settings.AGE_RECIPIENTS_FILE,
        "AGE_IDENTITY_FILE": settings.AGE_IDENTITY_FILE,
        "KMS_KEY_ID": settings.KMS_KEY_ID,
        "RECORDING_MAX_BYTES": str(settings.RECORDING_MAX_BYTES),
        "LOG_LEVEL": "WARNING",
    }
    env.update(extra)
    return env


class LiveServer:
    def __init__(self, *, workers: int = 1, threads: int = 4, **extra_env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = [
            sys.executable, "-m", "gunicorn", "config.wsgi:application",
            "--bind", f"127.0.0.1:{self.port}", "--worker-class", "gthread",
            "--workers", str(workers), "--threads", str(threads), "--timeout", "300",
        ]  # fmt: skip
        self.env = service_environment(**extra_env)
        self.process: subprocess.Popen[Any] | None = None

    def __enter__(self) -> LiveServer:
        self.process = subprocess.Popen(self.args, cwd=ROOT, env=self.env, start_new_session=True)
        # Any answer will do; an unauthenticated API call is cheaper than building the schema.
        wait_for_http(self.url + "/api/v1/sessions")
        return self

    def kill(self) -> None:
        """SIGKILL the master and its workers at once: no cleanup code runs anywhere."""
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
            self.process = None

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=20)
            self.process = None


def private_file_broker(data_dir: Path) -> dict[str, object]:
    """Transport options of the embedded file broker (`filesystem://`) under `data_dir`, its folders
    made: a test's own queue, which no other test's worker reads (as config.settings lays it out)."""
    celery = data_dir / "celery"
    for folder in ("queue", "processed", "control"):
        (celery / folder).mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(celery / "queue"),
        "data_folder_out": str(celery / "queue"),
        "processed_folder": str(celery / "processed"),
        "store_processed": False,
        "control_folder": str(celery / "control"),
    }


def wait_until(condition: Callable[[], object], *, timeout: float = 60.0, what: str = "condition") -> None:
    """Poll `condition` until it holds (a process under test catching up), or fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)
