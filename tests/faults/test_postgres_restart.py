"""PostgreSQL restarted (`pg_ctl restart -m fast`) in the middle of an upload and of a purge: the
client gets a JSON 503 and nothing acknowledged is lost; the same upload sent again is
acknowledged, and the next purge run completes what the interrupted one left.

The server restarted is a private cluster this module starts (tests/pgcluster.py): restarting
the machine's shared server would break every other run on it. Everything else is real: gunicorn,
a purge worker process, the local object store, the project's own commands.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from tests.conftest import require
from tests.liveserver import ROOT, LiveServer, service_environment
from tests.pgcluster import PrivateCluster, server_binaries

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

PIECE = 256 * 1024

SEED = """
import json, io, os, sys, uuid
from datetime import timedelta
import django
django.setup()
from django.utils import timezone
from recorder.ingest import ingest_recording
from recorder.models import Recording
from recorder.services import create_recorder_client
from tests.factories import controlled_session

client, token = create_recorder_client(name="pg-restart")

def new_session(n):
    return controlled_session(
        client, external_id=f"s-{uuid.uuid4()}", customer_ref=f"CUST-{n:05d}", agent_ref="agent-7"
    )

expired = int(sys.argv[1])
if not expired:
    print(json.dumps({"token": token, "session": new_session(0)}))
for n in range(expired):
    body = os.urandom(2000)
    ingest_recording(
        client=client, session_id=new_session(n), body=io.BytesIO(body), content_length=len(body),
        media_type="video/webm", content_digest=None,
    )
Recording.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
"""

# The purge worker: the real purge, paced through its public progress hook (the management
# command draws its progress bar there) so that a restart lands between batches, not after the end.
PURGE_WORKER = """
import sys, time
import django
django.setup()
from retention.services import purge_expired

def paced(shredded, purged):
    print(f"batch: shredded {shredded}, purged {purged}", flush=True)
    time.sleep(0.05)

run = purge_expired(batch_size=int(sys.argv[1]), progress=paced)
print(f"finished: shredded {run.shredded}, purged {run.purged}, failed {run.failed}", flush=True)
"""


@pytest.fixture(scope="module")
def cluster() -> Iterator[PrivateCluster]:
    binaries = server_binaries()
    require(binaries, "the PostgreSQL server binaries (initdb, pg_ctl)", "apt-get install postgresql")
    assert binaries is not None
    private = PrivateCluster(binaries)
    try:
        private.start()
        private.migrate_template()
        yield private
    finally:
        private.destroy()


@pytest.fixture
def vault_env(cluster: PrivateCluster, settings, data_dir: Path, age_keys) -> dict[str, str]:
    """The service's environment on a fresh database of the private cluster and a local store."""
    from audit.keys import signing_key

    settings.OBJECT_STORE = "local"
    signing_key()  # made in the test's key folder now, so the processes below share it
    return service_environment(
        DATABASE_URL=cluster.fresh_database(), LEDGER_SIGNING_KEY_FILE=str(settings.LEDGER_SIGNING_KEY_FILE)
    )


