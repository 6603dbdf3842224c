"""The complaint API as officers and DPOs use it: JSON in, JSON out, errors with a code and a
sentence, nothing kept on a refusal, and every call in the OpenAPI schema."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from audit.models import LedgerEntry
from complaints.models import ComplaintCase
from recorder.models import Recording
from retention.models import LegalHold
from retention.services import purge_expired
from tests.openapi import assert_documented, published_schema
from tests.staff import signed_in

pytestmark = [pytest.mark.django_db, pytest.mark.local_store]


def post_json(client: Client, path: str, body: dict) -> object:
    return client.post(
        path, body, content_type="application/json", HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value
    )


def test_an_officer_opens_a_case_and_a_dpo_approves_it_over_the_api(staff, make_session) -> None:
    made = make_session("CUST-4711", size=5000)
    officer, dpo = signed_in(staff.officer, csrf=True), signed_in(staff.dpo, csrf=True)
    found = officer.get("/api/v1/session-search", {"customer_ref": "CUST-4711"}).json()
    assert [s["id"] for s in found["results"]] == [made.session_id]
    assert found["results"][0]["consent"]["control"] is True  # metadata and the consent timeline
    opened = post_json(officer, "/api/v1/cases", {
        "customer_ref": "CUST-4711", "channel": "email", "complaint": "My files are gone.",
        "session_ids": [made.session_id],
    })  # fmt: skip
    assert opened.status_code == 201, opened.content
    detail = opened.json()
    case_id = detail["case"]["id"]
    assert detail["case"]["status"] == "open"
    assert [s["session"]["id"] for s in detail["sessions"]] == [made.session_id]
    assert [e["action"] for e in detail["history"]][:2] == ["case.opened", "legal_hold.placed"]
    requested = post_json(
        officer, f"/api/v1/cases/{case_id}/access-requests", {"justification": "Named session."}
    )
    assert requested.status_code == 201
    queue = dpo.get("/api/v1/access-requests").json()["results"]
    assert [r["id"] for r in queue] == [requested.json()["id"]]
    approved = post_json(dpo, f"/api/v1/access-requests/{queue[0]['id']}/approve", {"reason": "Justified."})
    assert approved.status_code == 201
    assert approved.json()["grantee"]["username"] == "olivia"
    assert approved.json()["recordings"] == [made.recording_id]
    assert officer.get(f"/api/v1/cases/{case_id}").json()["case"]["status"] == "access_granted"
    closed = post_json(
        officer, f"/api/v1/cases/{case_id}/close", {"outcome": "abuse_confirmed", "summary": "Yes."}
    )
    assert closed.status_code == 200 and closed.json()["outcome"] == "abuse_confirmed"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"channel": "phone", "complaint": "x"}, "invalid"),
        ({"customer_ref": "C", "channel": "pigeon", "complaint": "x"}, "invalid"),
        ({"customer_ref": "  ", "channel": "phone", "complaint": "x"}, "invalid"),
        ({"customer_ref": "C", "channel": "phone", "complaint": "x", "session_ids": ["nope"]}, "invalid"),
        (
            {"customer_ref": "C", "channel": "phone", "complaint": "x",
             "session_ids": ["0b7c6f3e-1111-4222-8333-944455556666"]},
            "session_not_found",
        ),
    ],
)  # fmt: skip
def test_bad_input_is_a_json_error_and_nothing_is_kept(staff, body, code) -> None:
    answer = post_json(signed_in(staff.officer, csrf=True), "/api/v1/cases", body)
    assert answer.status_code in (400, 404)
    assert answer.json()["error"] == code and answer.json()["detail"]
    assert not ComplaintCase.objects.exists() and not LegalHold.objects.exists()


def _later(**delta: float) -> str:
    return (timezone.now() + timedelta(**delta)).isoformat()


@pytest.mark.parametrize(
    ("dates", "code"),
    [
        ({"received_at": _later(days=-2), "respond_by": _later(days=-3)}, "respond_by_before_received_at"),
        ({"respond_by": _later(days=-1)}, "respond_by_before_received_at"),  # received now
        ({"received_at": _later(hours=1)}, "received_in_future"),
        ({"received_at": "1900-01-01T00:00:00Z"}, "received_implausibly_early"),
        ({"received_at": "1999-12-31T23:59:59Z", "respond_by": _later(days=1)}, "received_implausibly_early"),
    ],
)
def test_implausible_case_dates_are_refused_and_nothing_is_kept(staff, dates, code) -> None:
    body = {"customer_ref": "C", "channel": "phone", "complaint": "x", **dates}
    answer = post_json(signed_in(staff.officer, csrf=True), "/api/v1/cases", body)
    assert answer.status_code == 400
    assert answer.json()["error"] == code and answer.json()["detail"]
    assert not ComplaintCase.objects.exists() and not LegalHold.objects.exists()


def test_a_complaint_received_moments_ahead_of_our_clock_is_accepted(staff) -> None:
    """A few minutes of clock skew between the officer's machine and ours are not an error."""
    body = {"customer_ref": "C", "channel": "phone", "complaint": "x", "received_at": _later(minutes=2)}
    assert post_json(signed_in(staff.officer, csrf=True), "/api/v1/cases", body).status_code == 201


