"""Playback: the grantee streams plaintext ranges a <video> can seek in; every request is checked,
on record before the first byte, and nobody else gets a byte."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from audit.models import LedgerEntry
from complaints import playback, services
from complaints.api import stream as playback_views
from recorder import unsealing as recorder_playback
from recorder.models import Recording
from recorder.sealing import CHUNK_SIZE, TamperedError
from retention.models import LegalHold
from retention.services import purge_expired, release_legal_hold
from tests.complaints.conftest import ledger_actions
from tests.openapi import assert_documented, published_schema
from tests.staff import PASSWORD, fresh_totp_code, signed_in

pytestmark = [pytest.mark.django_db, pytest.mark.local_store]
SIZE = 3 * CHUNK_SIZE + 1234


@pytest.fixture
def granted(staff, make_session):
    made = make_session(size=SIZE)
    case = services.open_case(
        officer=staff.officer, customer_ref="CUST-4711", channel="email",
        complaint="The agent changed my settings.", session_ids=[made.session_id],
    )  # fmt: skip
    request = services.request_access(officer=staff.officer, case_id=case.id, justification="Check it.")
    grant = services.approve_access_request(approver=staff.dpo, request_id=request.id, reason="Fine.")
    return case, grant, made


def stream_url(case_id, recording_id) -> str:
    return f"/api/v1/cases/{case_id}/recordings/{recording_id}/stream"


def streamed(response) -> bytes:
    return b"".join(response.streaming_content)


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-99", 0, 99),  # the first bytes
        (f"bytes={CHUNK_SIZE - 10}-{2 * CHUNK_SIZE + 10}", CHUNK_SIZE - 10, 2 * CHUNK_SIZE + 10),  # middle
        ("bytes=-500", SIZE - 500, SIZE - 1),  # suffix
        (f"bytes={2 * CHUNK_SIZE + 7}-", 2 * CHUNK_SIZE + 7, SIZE - 1),  # open-ended
        (f"bytes=5-{SIZE * 2}", 5, SIZE - 1),  # an end beyond the size is clamped
        (f"bytes=-{SIZE * 2}", 0, SIZE - 1),  # a suffix longer than the recording
    ],
)
def test_a_range_returns_exactly_that_slice_of_the_plaintext(staff, granted, header, start, end) -> None:
    case, _, made = granted
    answer = signed_in(staff.officer).get(stream_url(case.id, made.recording_id), HTTP_RANGE=header)
    assert answer.status_code == 206
    assert answer["Content-Range"] == f"bytes {start}-{end}/{SIZE}"
    assert int(answer["Content-Length"]) == end - start + 1
    assert streamed(answer) == made.body[start : end + 1]


def test_without_range_the_whole_recording_is_served_inline_and_never_cached(staff, granted) -> None:
    case, _, made = granted
    answer = signed_in(staff.officer).get(stream_url(case.id, made.recording_id))
    assert answer.status_code == 200
    assert streamed(answer) == made.body
    assert answer["Content-Type"] == "video/webm"
    assert answer["Accept-Ranges"] == "bytes"
    assert answer["Cache-Control"] == "no-store"
    assert answer["Content-Disposition"] == "inline"
    # Its own policy, stricter than the pages': opened on its own, the media runs no script.
    assert answer["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert answer["X-Content-Type-Options"] == "nosniff"


def test_an_error_from_the_stream_carries_the_site_policy(staff, granted) -> None:
    case, _, _ = granted
    answer = signed_in(staff.officer).get(stream_url(case.id, "0" * 32))
    assert answer.status_code == 404
    assert "default-src 'none'" in answer["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in answer["Content-Security-Policy"]


def test_only_get_is_served(staff, granted) -> None:
    case, _, made = granted
    client = signed_in(staff.officer)
    assert client.head(stream_url(case.id, made.recording_id)).status_code == 405
    assert not LedgerEntry.objects.filter(action="recording.played").exists()


@pytest.mark.parametrize(
    "header", [f"bytes={SIZE}-", f"bytes={SIZE + 10}-{SIZE + 20}", "bytes=-0", "bytes=" + "9" * 5000 + "-"]
)
def test_a_range_beyond_the_end_is_416(staff, granted, header) -> None:
    case, _, made = granted
    answer = signed_in(staff.officer).get(stream_url(case.id, made.recording_id), HTTP_RANGE=header)
    assert answer.status_code == 416
    assert answer["Content-Range"] == f"bytes */{SIZE}"
    assert answer.json()["error"] == "range_not_satisfiable" and answer["Cache-Control"] == "no-store"


def test_a_range_beyond_the_end_is_the_json_error_the_schema_documents(staff, granted) -> None:
    case, _, made = granted
    answer = signed_in(staff.officer).get(stream_url(case.id, made.recording_id), HTTP_RANGE=f"bytes={SIZE}-")
    assert answer.status_code == 416
    assert_documented(published_schema(), "stream_recording", answer)


def test_a_range_ending_far_beyond_the_end_is_clamped(staff, granted) -> None:
    case, _, made = granted
    header = "bytes=5-" + "9" * 5000  # longer than Python converts to an int by default
    answer = signed_in(staff.officer).get(stream_url(case.id, made.recording_id), HTTP_RANGE=header)
    assert answer.status_code == 206 and streamed(answer) == made.body[5:]


@pytest.mark.parametrize("header", ["bytes=10-5", "items=0-5", "bytes=0-1,5-9", "bytes=x-"])
def test_a_malformed_or_multi_range_header_is_ignored(staff, granted, header) -> None:
    case, _, made = granted
    answer = signed_in(staff.officer).get(stream_url(case.id, made.recording_id), HTTP_RANGE=header)
    assert answer.status_code == 200 and streamed(answer) == made.body


@pytest.mark.django_db(transaction=True)
def test_the_ledger_entry_is_committed_before_the_first_byte(staff, granted) -> None:
    case, grant, made = granted
    client = signed_in(staff.officer)
    client.defaults["REMOTE_ADDR"] = "192.0.2.7"
    answer = client.get(stream_url(case.id, made.recording_id), HTTP_RANGE="bytes=100-199")
    # Not a byte consumed yet; no transaction open: the entry below is committed.
    assert not connection.in_atomic_block
    entry = LedgerEntry.objects.get(action="recording.played")
    assert entry.actor_id == str(staff.officer.pk)
    assert str(entry.case_id) == str(case.id) and str(entry.recording_id) == made.recording_id
    assert entry.details == {
        "grant": str(grant.id),
        "range": {"start": 100, "end": 199, "partial": True},
        "client_address": "192.0.2.7",
    }
    assert streamed(answer) == made.body[100:200]


def test_behind_the_balancer_the_ledger_names_the_client_it_saw(staff, granted, settings) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    case, _, made = granted
    client = signed_in(staff.officer)
    client.defaults.update(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.9, 198.51.100.7")
    streamed(client.get(stream_url(case.id, made.recording_id), HTTP_RANGE="bytes=0-9"))
    entry = LedgerEntry.objects.get(action="recording.played")
    assert entry.details["client_address"] == "198.51.100.7"


class WatchedStore:
    """The configured store, noting each prefetch and read with how many plays were on record."""

    def __init__(self, store) -> None:
        self.store = store
        self.calls: list[tuple[str, object, int]] = []

    def _played(self) -> int:
        return LedgerEntry.objects.filter(action="recording.played").count()

    def prefetch(self, key, spans) -> None:
        self.calls.append(("prefetch", list(spans), self._played()))
        self.store.prefetch(key, spans)

    def read(self, key, offset, length) -> bytes:
        self.calls.append(("read", (offset, length), self._played()))
        return self.store.read(key, offset, length)


def test_the_first_chunks_are_fetched_ahead_while_the_ledger_commits(staff, granted, monkeypatch) -> None:
    """The store starts on the chunks before the ledger entry is written; not one byte of them is
    read into the service until it is, and what is read first is what was asked for ahead."""
    case, _, made = granted
    watched = WatchedStore(recorder_playback.get_store())
    monkeypatch.setattr(recorder_playback, "get_store", lambda: watched)
    start = CHUNK_SIZE + 100
    answer = signed_in(staff.officer).get(
        stream_url(case.id, made.recording_id), HTTP_RANGE=f"bytes={start}-{start + 99}"
    )
    assert streamed(answer) == made.body[start : start + 100]
    (kind, spans, played_then), *reads = watched.calls
    assert (kind, played_then) == ("prefetch", 0)
    assert [(k, played) for k, _, played in reads] == [("read", 1)] * len(reads)
    assert spans == [span for _, span, _ in reads]


def test_the_checks_before_the_ledger_take_two_queries(staff, granted, django_assert_num_queries) -> None:
    """One for the grant (role, grantee, window, case, recording state), one in unseal re-reading
    the grant with the recording it names; the recording is loaded once."""
    case, grant, made = granted
    with django_assert_num_queries(2):
        authorised = playback.authorise_playback(
            user=staff.officer, case_id=str(case.id), recording_id=made.recording_id
        )
        opened = playback.open_recording(authorised=authorised)
    assert authorised.grant.pk == grant.pk and str(opened.recording.id) == made.recording_id
    assert b"".join(opened.iter_range(0, 100)) == made.body[:100]


REFUSE_PLAYED = {
    # A real database-level failure of the ledger write: the database itself refuses the row.
    "sqlite": [
        "CREATE TRIGGER refuse_played BEFORE INSERT ON audit_ledgerentry "
        "WHEN NEW.action = 'recording.played' BEGIN SELECT RAISE(ABORT, 'ledger down'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION refuse_played() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF NEW.action = 'recording.played' THEN RAISE EXCEPTION 'ledger down'; END IF; "
        "RETURN NEW; END $$",
        "CREATE TRIGGER refuse_played BEFORE INSERT ON audit_ledgerentry "
        "FOR EACH ROW EXECUTE FUNCTION refuse_played()",
    ],
}


def test_no_ledger_entry_no_bytes(staff, granted) -> None:
    case, _, made = granted
    client = signed_in(staff.officer)
    with connection.cursor() as cursor:  # rolled back with the test's transaction
        for statement in REFUSE_PLAYED[connection.vendor]:
            cursor.execute(statement)
    answer = client.get(stream_url(case.id, made.recording_id), HTTP_RANGE="bytes=0-99")
    assert answer.status_code == 503
    assert answer["Content-Type"] == "application/json"
    assert answer.json()["error"] == "ledger_unavailable"
    assert made.body[:16] not in answer.content
    assert not LedgerEntry.objects.filter(action="recording.played").exists()


def corrupt_second_chunk(store, recording_id: str) -> None:
    rec = Recording.objects.get(id=recording_id)
    sealed = bytearray(store.read(rec.object_key, 0, rec.payload_size))
    sealed[16 + (CHUNK_SIZE + 16) + 100] ^= 0x01  # one bit inside the second sealed chunk
    writer = store.open_writer(rec.object_key)
    writer.write(bytes(sealed))
    writer.commit()


@pytest.mark.parametrize("store_kind", ["local", "s3"])
def test_a_tampered_chunk_ends_the_stream_with_an_error_and_a_ledger_entry(staff, granted, store) -> None:
    case, _, made = granted
    corrupt_second_chunk(store, made.recording_id)
    client = signed_in(staff.officer)
    answer = client.get(stream_url(case.id, made.recording_id))
    assert answer.status_code == 200  # the first chunk is intact and goes out ...
    received = bytearray()
    with pytest.raises(TamperedError):  # ... then the stream breaks off short of Content-Length
        for piece in answer.streaming_content:
            received += piece
    assert bytes(received) == made.body[:CHUNK_SIZE]
    assert ledger_actions(case_id=case.id)[-1] == "recording.tampered"
    # A range that starts in the bad chunk is refused before any byte, as JSON.
    answer = client.get(stream_url(case.id, made.recording_id), HTTP_RANGE=f"bytes={CHUNK_SIZE + 5}-")
    assert answer.status_code == 502 and answer.json()["error"] == "recording_unreadable"
    assert ledger_actions(case_id=case.id)[-2:] == ["recording.played", "recording.tampered"]


def test_nobody_but_the_grantee_decrypts(staff, granted, make_session) -> None:
    case, _, made = granted
    # The other officer has an approved case of their own: that grant opens only its recordings.
    theirs = make_session("CUST-0042", size=1000)
    other_case = services.open_case(
        officer=staff.other_officer, customer_ref="CUST-0042", channel="phone",
        complaint="Another complaint.", session_ids=[theirs.session_id],
    )  # fmt: skip
    other_request = services.request_access(
        officer=staff.other_officer, case_id=other_case.id, justification="Check it."
    )
    services.approve_access_request(approver=staff.dpo, request_id=other_request.id, reason="Fine.")
    attempts = [
        (staff.superuser, stream_url(case.id, made.recording_id)),
        (staff.operator, stream_url(case.id, made.recording_id)),
        (staff.dpo, stream_url(case.id, made.recording_id)),  # the approver
        (staff.auditor, stream_url(case.id, made.recording_id)),
        (staff.other_officer, stream_url(case.id, made.recording_id)),
        (staff.other_officer, stream_url(other_case.id, made.recording_id)),  # own case, other recording
        (staff.officer, stream_url(other_case.id, theirs.recording_id)),  # the grantee, wrong case
    ]
    for user, url in attempts:
        answer = signed_in(user).get(url, HTTP_RANGE="bytes=0-99")
        assert answer.status_code == 404, (user, url)
        assert answer.json()["error"] == "recording_not_found"
        assert made.body[:100] not in answer.content
    assert LedgerEntry.objects.filter(action="access.denied").count() == len(attempts)
    assert not LedgerEntry.objects.filter(action="recording.played").exists()


def test_guessed_ids_are_404_and_on_record(staff, granted) -> None:
    case, _, made = granted
    client = signed_in(staff.officer)
    for url in [
        stream_url("0b7c6f3e-1111-4222-8333-944455556666", made.recording_id),
        stream_url(case.id, "0b7c6f3e-1111-4222-8333-944455556666"),
        stream_url("not-a-uuid", "nor-this"),
        "/api/v1/cases/0b7c6f3e-1111-4222-8333-944455556666",
        stream_url(case.id, "nul%00byte"),  # PostgreSQL refuses NUL in JSON: the refusal is kept
        "/api/v1/cases/%00",
    ]:
        answer = client.get(url)
        assert answer.status_code == 404 and answer.json()["error"] in {
            "recording_not_found",
            "case_not_found",
        }
    denials = LedgerEntry.objects.filter(action="access.denied", actor_id=str(staff.officer.pk))
    assert denials.count() == 6
    assert denials.order_by("seq").last().details["requested_case"] == "\ufffd"


@pytest.fixture
def one_hour_window(settings) -> None:
    settings.ACCESS_WINDOW = "PT1H"  # shorter than the staff session, which would end first


def test_an_expired_grant_replayed_is_refused(staff, one_hour_window, granted) -> None:
    case, grant, made = granted
    client = signed_in(staff.officer)
    assert client.get(stream_url(case.id, made.recording_id), HTTP_RANGE="bytes=0-9").status_code == 206
    with time_machine.travel(grant.ends_at + timedelta(seconds=1)):
        answer = client.get(stream_url(case.id, made.recording_id), HTTP_RANGE="bytes=0-9")
    assert answer.status_code == 403 and answer.json()["error"] == "grant_inactive"
    assert ledger_actions(case_id=case.id)[-1] == "access.denied"


def test_closing_the_case_ends_playback_at_once(staff, granted) -> None:
    case, _, made = granted
    client = signed_in(staff.officer)
    services.close_case(officer=staff.officer, case_id=case.id, outcome="withdrawn", summary="Withdrawn.")
    answer = client.get(stream_url(case.id, made.recording_id))
    assert answer.status_code == 403 and answer.json()["error"] == "grant_inactive"


def test_closing_the_case_stops_a_stream_under_way(staff, granted, monkeypatch) -> None:
    """A <video> asks for the rest of the file and reads it as it plays: the grant is asked again
    while the response streams (here after every chunk), and the case's closing breaks it off."""
    monkeypatch.setattr(playback_views, "RECHECK_BYTES", CHUNK_SIZE)
    case, _, made = granted
    answer = signed_in(staff.officer).get(stream_url(case.id, made.recording_id))
    pieces = iter(answer.streaming_content)
    received = bytearray(next(pieces))
    received += next(pieces)  # the grant was asked again before this chunk, and still covers it
    services.close_case(officer=staff.officer, case_id=case.id, outcome="withdrawn", summary="Withdrawn.")
    with pytest.raises(playback_views.PlaybackStopped):
        for piece in pieces:
            received += piece
    assert bytes(received) == made.body[: 2 * CHUNK_SIZE]
    stopped = LedgerEntry.objects.filter(case_id=case.id).order_by("seq").last()
    assert stopped.action == "recording.playback_stopped"
    assert stopped.details == {
        "range": {"start": 0, "end": SIZE - 1}, "bytes_sent": 2 * CHUNK_SIZE, "reason": "grant_ended",
    }  # fmt: skip


