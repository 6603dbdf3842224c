"""The officer's and the DPO's pages, and the complaint API's errors, for a reader whose browser
asks for German (`Accept-Language: de`): the words are German, times are in DISPLAY_TIME_ZONE
with the zone named, and an error's machine code stays English."""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse

from complaints import services
from tests.complaints.conftest import World
from tests.staff import signed_in, signed_in_api

pytestmark = pytest.mark.local_store

GERMAN = {"HTTP_ACCEPT_LANGUAGE": "de-DE,de;q=0.9,en;q=0.5"}


def german_page(client, url: str) -> str:
    """The page's own content (`<main>`): the header and navigation around it are core's."""
    page = client.get(url, **GERMAN)
    assert page.status_code == 200
    assert page["Content-Language"] == "de"
    html = page.content.decode()
    return html[html.index('<main id="main"') : html.index("</main>")]


def test_the_officers_case_list_is_in_german(staff, world: World) -> None:
    html = german_page(signed_in(staff.officer), reverse("complaints:case-list"))
    assert "<h1>Beschwerdefälle</h1>" in html
    assert "Wartet auf Genehmigung" in html  # the case's status, a model choice
    assert "Telefon" in html and "Nicht geschlossen" in html
    assert "Awaiting approval" not in html and "Complaint cases" not in html


def test_the_case_page_is_in_german_with_times_in_the_display_zone(staff, world: World, settings) -> None:
    settings.DISPLAY_TIME_ZONE = "Europe/Berlin"
    url = reverse("complaints:case-detail", kwargs={"case_id": world.case.id})
    html = german_page(signed_in(staff.officer), url)
    assert "Beschwerde von Kunde CUST-4711" in html
    assert "Beanstandete Sitzungen" in html and "Rechte im Verlauf der Sitzung" in html
    assert "Fall eröffnet" in html  # the history, from the ledger's English action name
    assert "unter Legal Hold, solange der Fall offen ist" in html
    # Berlin is CET or CEST; the page names the zone and keeps the UTC instant for machines
    opened = world.case.opened_at
    assert f'<time datetime="{opened.isoformat()}">' in html
    assert " CET</time>" in html or " CEST</time>" in html
    assert " UTC" not in html.replace("(UTC)", "")


def test_the_dpo_approval_queue_is_in_german(staff, world: World) -> None:
    html = german_page(signed_in(staff.dpo), reverse("complaints:approval-queue"))
    assert "<h1>Zu entscheidende Zugriffsanträge</h1>" in html
    assert "Ihre Begründung" in html
    assert ">Genehmigen</button>" in html and ">Ablehnen</button>" in html
    assert "1 Sitzung)" in html  # the plural form for one session
    assert "Approve" not in html


def test_a_form_error_and_a_message_are_in_german(staff, world: World) -> None:
    services.close_case(officer=staff.officer, case_id=world.case.id, outcome="withdrawn", summary="Done.")
    client = signed_in(staff.officer)
    url = reverse("complaints:case-new")
    search = {"action": "search", "customer_ref": "CUST-4711"}
    backwards = {"started_from": "2026-01-02T00:00", "started_until": "2026-01-01T00:00"}
    answer = client.post(url, {**search, **backwards}, **GERMAN)
    assert answer.status_code == 400
    assert "Das Ende des Zeitraums muss nach seinem Beginn liegen." in answer.content.decode()

    closed = client.get(
        reverse("complaints:request-access", kwargs={"case_id": world.case.id}), follow=True, **GERMAN
    )
    assert (
        "Der Fall ist geschlossen: Es kann nichts mehr beantragt oder geändert werden."
        in closed.content.decode()
    )


def test_a_complaint_api_error_has_a_german_detail_and_the_same_code(staff, world: World) -> None:
    api = signed_in_api(staff.officer)
    url = f"/api/v1/cases/{world.case.id}/access-requests"
    english = api.post(url, {"justification": "Again."}, format="json")
    german = api.post(url, {"justification": "Again."}, format="json", **GERMAN)
    assert english.status_code == german.status_code == 409
    assert english.json()["error"] == german.json()["error"] == "case_not_open"
    assert english.json()["detail"].startswith("Access can be requested only for an open case")
    assert german.json()["detail"] == (
        "Zugriff kann nur für einen offenen Fall beantragt werden; "
        "dieser Fall hat den Status „Wartet auf Genehmigung“."
    )


def test_an_unknown_case_is_refused_in_german(staff) -> None:
    api = signed_in_api(staff.officer)
    url = f"/api/v1/cases/{uuid.uuid4()}/close"
    answer = api.post(url, {"outcome": "withdrawn", "summary": "x"}, format="json", **GERMAN)
    assert answer.status_code == 404
    assert answer.json() == {"error": "case_not_found", "detail": "Diesen Beschwerdefall gibt es nicht."}
