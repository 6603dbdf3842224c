"""`manage.py rotate_recipients`: every recording's file key rewrapped to the new recipients in
the database only; afterwards the new identity opens it (the real `age` binary and playback) and
the old one does not. Resumable, one ledger event per recording, for X25519 and KMS alike."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from audit.models import LedgerEntry
from complaints.playback import unseal
from recorder.keys import X25519Identity, write_identity_file
from recorder.models import Recording
from recorder.sealing import parse_header
from recorder.stores import get_store
from tests.factories import SessionPayload, grant_for
from tests.recorder.test_age_cli_interop import age_decrypt, locate

pytestmark = pytest.mark.django_db


def ingest(api: APIClient, count: int) -> dict[str, bytes]:
    bodies = {}
    for number in range(count):
        body = hashlib.sha256(str(number).encode()).digest() * (1000 + number * 700)
        session_id = api.post("/api/v1/sessions", SessionPayload(), format="json").json()["id"]
        answer = api.put(f"/api/v1/sessions/{session_id}/recording", body, content_type="video/webm")
        assert answer.status_code == 201
        bodies[answer.json()["id"]] = body
    return bodies


def payload_of(recording: Recording) -> bytes:
    return get_store().read(recording.object_key, 0, int(recording.payload_size or 0))


def rotate(*args: str) -> str:
    out = io.StringIO()
    call_command("rotate_recipients", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def age_file_of(recording: Recording) -> bytes:
    """Header and payload together: the standard age file the `age` tool opens."""
    return bytes(recording.header or b"") + payload_of(recording)


def test_x25519_rotation_rewraps_headers_only_and_retires_the_old_identity(
    api: APIClient, data_dir: Path, age_keys, settings
) -> None:
    settings.OBJECT_STORE = "local"
    old_identity_path, _ = age_keys
    bodies = ingest(api, 3)
    payload_digests = {r.id: hashlib.sha256(payload_of(r)).digest() for r in Recording.objects.all()}
    new_identity = X25519Identity.generate()
    new_identity_path = data_dir / "new-keys" / "age-identity.txt"
    write_identity_file(new_identity_path, new_identity)
    new_recipient = str(new_identity.recipient())

    # Interrupted after one recording: the next run does only the rest.
    assert "rewrapped 1, failed 0" in rotate("--recipient", new_recipient, "--limit", "1")
    assert "2 recording(s) to rewrap" in rotate("--recipient", new_recipient, "--dry-run")
    assert "rewrapped 2, failed 0" in rotate("--recipient", new_recipient)
    assert "0 recording(s) to rewrap" in rotate("--recipient", new_recipient)  # nothing left

    events = LedgerEntry.objects.filter(action="recording.rewrapped")
    assert sorted(str(e.recording_id) for e in events) == sorted(bodies)  # exactly one each
    for recording in Recording.objects.all():
        assert recording.recipients == [f"X25519:{new_recipient}"]
        assert hashlib.sha256(payload_of(recording)).digest() == payload_digests[recording.id]
        [stanza] = parse_header(bytes(recording.header)).stanzas
        assert stanza.type == "X25519"
        opened = age_decrypt(locate("age"), new_identity_path, age_file_of(recording))
        assert opened.returncode == 0, opened.stderr
        assert opened.stdout == bodies[str(recording.id)]
        refused = age_decrypt(locate("age"), old_identity_path, age_file_of(recording))
        assert refused.returncode != 0 and refused.stdout == b""

    # Playback, configured with the new identity only, opens it under a grant.
    settings.AGE_IDENTITY_FILE = str(new_identity_path)
    first = Recording.objects.order_by("id")[0]
    unsealed = unseal(grant=grant_for(first), recording_id=str(first.id))
    assert b"".join(unsealed.iter_range(0, unsealed.size)) == bodies[str(first.id)]


def test_kms_rotation_moves_every_recording_to_the_new_key(
    api: APIClient, data_dir: Path, settings, moto, kms_key_id: str
) -> None:
    settings.OBJECT_STORE = "local"
    settings.AGE_RECIPIENTS, settings.AGE_RECIPIENTS_FILE = [], ""
    settings.AGE_IDENTITY_FILE = str(data_dir / "no-identity.txt")
    settings.KMS_KEY_ID, settings.KMS_ENDPOINT_URL = kms_key_id, moto.endpoint
    bodies = ingest(api, 2)
    new_key = str(moto.client("kms").create_key(Description="rotated")["KeyMetadata"]["KeyId"])

    assert "rewrapped 2, failed 0" in rotate("--kms-key-id", new_key)
    for recording in Recording.objects.all():
        assert recording.recipients == [f"aws-kms:{new_key}"]
        [stanza] = parse_header(bytes(recording.header)).stanzas
        assert (stanza.type, stanza.args) == ("aws-kms", (new_key,))
    assert LedgerEntry.objects.filter(action="recording.rewrapped").count() == 2

    # The old key retired: ingest and playback now name the new one, and playback still works.
    moto.client("kms").disable_key(KeyId=kms_key_id)
    settings.KMS_KEY_ID = new_key
    first = Recording.objects.order_by("id")[0]
    unsealed = unseal(grant=grant_for(first), recording_id=str(first.id))
    assert b"".join(unsealed.iter_range(0, unsealed.size)) == bodies[str(first.id)]


def test_rotation_without_the_old_identity_fails_and_changes_nothing(
    api: APIClient, data_dir: Path, age_keys, settings
) -> None:
    settings.OBJECT_STORE = "local"
    ingest(api, 1)
    before = bytes(Recording.objects.get().header)
    stranger = X25519Identity.generate()
    stranger_path = data_dir / "stranger" / "identity.txt"
    write_identity_file(stranger_path, stranger)
    with pytest.raises(CommandError, match="could not be unwrapped"):
        rotate("--recipient", str(stranger.recipient()), "--identity-file", str(stranger_path))
    assert bytes(Recording.objects.get().header) == before
    assert not LedgerEntry.objects.filter(action="recording.rewrapped").exists()