@pytest.mark.parametrize(
    "bounds",
    [
        {"started_from": "2026-02-01T00:00:00Z", "started_until": "2026-01-01T00:00:00Z"},
        {"started_from": "2026-02-01T00:00:00Z", "started_until": "2026-02-01T00:00:00Z"},
    ],
)
def test_a_search_whose_range_ends_before_it_starts_is_refused_off_the_record(staff, bounds) -> None:
    """The page refused it; the API answered 200 with no sessions (and a search on record)."""
    answer = signed_in(staff.officer, csrf=True).get(
        "/api/v1/session-search", {"customer_ref": "C", **bounds}
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_range" and answer.json()["detail"]
    assert not LedgerEntry.objects.filter(action="sessions.searched").exists()


def test_malformed_json_is_a_json_error(staff) -> None:
    client = signed_in(staff.officer, csrf=True)
    answer = client.post(
        "/api/v1/cases", "{not json", content_type="application/json",
        HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value,
    )  # fmt: skip
    assert answer.status_code == 400 and answer.json()["error"] == "malformed_json"


def test_a_purged_session_is_found_by_the_original_reference_and_shown_as_a_tombstone(
    staff, make_session
) -> None:
    made = make_session("CUST-4711", size=100)
    Recording.objects.filter(id=made.recording_id).update(expires_at=timezone.now() - timedelta(days=1))
    purge_expired()
    officer = signed_in(staff.officer, csrf=True)
    found = officer.get("/api/v1/session-search", {"customer_ref": "CUST-4711"}).json()["results"]
    assert [s["id"] for s in found] == [made.session_id]
    assert found[0]["customer_ref"] is None and found[0]["recording"]["state"] == "purged"
    opened = post_json(officer, "/api/v1/cases", {
        "customer_ref": "CUST-4711", "channel": "letter", "complaint": "Old session.",
        "session_ids": [made.session_id],
    })  # fmt: skip
    [linked] = opened.json()["sessions"]
    assert linked["tombstone"]["purged_at"] is not None
    assert isinstance(linked["tombstone"]["ledger_seq"], int)


def test_the_schema_documents_every_complaint_operation() -> None:
    answer = Client().get("/api/v1/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    schema = json.loads(answer.content)
    operations = {op["operationId"] for path in schema["paths"].values() for op in path.values()}
    assert {
        "search_sessions", "list_cases", "open_case", "get_case", "link_sessions", "request_access",
        "close_case", "list_pending_access_requests", "approve_access_request", "reject_access_request",
        "stream_recording",
    } <= operations  # fmt: skip
    stream = schema["paths"]["/api/v1/cases/{case_id}/recordings/{recording_id}/stream"]["get"]
    assert {"200", "206", "404", "410", "416", "503"} <= set(stream["responses"])


def test_each_answer_of_the_case_workflow_is_what_the_schema_documents(staff, make_session) -> None:
    """Every key each call answers is documented, with its type and nullability."""
    schema = published_schema()
    first, second = make_session("CUST-4711", size=100), make_session("CUST-4711", size=100)
    officer, dpo = signed_in(staff.officer, csrf=True), signed_in(staff.dpo, csrf=True)

    def answered(operation_id: str, answer, status: int) -> dict:
        assert answer.status_code == status, answer.content
        assert_documented(schema, operation_id, answer)
        return answer.json()

    case = answered("open_case", post_json(officer, "/api/v1/cases", {
        "customer_ref": "CUST-4711", "channel": "web_form", "complaint": "Two sessions.",
        "session_ids": [first.session_id],
    }), 201)["case"]  # fmt: skip
    answered("link_sessions", post_json(officer, f"/api/v1/cases/{case['id']}/sessions", {
        "session_ids": [second.session_id],
    }), 201)  # fmt: skip
    asked = answered("request_access", post_json(officer, f"/api/v1/cases/{case['id']}/access-requests", {
        "justification": "Both sessions.",
    }), 201)  # fmt: skip
    answered("reject_access_request", post_json(dpo, f"/api/v1/access-requests/{asked['id']}/reject", {
        "reason": "Say which.",
    }), 200)  # fmt: skip
    asked = answered("request_access", post_json(officer, f"/api/v1/cases/{case['id']}/access-requests", {
        "justification": "The first.",
    }), 201)  # fmt: skip
    answered("approve_access_request", post_json(dpo, f"/api/v1/access-requests/{asked['id']}/approve", {
        "reason": "Justified.",
    }), 201)  # fmt: skip
    detail = answered("get_case", officer.get(f"/api/v1/cases/{case['id']}"), 200)
    assert detail["grants"] and detail["access_requests"][0]["decided_by"] is not None
    answered("close_case", post_json(officer, f"/api/v1/cases/{case['id']}/close", {
        "outcome": "abuse_confirmed", "summary": "Yes.",
    }), 200)  # fmt: skip
    answered("get_case", officer.get(f"/api/v1/cases/{case['id']}"), 200)
    answered("get_case", officer.get("/api/v1/cases/not-a-case"), 404)


def test_a_body_over_the_memory_limit_is_a_json_400(staff, settings) -> None:
    client = Client()
    client.force_login(staff.officer)
    body = b'{"complaint": "' + b"x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1) + b'"}'
    answer = client.post("/api/v1/cases", body, content_type="application/json")
    assert answer.status_code == 400 and answer.json()["error"] == "bad_request"
