"""An upload that dies half-way (client gone, server killed) leaves no locked row and no orphan."""

from __future__ import annotations

import socket

import pytest

from audit.models import LedgerEntry
from recorder.ingest import reconcile_abandoned_uploads
from recorder.models import Recording
from tests.liveserver import LiveServer, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ANNOUNCED = 64 * 1024 * 1024
SENT = 12 * 1024 * 1024


def start_upload(server: LiveServer, session_id: str, token: str) -> socket.socket:
    """Announce 64 MiB, send 12 MiB of it, and keep the connection open."""
    sock = socket.create_connection(("127.0.0.1", server.port))
    head = (
        f"PUT /api/v1/sessions/{session_id}/recording HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: video/webm\r\nContent-Length: {ANNOUNCED}\r\n\r\n"
    )
    sock.sendall(head.encode())
    piece = b"\x00plaintext" * 104857
    sent = 0
    while sent < SENT:
        sock.sendall(piece)
        sent += len(piece)
    return sock


def test_killed_server_mid_upload_is_cleaned_by_the_reconciler(session_and_token, store, age_keys) -> None:
    session_id, token = session_and_token
    with LiveServer() as server:
        sock = start_upload(server, session_id, token)
        wait_until(lambda: Recording.objects.filter(session_id=session_id).exists() and list(store.keys()))
        server.kill()
        sock.close()
    left = Recording.objects.get(session_id=session_id)
    assert left.state == Recording.State.RECEIVING  # never locked: the body never arrived whole
    assert list(store.keys()), "the killed upload left staged bytes to clean"
    assert reconcile_abandoned_uploads(stale_after_seconds=0) == 1
    assert not Recording.objects.filter(session_id=session_id).exists()
    assert list(store.keys()) == []
    assert LedgerEntry.objects.filter(action="recording.upload_abandoned", session_id=session_id).count() == 1
    assert reconcile_abandoned_uploads(stale_after_seconds=0) == 0  # idempotent


def test_client_gone_mid_upload_is_cleaned_at_once(session_and_token, store, age_keys) -> None:
    session_id, token = session_and_token
    with LiveServer() as server:
        sock = start_upload(server, session_id, token)
        wait_until(lambda: Recording.objects.filter(session_id=session_id).exists())
        sock.close()
        wait_until(
            lambda: not Recording.objects.filter(session_id=session_id).exists() and not list(store.keys())
        )
    rejected = LedgerEntry.objects.get(action="recording.rejected", session_id=session_id)
    assert rejected.details == {"reason": "body_incomplete"}


def test_reconciler_leaves_uploads_in_progress_alone(session_and_token, store, age_keys) -> None:
    session_id, token = session_and_token
    with LiveServer() as server:
        sock = start_upload(server, session_id, token)
        wait_until(lambda: Recording.objects.filter(session_id=session_id).exists())
        assert reconcile_abandoned_uploads(stale_after_seconds=60) == 0
        assert Recording.objects.filter(session_id=session_id).exists()
        sock.close()