def test_a_stream_that_keeps_its_grant_is_served_whole(staff, granted, monkeypatch) -> None:
    monkeypatch.setattr(playback_views, "RECHECK_BYTES", CHUNK_SIZE)
    case, _, made = granted
    answer = signed_in(staff.officer).get(stream_url(case.id, made.recording_id))
    assert streamed(answer) == made.body
    assert ledger_actions(case_id=case.id)[-1] == "recording.played"


def test_a_purged_recording_is_gone_even_under_a_grant(staff, granted) -> None:
    case, _, made = granted
    # An operator releases the hold by hand (through retention) and the purge runs.
    hold = LegalHold.objects.get(case_id=case.id)
    release_legal_hold(hold_id=hold.id, actor=services.actor_of(staff.operator))
    Recording.objects.filter(id=made.recording_id).update(expires_at=timezone.now() - timedelta(days=1))
    purge_expired()
    answer = signed_in(staff.officer).get(stream_url(case.id, made.recording_id))
    assert answer.status_code == 410 and answer.json()["error"] == "recording_purged"


def test_playback_needs_a_password_and_code_entered_within_15_minutes(staff, granted) -> None:
    case, _, made = granted
    client = signed_in(staff.officer)
    url = stream_url(case.id, made.recording_id)
    with time_machine.travel(timezone.now() + timedelta(minutes=16)):
        refused = client.get(url, HTTP_RANGE="bytes=0-9")
        assert refused.status_code == 403 and refused.json()["error"] == "step_up_required"
        assert "/accounts/step-up/?next=" in refused.json()["detail"]
        form = client.get("/accounts/step-up/", {"next": url})
        assert form.status_code == 200 and b'type="password"' in form.content
        assert b'autocomplete="one-time-code"' in form.content
        code = fresh_totp_code(staff.officer)
        wrong = client.post("/accounts/step-up/", {"password": "not the password", "code": code, "next": url})
        assert wrong.status_code == 400
        no_code = client.post("/accounts/step-up/", {"password": PASSWORD, "next": url})
        assert no_code.status_code == 400  # the password alone is no step-up
        assert client.get(url, HTTP_RANGE="bytes=0-9").status_code == 403
        confirmed = client.post("/accounts/step-up/", {"password": PASSWORD, "code": code, "next": url})
        assert confirmed.status_code == 302 and confirmed["Location"] == url
        answer = client.get(url, HTTP_RANGE="bytes=0-9")
        assert answer.status_code == 206 and streamed(answer) == made.body[:10]
    assert "auth.stepped_up" in ledger_actions(actor_id=str(staff.officer.pk))


def test_the_step_up_page_does_not_redirect_off_site(staff) -> None:
    client = signed_in(staff.officer)
    code = fresh_totp_code(staff.officer)
    answer = client.post(
        "/accounts/step-up/", {"password": PASSWORD, "code": code, "next": "https://evil.example/"}
    )
    assert answer.status_code == 302 and answer["Location"] == "/"