def rows(env: dict[str, str], sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """A query on a connection of its own: a restart ends every open one."""
    url = env["DATABASE_URL"].replace("postgres://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(sql, params).fetchall()


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def seed(env: dict[str, str], expired: int) -> str:
    command = [sys.executable, "-c", SEED, str(expired)]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def states_in(env: dict[str, str]) -> dict[str, int]:
    return dict(rows(env, "SELECT state, count(*) FROM recorder_recording GROUP BY state"))


def store_files(env: dict[str, str]) -> list[str]:
    root = Path(env["LOCAL_STORE_DIR"])
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


def files_containing(marker: bytes, *folders: Path) -> list[Path]:
    found = []
    for folder in folders:
        for path in folder.rglob("*"):
            if path.is_file() and marker in path.read_bytes():
                found.append(path)
    return found


def read_json_answer(sock: socket.socket) -> tuple[int, dict[str, Any]] | None:
    """Status and JSON body of one HTTP answer; None if the server closed without answering."""
    data = b""
    while b"\r\n\r\n" not in data:
        piece = sock.recv(65536)
        if not piece:
            return None
        data += piece
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    assert headers.get("content-type", "").startswith("application/json"), head
    while len(body) < int(headers["content-length"]):
        piece = sock.recv(65536)
        assert piece, "the answer was cut short"
        body += piece
    return int(lines[0].split()[1]), json.loads(body)


def test_a_restart_mid_upload_acknowledges_nothing_and_the_same_upload_sent_again_is_locked(
    cluster: PrivateCluster, vault_env: dict[str, str], data_dir: Path
) -> None:
    seeded = json.loads(seed(vault_env, 0))
    token, session = seeded["token"], seeded["session"]
    marker = f"plaintext-{uuid.uuid4()}".encode()
    body = (marker * (16 * PIECE // len(marker) + 1))[: 16 * PIECE]  # 4 MiB
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "video/webm"}
    with LiveServer(**vault_env) as server:
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=60)
        sock.sendall(
            (
                f"PUT /api/v1/sessions/{session}/recording HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: Bearer {token}\r\nContent-Type: video/webm\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            ).encode()
        )
        for n in range(8):  # the first half, slowly
            sock.sendall(body[n * PIECE : (n + 1) * PIECE])
            time.sleep(0.05)
        deadline = time.monotonic() + 30
        while not rows(vault_env, "SELECT 1 FROM recorder_recording WHERE session_id = %s", session):
            assert time.monotonic() < deadline, "the upload never started"
            time.sleep(0.05)

        restarted = time.monotonic()
        cluster.restart()
        restart_took = time.monotonic() - restarted
        for n in range(8, 16):  # the second half, once the server is back
            sock.sendall(body[n * PIECE : (n + 1) * PIECE])
            time.sleep(0.05)
        answer = read_json_answer(sock)
        sock.close()
        assert answer is not None, "the server closed the connection without an answer"
        status, error = answer
        assert (status, error["error"]) == (503, "database_unavailable"), error
        left = rows(vault_env, "SELECT state FROM recorder_recording WHERE session_id = %s", session)
        assert ("locked",) not in left

        # The same upload, sent again until it is acknowledged.
        answers = []
        while True:
            retried = requests.put(
                f"{server.url}/api/v1/sessions/{session}/recording", data=body, headers=headers, timeout=60
            )
            answers.append(retried.status_code)
            if retried.status_code == 201 or time.monotonic() > restarted + 30:
                break
            assert (retried.status_code, retried.json()["error"]) == (503, "database_unavailable")
            time.sleep(0.05)
        recovered = time.monotonic() - restarted
        assert retried.status_code == 201, retried.text

    print(f"\nPostgreSQL restart mid-upload: pg_ctl restart took {restart_took:.2f} s; answer {status}")
    print(f"rows of the session after that answer: {left}; answers to the same upload sent again: {answers}")
    print(f"recovered {recovered:.2f} s after the restart began (first 201)")

    reconciled = manage(vault_env, "reconcile_uploads", "--stale-after", "0")
    assert reconciled.returncode == 0, reconciled.stderr
    print(f"reconciler: {reconciled.stdout.strip()}")
    recordings = rows(vault_env, "SELECT state, size, object_key FROM recorder_recording")
    assert [(state, size) for state, size, _ in recordings] == [("locked", len(body))]
    locked_key = recordings[0][2]
    assert store_files(vault_env) == [locked_key]  # its object, and no other object or partial file
    assert (Path(vault_env["LOCAL_STORE_DIR"]) / locked_key).stat().st_size > len(body)  # sealed
    ingested = rows(vault_env, "SELECT count(*) FROM audit_ledgerentry WHERE action = 'recording.ingested'")
    assert ingested == [(1,)]
    assert files_containing(marker, data_dir, cluster.data) == []
    verified = manage(vault_env, "verify_ledger", "--verbosity", "0")
    assert verified.returncode == 0, verified.stderr


def test_a_restart_mid_purge_is_completed_by_the_next_run(
    cluster: PrivateCluster, vault_env: dict[str, str]
) -> None:
    count, batch = 36, 3
    seed(vault_env, count)
    objects = {key for (key,) in rows(vault_env, "SELECT object_key FROM recorder_recording")}
    assert set(store_files(vault_env)) == objects and len(objects) == count

    worker = subprocess.Popen(
        [sys.executable, "-c", PURGE_WORKER, str(batch)],
        cwd=ROOT,
        env=vault_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while rows(vault_env, "SELECT count(*) FROM recorder_recording WHERE state = 'purged'")[0][0] < batch:
            assert time.monotonic() < deadline and worker.poll() is None, "the first batch was never purged"
            time.sleep(0.05)
        restarted = time.monotonic()
        cluster.restart()
        restart_took = time.monotonic() - restarted
        output, errors = worker.communicate(timeout=60)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    worker_ended = time.monotonic() - restarted
    if worker.returncode != 0:  # it may fail only because the database went away
        assert "OperationalError" in errors or "InterfaceError" in errors, errors
    left = states_in(vault_env)
    assert left.get("purged", 0) < count, "the restart came after the purge had finished"
    purged = rows(vault_env, "SELECT object_key FROM recorder_recording WHERE state = 'purged'")
    assert {key for (key,) in purged}.isdisjoint(store_files(vault_env)), "purged, yet its object is there"

    next_run = manage(vault_env, "purge_expired")
    recovered = time.monotonic() - restarted
    assert next_run.returncode == 0, next_run.stderr
    last_line = next(line for line in output.splitlines()[::-1] if line) if output.strip() else "(nothing)"
    print(f"\nPostgreSQL restart mid-purge: pg_ctl restart took {restart_took:.2f} s")
    print(f"the worker exited with {worker.returncode}, {worker_ended:.2f} s later; last line: {last_line}")
    print(f"left by it: {left}")
    print(f"next run done {recovered:.2f} s after the restart began:\n{next_run.stdout}")

    assert states_in(vault_env) == {"purged": count}
    assert store_files(vault_env) == []
    for action in ("recording.shredded", "recording.purged"):
        per_recording = rows(
            vault_env,
            "SELECT r.id, count(e.id) FROM recorder_recording r LEFT JOIN audit_ledgerentry e "
            "ON e.recording_id = r.id AND e.action = %s GROUP BY r.id",
            action,
        )
        assert len(per_recording) == count and {n for _, n in per_recording} == {1}, (action, per_recording)
    verified = manage(vault_env, "verify_ledger", "--verbosity", "0")
    assert verified.returncode == 0, verified.stderr
