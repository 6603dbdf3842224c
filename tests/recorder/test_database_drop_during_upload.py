"""PostgreSQL drops the web process's connection in the middle of an upload (what a database
restart or failover does to its clients): the upload is answered 503 database_unavailable and not
acknowledged, nothing is locked, the next request is served on a new connection, and the
reconciler removes what was left.

The connections are ended with pg_terminate_backend on this test's own database only: a real
restart of the shared server would break every other run on the machine.
"""

from __future__ import annotations

import socket
import time

import pytest
import requests
from django.db import connection

from recorder.ingest import reconcile_abandoned_uploads
from recorder.models import Recording
from recorder.services import create_recorder_client
from tests.factories import controlled_session
from tests.liveserver import LiveServer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.postgres]

CHUNK = b"\x00recording" * 104857  # about 1 MiB


def terminate_other_connections() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return int(cursor.fetchone()[0])


def test_a_dropped_database_connection_mid_upload_loses_nothing_acknowledged(store, age_keys) -> None:
    client, token = create_recorder_client(name="db-drop")
    session_id = controlled_session(client, external_id="db-1", customer_ref="C-DB")
    total = 24 * len(CHUNK)
    with LiveServer() as server:
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=60)
        sock.sendall(
            (
                f"PUT /api/v1/sessions/{session_id}/recording HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: Bearer {token}\r\nContent-Type: video/webm\r\n"
                f"Content-Length: {total}\r\n\r\n"
            ).encode()
        )
        for _ in range(12):
            sock.sendall(CHUNK)
        deadline = time.monotonic() + 30
        while not Recording.objects.filter(session_id=session_id).exists():
            assert time.monotonic() < deadline, "the upload never started"
            time.sleep(0.1)
        assert terminate_other_connections() >= 1
        dropped = time.monotonic()
        for _ in range(12):
            sock.sendall(CHUNK)
        answer = sock.recv(65536).decode("latin-1")
        while not answer.rstrip().endswith("}"):  # the body may follow its headers in a packet of its own
            piece = sock.recv(65536).decode("latin-1")
            if not piece:
                break
            answer += piece
        sock.close()
        status = int(answer.split()[1])
        assert status == 503, answer[:400]
        assert '"error":"database_unavailable"' in answer.replace(" ", "")
        # The next upload is served on a fresh connection and acknowledged.
        retried = requests.put(
            f"{server.url}/api/v1/sessions/{session_id}/recording",
            data=CHUNK,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "video/webm"},
            timeout=60,
        )
        recovered = time.monotonic() - dropped
        assert retried.status_code == 201, retried.text
    print(f"\ndatabase connection dropped: first answer {status}; next upload answered {retried.status_code}")
    print(f"recovered {recovered:.2f} s after the drop")
    locked = Recording.objects.filter(session_id=session_id, state=Recording.State.LOCKED)
    assert list(locked.values_list("size", flat=True)) == [len(CHUNK)]  # the acknowledged retry only
    reconcile_abandoned_uploads(stale_after_seconds=0)
    assert not Recording.objects.filter(state=Recording.State.RECEIVING).exists()
