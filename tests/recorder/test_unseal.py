"""Unsealing needs an active access grant naming the recording; reads decrypt only what they cover."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from complaints.models import AccessGrant
from complaints.playback import AccessDenied, unseal
from recorder.models import Recording
from recorder.sealing import CHUNK_SIZE, TamperedError
from tests.factories import SessionPayload, content, grant_for

pytestmark = pytest.mark.django_db


def test_an_active_grant_reads_any_range(recording) -> None:
    rec, body = recording
    opened = unseal(grant=grant_for(rec), recording_id=str(rec.id))
    assert opened.size == len(body)
    for start, end in [
        (0, len(body)),
        (0, 1),
        (CHUNK_SIZE - 1, CHUNK_SIZE + 1),
        (3 * CHUNK_SIZE + 5, len(body)),
        (7, 7),
    ]:
        assert b"".join(opened.iter_range(start, end)) == body[start:end]


def test_a_range_read_fetches_only_the_chunks_it_covers(recording, store) -> None:
    rec, body = recording
    reads: list[tuple[int, int]] = []
    original = store.read

    def counting(key: str, offset: int, length: int) -> bytes:
        reads.append((offset, length))
        return original(key, offset, length)

    store.read = counting  # observe the store's traffic; the decryption path itself is real
    try:
        opened = unseal(grant=grant_for(rec), recording_id=str(rec.id))
        assert (
            b"".join(opened.iter_range(2 * CHUNK_SIZE + 10, 2 * CHUNK_SIZE + 20))
            == body[2 * CHUNK_SIZE + 10 : 2 * CHUNK_SIZE + 20]
        )
    finally:
        del store.read
    fetched = sum(length for offset, length in reads if offset >= 16)
    assert fetched == CHUNK_SIZE + 16  # one sealed chunk, nothing else


def test_no_grant_no_plaintext(recording) -> None:
    rec, _ = recording
    with pytest.raises(AccessDenied):
        unseal(grant=None, recording_id=str(rec.id))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("starts", "ends"),
    [(timedelta(hours=-80), timedelta(hours=-8)), (timedelta(hours=1), timedelta(hours=2))],
)
def test_a_grant_outside_its_window_is_refused(recording, starts: timedelta, ends: timedelta) -> None:
    rec, _ = recording
    with pytest.raises(AccessDenied):
        unseal(grant=grant_for(rec, starts=starts, ends=ends), recording_id=str(rec.id))


def test_a_revoked_grant_is_refused_even_if_the_caller_holds_a_stale_copy(recording) -> None:
    rec, _ = recording
    grant = grant_for(rec)
    AccessGrant.objects.filter(pk=grant.pk).update(revoked_at=timezone.now())
    with pytest.raises(AccessDenied):
        unseal(grant=grant, recording_id=str(rec.id))


def test_a_revoked_grant_is_refused_as_such_for_a_recording_it_does_not_name(recording, api) -> None:
    rec, _ = recording
    other_session = api.post("/api/v1/sessions", SessionPayload(), format="json").json()["id"]
    other = api.put(f"/api/v1/sessions/{other_session}/recording", b"x", content_type="video/webm").json()
    grant = grant_for(rec)
    AccessGrant.objects.filter(pk=grant.pk).update(revoked_at=timezone.now())
    with pytest.raises(AccessDenied):
        unseal(grant=grant, recording_id=other["id"])


def test_unsealing_re_reads_the_grant_with_the_recording_in_one_query(
    recording, django_assert_num_queries
) -> None:
    rec, body = recording
    grant = grant_for(rec, starts=-timedelta(hours=2))
    AccessGrant.objects.filter(pk=grant.pk).update(ends_at=grant.ends_at - timedelta(hours=1))
    with django_assert_num_queries(1):
        opened = unseal(grant=grant, recording_id=str(rec.id))
    assert b"".join(opened.iter_range(0, 10)) == body[:10]
    # The window ended in the database; the caller's copy still says it is open.
    AccessGrant.objects.filter(pk=grant.pk).update(ends_at=timezone.now() - timedelta(seconds=1))
    assert grant.is_active(timezone.now())
    with django_assert_num_queries(1), pytest.raises(AccessDenied):
        unseal(grant=grant, recording_id=str(rec.id))


def test_a_revoked_grant_is_refused_while_another_grant_names_the_same_recording(recording) -> None:
    rec, _ = recording
    revoked, active = grant_for(rec), grant_for(rec)
    AccessGrant.objects.filter(pk=revoked.pk).update(revoked_at=timezone.now())
    with pytest.raises(AccessDenied):
        unseal(grant=revoked, recording_id=str(rec.id))
    assert unseal(grant=active, recording_id=str(rec.id)).size > 0


def test_a_grant_does_not_open_other_recordings(recording, api, store) -> None:
    rec, _ = recording
    other_session = api.post("/api/v1/sessions", SessionPayload(), format="json").json()["id"]
    other = api.put(
        f"/api/v1/sessions/{other_session}/recording", b"other", content_type="video/webm"
    ).json()["id"]
    with pytest.raises(Exception) as refused:
        unseal(grant=grant_for(rec), recording_id=other)
    assert getattr(refused.value, "code", "") == "recording_not_in_grant"


def test_a_tampered_payload_is_detected_not_returned(recording, store) -> None:
    rec, body = recording
    sealed = bytearray(store.read(rec.object_key, 0, rec.payload_size))
    sealed[16 + CHUNK_SIZE + 16 + 100] ^= 0x01  # one bit in the second chunk
    writer = store.open_writer(rec.object_key)
    writer.write(bytes(sealed))
    writer.commit()
    opened = unseal(grant=grant_for(rec), recording_id=str(rec.id))
    assert b"".join(opened.iter_range(0, 100)) == body[:100]  # the first chunk is intact
    with pytest.raises(TamperedError):
        b"".join(opened.iter_range(CHUNK_SIZE, CHUNK_SIZE + 10))


def test_a_header_from_another_recording_does_not_open_this_payload(recording, api) -> None:
    rec, _ = recording
    other_session = api.post("/api/v1/sessions", SessionPayload(), format="json").json()["id"]
    other_id = api.put(
        f"/api/v1/sessions/{other_session}/recording", content(999), content_type="video/webm"
    ).json()["id"]
    Recording.objects.filter(pk=rec.pk).update(header=Recording.objects.get(pk=other_id).header)
    rec.refresh_from_db()
    opened = unseal(grant=grant_for(rec), recording_id=str(rec.id))
    with pytest.raises(TamperedError):
        b"".join(opened.iter_range(0, 10))


def test_a_change_to_the_identity_file_takes_effect_at_the_next_unseal(recording, age_keys) -> None:
    """The parsed identity is kept between requests only while the file is the same one."""
    from core.errors import DomainError
    from recorder.keys import X25519Identity

    rec, body = recording
    identity_file, _ = age_keys
    grant = grant_for(rec)
    assert b"".join(unseal(grant=grant, recording_id=str(rec.id)).iter_range(0, 5)) == body[:5]
    original = identity_file.read_bytes()

    identity_file.chmod(0o644)  # readable by others: refused, as on the first read
    with pytest.raises(DomainError) as refused:
        unseal(grant=grant, recording_id=str(rec.id))
    assert refused.value.code == "identity_unusable"
    identity_file.chmod(0o600)
    assert unseal(grant=grant, recording_id=str(rec.id)).size == len(body)

    # Another identity, same size and mode, written in place: this recording is not sealed to it.
    lines = original.decode().splitlines(keepends=True)
    identity_file.write_text("".join(lines[:-1]) + str(X25519Identity.generate()) + "\n")
    assert len(identity_file.read_bytes()) == len(original)
    with pytest.raises(DomainError) as refused:
        unseal(grant=grant, recording_id=str(rec.id))
    assert refused.value.detail == "The recording cannot be unsealed."

    identity_file.unlink()
    with pytest.raises(DomainError) as refused:
        unseal(grant=grant, recording_id=str(rec.id))
    assert refused.value.detail == "This node holds no identity for playback."

    identity_file.write_bytes(original)
    identity_file.chmod(0o600)
    assert b"".join(unseal(grant=grant, recording_id=str(rec.id)).iter_range(0, 5)) == body[:5]
