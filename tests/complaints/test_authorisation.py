"""Who may do what: every complaint endpoint (and the stream, and the step-up page) for every role,
anonymous callers and a recorder token, generated from one table. The README's roles table
says the same in words."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from audit.models import LedgerEntry
from complaints import services
from tests.staff import Staff, signed_in

pytestmark = [pytest.mark.django_db, pytest.mark.local_store]

PRINCIPALS = (
    "anonymous",
    "recorder_token",
    "officer",
    "other_officer",
    "dpo",
    "auditor",
    "operator",
    "superuser",
)
REFUSED_UNAUTHENTICATED = {"anonymous": 403, "recorder_token": 403}
NOT_A_ROLE_FOR_IT = {"auditor": 403, "operator": 403, "superuser": 403}


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    path: str  # formatted with the world's ids
    state: str  # "open" | "pending" | "granted": how far the case has come
    expected: dict[str, int]
    body: dict[str, Any] | None = None


def expect(base: dict[str, int] = REFUSED_UNAUTHENTICATED, **statuses: int) -> dict[str, int]:
    """The answer for each principal: `base`, then `statuses`; every principal named."""
    table = {**base, **statuses}
    assert set(table) == set(PRINCIPALS), sorted(set(PRINCIPALS) ^ set(table))
    return table


ENDPOINTS = [
    Endpoint(
        "search sessions", "GET", "/api/v1/session-search?customer_ref=CUST-4711", "open",
        expect(officer=200, other_officer=200, dpo=403, **NOT_A_ROLE_FOR_IT),
    ),
    Endpoint(
        "list cases", "GET", "/api/v1/cases", "open",
        expect(officer=200, other_officer=200, dpo=200, **NOT_A_ROLE_FOR_IT),
    ),
    Endpoint(
        "open a case", "POST", "/api/v1/cases", "open",
        expect(officer=201, other_officer=201, dpo=403, **NOT_A_ROLE_FOR_IT),
        {"customer_ref": "CUST-4711", "channel": "phone", "complaint": "Again.", "session_ids": ["{spare}"]},
    ),
    Endpoint(
        "case detail", "GET", "/api/v1/cases/{case}", "open",
        expect(officer=200, other_officer=404, dpo=200, auditor=404, operator=404, superuser=404),
    ),
    Endpoint(
        "link sessions", "POST", "/api/v1/cases/{case}/sessions", "open",
        expect(officer=201, other_officer=404, dpo=403, **NOT_A_ROLE_FOR_IT),
        {"session_ids": ["{spare}"]},
    ),
    Endpoint(
        "request access", "POST", "/api/v1/cases/{case}/access-requests", "open",
        expect(officer=201, other_officer=404, dpo=403, **NOT_A_ROLE_FOR_IT),
        {"justification": "The customer names this session."},
    ),
    Endpoint(
        "close a case", "POST", "/api/v1/cases/{case}/close", "open",
        expect(officer=200, other_officer=404, dpo=403, **NOT_A_ROLE_FOR_IT),
        {"outcome": "withdrawn", "summary": "The customer withdrew."},
    ),
    Endpoint(
        "pending requests", "GET", "/api/v1/access-requests", "pending",
        expect(officer=403, other_officer=403, dpo=200, **NOT_A_ROLE_FOR_IT),
    ),
    Endpoint(
        "approve", "POST", "/api/v1/access-requests/{request}/approve", "pending",
        expect(officer=403, other_officer=403, dpo=201, **NOT_A_ROLE_FOR_IT),
        {"reason": "Justified."},
    ),
    Endpoint(
        "reject", "POST", "/api/v1/access-requests/{request}/reject", "pending",
        expect(officer=403, other_officer=403, dpo=200, **NOT_A_ROLE_FOR_IT),
        {"reason": "Not justified."},
    ),
    Endpoint(
        "stream", "GET", "/api/v1/cases/{case}/recordings/{recording}/stream", "granted",
        expect(officer=200, other_officer=404, dpo=404, auditor=404, operator=404, superuser=404),
    ),
    Endpoint(
        "step-up page", "GET", "/accounts/step-up/", "open",
        {"anonymous": 302, "recorder_token": 302, **{p: 200 for p in PRINCIPALS[2:]}},
    ),
]  # fmt: skip


def complaint_world(staff: Staff, make_session, state: str) -> dict[str, str]:
    made, spare = make_session("CUST-4711", size=2000), make_session("CUST-4711", size=10)
    case = services.open_case(
        officer=staff.officer, customer_ref="CUST-4711", channel="phone",
        complaint="The agent deleted my files.", session_ids=[made.session_id],
    )  # fmt: skip
    ids = {"case": str(case.id), "recording": made.recording_id, "spare": spare.session_id, "request": ""}
    if state in ("pending", "granted"):
        request = services.request_access(officer=staff.officer, case_id=case.id, justification="Needed.")
        ids["request"] = str(request.id)
    if state == "granted":
        services.approve_access_request(approver=staff.dpo, request_id=ids["request"], reason="Justified.")
    return ids


def client_for(principal: str, staff: Staff, recorder_client) -> Client:
    if principal not in ("anonymous", "recorder_token"):
        return signed_in(getattr(staff, principal), csrf=True)  # officers and DPOs stepped up
    client = Client(enforce_csrf_checks=True)
    if principal == "recorder_token":
        client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {recorder_client[1]}"
    elif principal != "anonymous":
        client.force_login(getattr(staff, principal))
    # The CSRF cookie, as a browser holds it after any page with a form.
    client.get("/accounts/login/" if principal in REFUSED_UNAUTHENTICATED else "/accounts/step-up/")
    return client


def fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, list):
        return [fill(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: fill(v, ids) for k, v in value.items()}
    return value


@pytest.mark.parametrize("principal", PRINCIPALS)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
def test_every_endpoint_answers_every_principal_as_the_roles_table_says(
    endpoint: Endpoint, principal: str, staff, make_session, recorder_client
) -> None:
    ids = complaint_world(staff, make_session, endpoint.state)
    client = client_for(principal, staff, recorder_client)
    denials_before = LedgerEntry.objects.filter(action="access.denied").count()
    path = fill(endpoint.path, ids)
    if endpoint.method == "POST":
        answer = client.post(
            path,
            fill(endpoint.body or {}, ids),
            content_type="application/json",
            HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value,
        )
    else:
        answer = client.get(path)
    expected = endpoint.expected[principal]
    assert answer.status_code == expected, answer.content[:300]
    if endpoint.path.startswith("/api/") and expected >= 400:
        body = answer.json()
        assert set(body) == {"error", "detail"} and body["detail"]
    if expected in (403, 404) and principal not in REFUSED_UNAUTHENTICATED:
        # An authenticated refusal is on record.
        assert LedgerEntry.objects.filter(action="access.denied").count() > denials_before
    if endpoint.name == "stream" and expected != 200:
        assert not LedgerEntry.objects.filter(action="recording.played").exists()


def test_a_post_without_the_csrf_token_is_refused(staff, make_session, recorder_client) -> None:
    ids = complaint_world(staff, make_session, "open")
    client = client_for("officer", staff, recorder_client)
    answer = client.post(
        f"/api/v1/cases/{ids['case']}/close",
        {"outcome": "withdrawn", "summary": "x"},
        content_type="application/json",
    )
    assert answer.status_code == 403 and "CSRF" in answer.json()["detail"]


def test_a_recorder_token_beside_a_staff_session_is_still_refused(
    staff, make_session, recorder_client
) -> None:
    ids = complaint_world(staff, make_session, "open")
    client = client_for("officer", staff, recorder_client)
    answer = client.get(f"/api/v1/cases/{ids['case']}", HTTP_AUTHORIZATION=f"Bearer {recorder_client[1]}")
    assert answer.status_code == 403 and answer.json()["error"] == "authentication_failed"
