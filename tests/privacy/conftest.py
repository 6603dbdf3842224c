"""A customer with every kind of session: recorded, refused (no control rights), purged, held by a
complaint case; the complaint tests' staff, the local store."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.utils import timezone

from complaints import services as complaints
from recorder.models import Recording
from retention.services import purge_expired
from tests.factories import ConsentPayload, SessionPayload

CUSTOMER = "CUST-SUBJECT-0815"


@dataclass
class Subject:
    customer_ref: str
    recorded: str  # session ids
    refused: str
    purged: str
    held: str
    case_id: str


def refused_session(api, customer_ref: str) -> str:
    """A session registered without control rights, whose upload the API refuses (409)."""
    payload = SessionPayload(customer_ref=customer_ref, consent=ConsentPayload(view=True, control=False))
    session_id = api.post("/api/v1/sessions", payload, format="json").json()["id"]
    answer = api.put(
        f"/api/v1/sessions/{session_id}/recording", b"\x1aE\xdf\xa3" + bytes(500), content_type="video/webm"
    )
    assert answer.status_code == 409, answer.content
    return str(session_id)


@pytest.fixture
def subject(staff, make_session, api) -> Subject:
    purged = make_session(CUSTOMER, size=3000)
    Recording.objects.filter(id=purged.recording_id).update(expires_at=timezone.now())
    purge_expired()
    recorded = make_session(CUSTOMER, size=4000)
    held = make_session(CUSTOMER, size=5000)
    refused = refused_session(api, CUSTOMER)
    case = complaints.open_case(
        officer=staff.officer, customer_ref=CUSTOMER, channel="phone",
        complaint="The agent read my e-mails.", session_ids=[held.session_id],
    )  # fmt: skip
    return Subject(CUSTOMER, recorded.session_id, refused, purged.session_id, held.session_id, str(case.id))
