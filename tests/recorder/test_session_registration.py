"""Registering sessions: customer-initiated, with prior consent; tokens hashed and scoped."""

from __future__ import annotations

import hashlib

import pytest
from rest_framework.test import APIClient

from audit.models import LedgerEntry
from recorder.models import RecorderClient, Session
from recorder.services import create_recorder_client
from tests.factories import ConsentPayload, SessionPayload

pytestmark = pytest.mark.django_db


def register(api: APIClient, **overrides: object):
    return api.post("/api/v1/sessions", SessionPayload(**overrides), format="json")


def test_registered_session_is_returned_with_its_consent(api: APIClient) -> None:
    payload = SessionPayload()
    response = api.post("/api/v1/sessions", payload, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["external_id"] == payload["external_id"]
    assert body["consent"] == {"granted_at": payload["consent"]["granted_at"], "view": True, "control": True}
    assert body["events"] == [] and body["recording"] is None
    session = Session.objects.get(id=body["id"])
    assert LedgerEntry.objects.filter(action="session.registered", session_id=session.id).count() == 1


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"initiated_by": "agent"}, "not_customer_initiated"),
        ({"consent": ConsentPayload(granted_at="2099-01-01T00:00:00Z")}, "consent_after_start"),
        ({"consent": ConsentPayload(view=False, control=False)}, "consent_grants_nothing"),
        ({"consent": ConsentPayload(view=False, control=True)}, "control_without_view"),
    ],
)
def test_session_without_valid_prior_consent_is_refused_and_not_stored(
    api: APIClient, overrides: dict[str, object], code: str
) -> None:
    response = register(api, **overrides)
    assert response.status_code == 400
    assert response.json()["error"] == code
    assert response.json()["detail"]
    assert not Session.objects.exists()
    refusal = LedgerEntry.objects.get(action="session.rejected")
    assert refusal.details == {"reason": code}


@pytest.mark.parametrize("missing", ["external_id", "customer_ref", "agent_ref", "started_at", "consent"])
def test_missing_field_is_named_in_the_error(api: APIClient, missing: str) -> None:
    payload = SessionPayload()
    del payload[missing]
    response = api.post("/api/v1/sessions", payload, format="json")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid"
    assert missing in response.json()["detail"]
    assert not Session.objects.exists()


def test_malformed_json_gets_a_json_error(api: APIClient) -> None:
    response = api.post("/api/v1/sessions", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"] == "malformed_json"


def test_same_external_id_twice_is_a_conflict(api: APIClient) -> None:
    first = register(api, external_id="T-1")
    second = register(api, external_id="T-1")
    assert second.status_code == 409
    assert second.json()["error"] == "session_exists"
    assert first.json()["id"] in second.json()["detail"]
    assert Session.objects.count() == 1


def test_requests_without_a_valid_token_are_refused(db: None) -> None:
    anonymous = APIClient()
    assert anonymous.post("/api/v1/sessions", SessionPayload(), format="json").status_code == 401
    anonymous.credentials(HTTP_AUTHORIZATION="Bearer rvt_not-a-real-token")
    response = anonymous.post("/api/v1/sessions", SessionPayload(), format="json")
    assert response.status_code == 401
    assert response.json()["error"] == "authentication_failed"
    assert not Session.objects.exists()


def test_token_is_stored_only_as_a_digest(recorder_client: tuple[RecorderClient, str]) -> None:
    client, token = recorder_client
    stored = RecorderClient.objects.get(pk=client.pk)
    assert stored.token_digest == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(RecorderClient.objects.filter(pk=client.pk).values().first())


def test_a_revoked_token_no_longer_works(api: APIClient, recorder_client: tuple[RecorderClient, str]) -> None:
    from recorder.services import revoke_recorder_client

    revoke_recorder_client(client=recorder_client[0])
    assert register(api).status_code == 401


def test_a_client_cannot_see_or_touch_another_clients_session(api: APIClient) -> None:
    session_id = register(api).json()["id"]
    _, other_token = create_recorder_client(name="other-tool")
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Bearer {other_token}")
    assert other.get(f"/api/v1/sessions/{session_id}").status_code == 404
    event = {"type": "ended", "at": "2099-01-01T00:00:00Z"}
    assert other.post(f"/api/v1/sessions/{session_id}/events", event, format="json").status_code == 404
    upload = other.put(f"/api/v1/sessions/{session_id}/recording", b"x", content_type="video/webm")
    assert upload.status_code == 404
    assert upload.json()["error"] == "session_not_found"


def test_ledger_never_holds_the_raw_customer_reference(api: APIClient) -> None:
    register(api, customer_ref="CUST-SECRET-4711")
    register(api, customer_ref="CUST-SECRET-4711", initiated_by="agent")
    for entry in LedgerEntry.objects.all():
        assert "CUST-SECRET-4711" not in str(entry.details)


def test_a_refusal_reads_in_german_for_a_german_client_and_keeps_its_code(api: APIClient) -> None:
    consent = ConsentPayload(view=False, control=True)
    payload = SessionPayload(consent=consent)
    german = api.post("/api/v1/sessions", payload, format="json", HTTP_ACCEPT_LANGUAGE="de")
    english = api.post("/api/v1/sessions", payload, format="json")
    assert german.status_code == english.status_code == 400
    assert german.json() == {
        "error": "control_without_view",
        "detail": "Steuerungsrechte setzen Sichtrechte voraus.",
    }
    assert english.json()["detail"] == "Control rights require view rights."
    # the ledger keeps the machine code only, in whatever language the client asked
    assert [entry.details for entry in LedgerEntry.objects.filter(action="session.rejected")] == [
        {"reason": "control_without_view"}
    ] * 2


def test_a_conflict_names_the_existing_session_in_german(api: APIClient) -> None:
    first = register(api, external_id="T-2")
    second = api.post(
        "/api/v1/sessions", SessionPayload(external_id="T-2"), format="json", HTTP_ACCEPT_LANGUAGE="de"
    )
    assert second.status_code == 409 and second.json()["error"] == "session_exists"
    assert second.json()["detail"] == (
        f"Eine Sitzung mit dieser external_id ist bereits als {first.json()['id']} registriert."
    )
