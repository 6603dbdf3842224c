"""The API's lists answer in pages (`limit`, `offset`; count, next, previous, results), and the
published OpenAPI schema documents exactly that: the parameters, and the envelope the real answers
validate against."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from complaints.services import open_case, request_access
from retention.services import purge_expired
from tests.factories import SessionPayload
from tests.openapi import assert_documented, published_schema, query_parameters
from tests.staff import make_staff

pytestmark = [pytest.mark.django_db, pytest.mark.local_store]
CUSTOMER = "CUST-PAGES"


@dataclass(frozen=True)
class Listing:
    operation_id: str
    path: str
    query: dict[str, str]
    role: str


LISTINGS = [
    Listing("search_sessions", "/api/v1/session-search", {"customer_ref": CUSTOMER}, "compliance_officer"),
    Listing("list_cases", "/api/v1/cases", {}, "compliance_officer"),
    Listing("list_pending_access_requests", "/api/v1/access-requests", {}, "data_protection_officer"),
    Listing("list_purge_runs", "/api/v1/purge-runs", {}, "auditor"),
]


@pytest.fixture
def callers(api: APIClient, store: Any, age_keys: Any, settings: Any) -> dict[str, Client]:
    """Three of everything each list shows, made through the recorder API and the services: three
    recorded sessions of one customer, a case on each with an access request, three purge runs. One
    signed-in browser per role that lists them."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    roles = {listing.role for listing in LISTINGS}
    users = {role: make_staff(role.replace("_", "-"), role) for role in roles}
    for _ in range(3):
        session_id = api.post(
            "/api/v1/sessions", SessionPayload(customer_ref=CUSTOMER), format="json"
        ).json()["id"]
        upload = api.put(f"/api/v1/sessions/{session_id}/recording", b"recorded", content_type="video/webm")
        assert upload.status_code == 201, upload.content
        case = open_case(
            officer=users["compliance_officer"], customer_ref=CUSTOMER, channel="phone",
            complaint="Paged.", session_ids=[session_id],
        )  # fmt: skip
        request_access(officer=users["compliance_officer"], case_id=case.id, justification="Paged.")
        purge_expired()
    browsers = {}
    for role, user in users.items():
        browsers[role] = Client()
        browsers[role].force_login(user)
    return browsers


@pytest.mark.parametrize("listing", LISTINGS, ids=lambda listing: listing.operation_id)
def test_every_list_documents_limit_and_offset_with_their_bounds(listing: Listing) -> None:
    parameters = query_parameters(published_schema(), listing.operation_id)
    assert parameters["limit"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 1000, "default": 50}
    assert parameters["offset"]["schema"] == {"type": "integer", "minimum": 0, "default": 0}
    assert not parameters["limit"]["required"] and not parameters["offset"]["required"]


def test_no_operation_documents_a_bare_list_and_every_paged_one_is_tested_here() -> None:
    schema = published_schema()
    bare = [
        (op["operationId"], status)
        for item in schema["paths"].values()
        for op in item.values()
        for status, response in op["responses"].items()
        if response.get("content", {}).get("application/json", {}).get("schema", {}).get("type") == "array"
    ]
    assert bare == []
    operation_ids = [op["operationId"] for item in schema["paths"].values() for op in item.values()]
    paged = {op for op in operation_ids if "limit" in query_parameters(schema, op)}
    assert paged == {listing.operation_id for listing in LISTINGS}


@pytest.mark.parametrize("listing", LISTINGS, ids=lambda listing: listing.operation_id)
def test_each_list_answers_the_page_its_schema_documents(
    callers: dict[str, Client], listing: Listing
) -> None:
    schema = published_schema()
    browser = callers[listing.role]
    whole = browser.get(listing.path, listing.query)
    assert whole.status_code == 200, whole.content
    assert_documented(schema, listing.operation_id, whole)
    assert (whole.json()["count"], whole.json()["next"], whole.json()["previous"]) == (3, None, None)
    ids = [item["id"] for item in whole.json()["results"]]
    assert len(set(ids)) == 3

    middle = browser.get(listing.path, {**listing.query, "limit": "1", "offset": "1"})
    assert middle.status_code == 200, middle.content
    assert_documented(schema, listing.operation_id, middle)
    page = middle.json()
    assert page["count"] == 3 and [item["id"] for item in page["results"]] == ids[1:2]
    assert "offset=2" in page["next"] and "limit=1" in page["next"]
    assert page["previous"] is not None and "limit=1" in page["previous"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"limit": "0"}, 3),  # not 1 or more: the default page of 50
        ({"limit": "-1"}, 3),
        ({"limit": "two"}, 3),
        ({"limit": "2", "offset": "-1"}, 2),  # not 0 or more: from the start
        ({"limit": "2", "offset": "x"}, 2),
        ({"offset": "5"}, 0),  # beyond the end: an empty page, not an error
    ],
)
def test_a_limit_or_offset_out_of_bounds_gets_the_default_the_schema_names(
    callers: dict[str, Client], query: dict[str, str], expected: int
) -> None:
    answer = callers["auditor"].get("/api/v1/purge-runs", query)
    assert answer.status_code == 200
    assert answer.json()["count"] == 3 and len(answer.json()["results"]) == expected
    described = query_parameters(published_schema(), "list_purge_runs")
    assert "50 when absent" in described["limit"]["description"]
    assert "0 when absent" in described["offset"]["description"]


def test_a_list_refused_to_a_role_answers_the_documented_error(callers: dict[str, Client]) -> None:
    answer = callers["auditor"].get("/api/v1/cases")
    assert answer.status_code == 403
    assert_documented(published_schema(), "list_cases", answer)


@pytest.mark.parametrize("limit", [str(2**63), str(10**30), "1001"])
def test_a_limit_beyond_the_maximum_gets_the_maximum_not_a_server_error(
    callers: dict[str, Client], limit: str
) -> None:
    """The fuzzer's find once the schema named `limit`: 2**63 or more reached the database as an
    integer it cannot hold, a 500 on SQLite and PostgreSQL alike."""
    answer = callers["auditor"].get("/api/v1/purge-runs", {"limit": limit, "offset": "1"})
    assert answer.status_code == 200, answer.content
    assert len(answer.json()["results"]) == 2
    assert "limit=1000" in answer.json()["previous"]  # the limit it was given: the maximum
    assert_documented(published_schema(), "list_purge_runs", answer)
