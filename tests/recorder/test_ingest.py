"""Ingest: streamed through the age sealer into the store, locked, idempotent, nothing kept on refusal.

Every test here runs twice: against the local-folder store and against S3 over HTTP (moto).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import LedgerEntry
from recorder.models import Recording
from tests.conftest import require_program
from tests.factories import MARKER, ConsentPayload, SessionPayload, content

pytestmark = pytest.mark.django_db


@pytest.fixture
def age_cli() -> str:
    return require_program("age", "apt-get install age")


@pytest.fixture
def session_id(api: APIClient) -> str:
    return str(api.post("/api/v1/sessions", SessionPayload(), format="json").json()["id"])


@pytest.fixture
def view_only_session_id(api: APIClient) -> str:
    payload = SessionPayload(consent=ConsentPayload(view=True, control=False))
    return str(api.post("/api/v1/sessions", payload, format="json").json()["id"])


def upload(api: APIClient, session_id: str, body: bytes, **headers: str):
    # Sent explicitly: Django's test client omits CONTENT_LENGTH for an empty body; HTTP clients don't.
    headers.setdefault("CONTENT_LENGTH", str(len(body)))
    return api.put(f"/api/v1/sessions/{session_id}/recording", body, content_type="video/webm", **headers)


def digest_header(body: bytes) -> str:
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"


def stored_objects(store) -> list[str]:
    return list(store.keys())


def assert_nothing_kept(store, session_id: str) -> None:
    assert not Recording.objects.filter(session_id=session_id).exists()
    assert stored_objects(store) == []


def test_upload_is_sealed_locked_and_given_an_expiry(api, session_id, store, age_keys) -> None:
    body = content(300_000)
    response = upload(api, session_id, body)
    assert response.status_code == 201, response.json()
    answer = response.json()
    assert answer["state"] == "locked" and answer["size"] == len(body)
    recording = Recording.objects.get(id=answer["id"])
    assert recording.expires_at is not None and recording.expires_at > timezone.now()
    assert re.fullmatch(rf"recordings/\d{{4}}/\d{{2}}/{recording.id}\.age", recording.object_key)
    assert stored_objects(store) == [recording.object_key]
    assert bytes(recording.header).startswith(b"age-encryption.org/v1\n-> X25519 ")
    payload = store.read(recording.object_key, 0, recording.payload_size)
    assert MARKER not in payload and MARKER not in bytes(recording.header)
    assert LedgerEntry.objects.filter(action="recording.ingested", recording_id=recording.id).count() == 1


def test_header_plus_payload_is_a_standard_age_file(
    api, session_id, store, age_keys, age_cli, tmp_path: Path
) -> None:
    body = content(200_001)
    recording = Recording.objects.get(id=upload(api, session_id, body).json()["id"])
    sealed = tmp_path / "recording.age"
    sealed.write_bytes(bytes(recording.header) + store.read(recording.object_key, 0, recording.payload_size))
    identity, _ = age_keys
    result = subprocess.run(
        [age_cli, "-d", "-i", str(identity), str(sealed)], capture_output=True, check=True
    )
    assert result.stdout == body


def test_the_same_bytes_again_return_the_same_recording(api, session_id, store, age_keys) -> None:
    body = content(70_000)
    first = upload(api, session_id, body)
    again = upload(api, session_id, body, HTTP_CONTENT_DIGEST=digest_header(body))
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert Recording.objects.count() == 1 and len(stored_objects(store)) == 1


@pytest.mark.parametrize("other", [b"x" * 70_000, b"shorter"])
def test_other_bytes_for_a_recorded_session_are_refused(
    api, session_id, store, age_keys, other: bytes
) -> None:
    first = upload(api, session_id, content(70_000))
    response = upload(api, session_id, other)
    assert response.status_code == 409
    assert response.json()["error"] == "recording_exists"
    recording = Recording.objects.get()
    assert str(recording.id) == first.json()["id"] and recording.size == 70_000
    assert len(stored_objects(store)) == 1


def test_a_session_without_control_rights_is_not_recorded(api, view_only_session_id, store, age_keys) -> None:
    response = upload(api, view_only_session_id, content(1000))
    assert response.status_code == 409
    assert response.json()["error"] == "no_control_grant"
    assert_nothing_kept(store, view_only_session_id)
    assert LedgerEntry.objects.get(action="recording.rejected").details == {"reason": "no_control_grant"}


def test_control_granted_later_in_the_timeline_allows_the_recording(
    api, view_only_session_id, store, age_keys
) -> None:
    event = {"type": "scope_changed", "at": timezone.now().isoformat(), "view": True, "control": True}
    assert (
        api.post(f"/api/v1/sessions/{view_only_session_id}/events", event, format="json").status_code == 201
    )
    assert upload(api, view_only_session_id, content(1000)).status_code == 201


def test_a_matching_content_digest_is_accepted(api, session_id, store, age_keys) -> None:
    body = content(123_456)
    assert upload(api, session_id, body, HTTP_CONTENT_DIGEST=digest_header(body)).status_code == 201


def test_a_wrong_content_digest_is_refused_and_leaves_nothing(api, session_id, store, age_keys) -> None:
    response = upload(api, session_id, content(123_456), HTTP_CONTENT_DIGEST=digest_header(b"other"))
    assert response.status_code == 400
    assert response.json()["error"] == "digest_mismatch"
    assert_nothing_kept(store, session_id)
    assert LedgerEntry.objects.get(action="recording.rejected").details == {"reason": "digest_mismatch"}


@pytest.mark.parametrize("header", ["sha-256=abc", "md5=:AAAA:", "sha-256=:!!!:", "sha-256=:AAAA:"])
def test_a_malformed_content_digest_is_refused(api, session_id, store, age_keys, header: str) -> None:
    response = upload(api, session_id, b"data", HTTP_CONTENT_DIGEST=header)
    assert response.status_code == 400
    assert response.json()["error"] in {"bad_digest_header", "unsupported_digest"}
    assert_nothing_kept(store, session_id)


def test_a_recording_over_the_size_limit_is_refused(api, session_id, store, age_keys, settings) -> None:
    settings.RECORDING_MAX_BYTES = 1000
    response = upload(api, session_id, content(1001))
    assert response.status_code == 413
    assert response.json()["error"] == "too_large"
    assert_nothing_kept(store, session_id)


def test_an_empty_recording_is_refused_and_does_not_take_the_sessions_slot(
    api, session_id, store, age_keys
) -> None:
    """An empty body used to be sealed and locked, and the real upload then got 409."""
    response = upload(api, session_id, b"")
    assert response.status_code == 400
    assert response.json()["error"] == "empty_recording" and response.json()["detail"]
    assert_nothing_kept(store, session_id)
    assert LedgerEntry.objects.get(action="recording.rejected").details == {"reason": "empty_recording"}
    body = content(1000)
    response = upload(api, session_id, body)
    assert response.status_code == 201 and response.json()["size"] == len(body)


def test_an_upload_without_content_length_is_refused(api, session_id, store, age_keys) -> None:
    response = api.put(f"/api/v1/sessions/{session_id}/recording", b"", content_type="video/webm")
    assert response.status_code == 411
    assert response.json()["error"] == "length_required"
    assert_nothing_kept(store, session_id)


def test_ingest_works_on_a_node_without_the_identity(api, session_id, store, age_keys, settings) -> None:
    """Ingest nodes are deployed without the private key: only the public recipient is needed."""
    identity, _ = age_keys
    hidden = identity.with_name("elsewhere")
    identity.rename(hidden)
    settings.AGE_IDENTITY_FILE = str(identity)  # configured, but absent on this node
    response = upload(api, session_id, content(5000))
    assert response.status_code == 201
    assert not identity.exists()


def test_ingest_never_opens_the_identity_file(api, session_id, store, age_keys) -> None:
    """Every file the process opens during an upload is seen by a Python audit hook (PEP 578)."""
    identity, _ = age_keys
    _OPENED.clear()
    _WATCHING.append(True)
    try:
        assert upload(api, session_id, content(5000)).status_code == 201
    finally:
        _WATCHING.clear()
    assert _OPENED, "the audit hook saw no file at all: the proof would prove nothing"
    assert str(identity) not in _OPENED
    assert all("identity" not in path for path in _OPENED)


_OPENED: list[str] = []
_WATCHING: list[bool] = []


def _audit(event: str, args: tuple) -> None:  # type: ignore[type-arg]
    if _WATCHING and event == "open" and isinstance(args[0], str | bytes | os.PathLike):
        _OPENED.append(os.fsdecode(args[0]))


sys.addaudithook(_audit)


def test_sealing_unavailable_without_recipients_keeps_nothing(
    api, session_id, store, settings, data_dir
) -> None:
    settings.AGE_RECIPIENTS = []
    settings.AGE_RECIPIENTS_FILE = ""
    settings.KMS_KEY_ID = ""
    response = upload(api, session_id, content(100))
    assert response.status_code == 503
    assert response.json()["error"] == "sealing_unavailable"
    assert_nothing_kept(store, session_id)


def test_kms_recipient_adds_an_aws_kms_stanza(
    api, session_id, store, age_keys, settings, moto, kms_key_id
) -> None:
    settings.KMS_KEY_ID = kms_key_id
    settings.KMS_ENDPOINT_URL = moto.endpoint
    recording = Recording.objects.get(id=upload(api, session_id, content(5000)).json()["id"])
    assert b"\n-> aws-kms " in bytes(recording.header)
    assert sorted(label.split(":")[0] for label in recording.recipients) == ["X25519", "aws-kms"]


def test_session_metadata_never_carries_content_or_keys(api, session_id, store, age_keys) -> None:
    upload(api, session_id, content(5000))
    answer = api.get(f"/api/v1/sessions/{session_id}").json()
    assert set(answer["recording"]) == {
        "id",
        "state",
        "size",
        "media_type",
        "received_at",
        "expires_at",
        "purged_at",
    }
    text = str(answer)
    assert "age-encryption" not in text and MARKER.decode() not in text
