"""Personal data is not shown outside the workflow (issue 19, finding 2): no admin page, list,
filter or search shows or matches a raw customer reference, agent reference, external id or the
texts of a complaint, for an operator or a superuser. The workflow's own search is ledgered; the
admin has none to offer.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import admin
from django.db import models
from django.test import Client
from rest_framework.test import APIClient

from complaints import services
from tests.conftest import MakeSession
from tests.factories import SessionPayload
from tests.staff import Staff, signed_in

SECRETS = {
    "customer_ref": "CUST-SECRET-4711",
    "agent_ref": "AGENT-SECRET-0815",
    "external_id": "TICKET-SECRET-2342",
    "complaint": "COMPLAINT-SECRET the agent opened my banking app",
    "justification": "JUSTIFICATION-SECRET customer says the agent read her statements",
    "reason": "APPROVAL-SECRET the complaint names this session",
    "summary": "SUMMARY-SECRET the agent did open the banking app",
}
# Fields that hold them, on any model the admin shows.
PERSONAL_FIELDS = {
    "customer_ref", "customer_ref_hash", "agent_ref", "agent_ref_hash", "external_id",
    "complaint", "justification", "reason", "summary", "details",
}  # fmt: skip


@pytest.fixture
def workflow(staff: Staff, api: APIClient, store: Any, age_keys: Any, make_session: MakeSession) -> None:
    """A customer's session and a whole case over it: opened, access requested, approved, closed."""
    payload = SessionPayload(
        customer_ref=SECRETS["customer_ref"],
        agent_ref=SECRETS["agent_ref"],
        external_id=SECRETS["external_id"],
    )
    session_id = api.post("/api/v1/sessions", payload, format="json").json()["id"]
    uploaded = api.put(f"/api/v1/sessions/{session_id}/recording", b"x" * 5000, content_type="video/webm")
    assert uploaded.status_code == 201
    case = services.open_case(
        officer=staff.officer, customer_ref=SECRETS["customer_ref"], channel="phone",
        complaint=SECRETS["complaint"], session_ids=[session_id],
    )  # fmt: skip
    request = services.request_access(
        officer=staff.officer, case_id=case.id, justification=SECRETS["justification"]
    )
    services.approve_access_request(approver=staff.dpo, request_id=request.id, reason=SECRETS["reason"])
    services.close_case(
        officer=staff.officer, case_id=case.id, outcome="abuse_confirmed", summary=SECRETS["summary"]
    )


def admin_pages(browser: Client) -> dict[str, str]:
    """Every admin page the user may open, reached by following the admin's own links from its
    index: each model's list, the list searched for each secret, each row's page and history."""
    pages: dict[str, str] = {}

    def get(url: str) -> str:
        answer = browser.get(url)
        assert answer.status_code == 200, (url, answer.status_code)
        pages[url] = answer.content.decode()
        return pages[url]

    get("/admin/")
    for model, model_admin in admin.site._registry.items():
        if not model_admin.has_view_or_change_permission(_request_of(browser)):
            continue
        base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        get(base)
        for secret in SECRETS.values():
            get(f"{base}?q={secret.split()[0]}")
        for pk in model._default_manager.values_list("pk", flat=True)[:20]:
            get(f"{base}{pk}/change/")
            get(f"{base}{pk}/history/")
    return pages


def _request_of(browser: Client) -> Any:
    """A request carrying the browser's signed-in user, for the admin's permission checks."""
    from django.contrib.auth import get_user_model
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/")
    request.user = get_user_model().objects.get(pk=browser.session["_auth_user_id"])
    return request


@pytest.mark.parametrize("role", ["operator", "superuser"])
def test_no_admin_page_shows_a_reference_an_external_id_or_a_complaint_text(
    staff: Staff, workflow: None, role: str
) -> None:
    pages = admin_pages(signed_in(getattr(staff, role)))
    assert "/admin/recorder/session/" in pages  # both roles see the sessions' metadata
    # A searched word comes back in the page's own links (kept filters): only the others count there.
    shown = {
        (url, name)
        for url, html in pages.items()
        for name, secret in SECRETS.items()
        if secret.split()[0] in html and secret.split()[0] not in url
    }
    print(f"{role}: {len(pages)} admin pages, none showing any of {len(SECRETS)} personal values")
    assert shown == set()


@pytest.mark.parametrize("role", ["operator", "superuser"])
def test_searching_the_admin_for_a_reference_matches_nothing_more_than_nonsense(
    staff: Staff, workflow: None, role: str
) -> None:
    """The admin offers no search over personal data: `?q=` with the reference lists exactly what
    `?q=` with words that match nothing lists (its lists have no search box at all)."""
    browser = signed_in(getattr(staff, role))
    for model, model_admin in admin.site._registry.items():
        if not model_admin.has_view_or_change_permission(_request_of(browser)) or model_admin.search_fields:
            continue
        base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        nonsense = browser.get(f"{base}?q=no-such-thing-anywhere").context["cl"].result_count
        for secret in SECRETS.values():
            assert browser.get(f"{base}?q={secret.split()[0]}").context["cl"].result_count == nonsense


@pytest.mark.parametrize("role", ["operator", "superuser"])
def test_no_admin_list_filters_by_a_field_holding_personal_data(
    staff: Staff, workflow: None, role: str
) -> None:
    """Django lets a query string filter a list by any field of the model: `?customer_ref=...`
    or, a character at a time, `?customer_ref__startswith=C`. Each such filter is refused."""
    browser = signed_in(getattr(staff, role))
    tried = 0
    for model, model_admin in admin.site._registry.items():
        if not model_admin.has_view_or_change_permission(_request_of(browser)):
            continue
        base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        names = {f.name for f in model._meta.get_fields() if isinstance(f, models.Field)} & PERSONAL_FIELDS
        for name in names:
            for lookup, value in [(name, "x"), (f"{name}__startswith", "C"), (f"{name}__contains", "SECRET")]:
                assert browser.get(f"{base}?{lookup}={value}").status_code == 400, (base, lookup)
                tried += 1
    print(f"{role}: {tried} filters by personal fields tried, each refused (400)")
    assert tried >= 15  # sessions (5 fields x 3 lookups) at least, for both roles


def test_the_filters_the_admin_offers_still_work(staff: Staff, workflow: None) -> None:
    browser = signed_in(staff.superuser)
    assert browser.get("/admin/recorder/recording/?state__exact=locked").context["cl"].result_count == 1
    assert browser.get("/admin/recorder/recording/?state__exact=purged").context["cl"].result_count == 0
    assert (
        browser.get("/admin/complaints/complaintcase/?status__exact=closed").context["cl"].result_count == 1
    )
    assert browser.get("/admin/recorder/recorderclient/?revoked_at__isempty=1").status_code == 200
