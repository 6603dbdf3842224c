"""The auditor's page: readable entries, filters and paging, the weekly chart, the export form."""

from __future__ import annotations

import re
import uuid

import pytest
from django.test import Client

from audit.models import LedgerEntry, LedgerExport
from audit.services import Actor, record_event

CASE = uuid.uuid4()


@pytest.fixture
def auditor_page(db) -> Client:
    from django.contrib.auth import get_user_model

    from staff.roles import assign_role

    user = get_user_model().objects.create_user(username="audrey", password="not used here 12345")
    assign_role(user=user, role="auditor")
    client = Client()
    client.force_login(user)
    return client


def some_events() -> None:
    officer = Actor(kind="user", id="3", label="olivia")
    record_event(action="case.opened", actor=officer, case_id=CASE)
    for _ in range(3):
        record_event(action="recording.played", actor=officer, case_id=CASE, recording_id=uuid.uuid4())
    record_event(
        action="access.denied", actor=Actor(kind="user", id="4", label="mallory"), details={"why": "no grant"}
    )


@pytest.mark.django_db
def test_the_page_reads_like_sentences_and_charts_accesses_per_week(auditor_page) -> None:
    some_events()
    page = auditor_page.get("/audit/").content.decode()
    assert "olivia" in page and "watched a recording" in page and "opened a complaint case" in page
    assert "mallory" in page and "was refused access" in page and "why:</span> no grant" in page
    assert "<svg" in page and "Accesses to recordings per week" in page
    entries = page[page.index('id="entries-heading"') :]
    assert entries.index('<td class="num">5</td>') < entries.index('<td class="num">1</td>')  # newest first


@pytest.mark.django_db
def test_filters_and_paging(auditor_page) -> None:
    some_events()
    for n in range(60):
        record_event(action="test.filler", actor=Actor.job("filler"), details={"n": n})
    page = auditor_page.get("/audit/", {"case_id": str(CASE)}).content.decode()
    assert "olivia" in page and "mallory" not in page and "4 entries" in page
    first = auditor_page.get("/audit/").content.decode()
    assert "Page 1 of 2" in first and "page=2" in first
    second = auditor_page.get("/audit/", {"page": 2}).content.decode()
    assert "olivia" in second  # the oldest entries are on the last page
    bad = auditor_page.get("/audit/", {"case_id": "nope"})
    assert bad.status_code == 200 and "Enter a valid UUID" in bad.content.decode()


@pytest.mark.django_db
def test_the_export_button_writes_the_event_and_offers_the_files(auditor_page) -> None:
    some_events()
    response = auditor_page.post("/audit/exports/", {"case_id": str(CASE)})
    export = LedgerExport.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/audit/exports/{export.id}/"
    assert export.entry_count == 5  # four of the case, and the export itself
    assert LedgerEntry.objects.filter(action="ledger.exported", actor_label="audrey").exists()
    page = auditor_page.get(response["Location"]).content.decode()
    for name in ("entries.jsonl", "entries.csv", "manifest.json"):
        assert f"/api/v1/audit/exports/{export.id}/{name}" in page
    download = auditor_page.get(f"/api/v1/audit/exports/{export.id}/entries.jsonl")
    assert download.status_code == 200 and len(b"".join(download.streaming_content).splitlines()) == 5


@pytest.mark.django_db
@pytest.mark.parametrize("dates", [{"since": "0001-01-01"}, {"until": "1999-12-31"}, {"until": "9999-12-31"}])
def test_an_export_of_implausible_dates_is_refused_before_anything_is_written(auditor_page, dates) -> None:
    """From 0001-01-01 made an export whose files could never be downloaded."""
    response = auditor_page.post("/audit/exports/", dates)
    assert response.status_code == 400 and "between the years 2000 and 9999" in response.content.decode()
    assert not LedgerEntry.objects.filter(action="ledger.exported").exists()
    assert not LedgerExport.objects.exists()


@pytest.mark.django_db
def test_only_auditors_see_the_page(client, operator) -> None:
    from django.contrib.auth import get_user_model

    assert client.get("/audit/").status_code == 302  # to sign-in
    user = get_user_model().objects.get(username="otto")
    other = Client()
    other.force_login(user)
    assert other.get("/audit/").status_code == 403
    assert other.post("/audit/exports/", {}).status_code == 403
    assert not LedgerEntry.objects.filter(action="ledger.exported").exists()


# --- in German -------------------------------------------------------------------------------

GERMAN = {"HTTP_ACCEPT_LANGUAGE": "de"}


@pytest.mark.django_db
def test_the_ledger_page_is_in_german(auditor_page) -> None:
    some_events()
    page = auditor_page.get("/audit/", **GERMAN)
    assert page.status_code == 200 and page["Content-Language"] == "de"
    html = page.content.decode()
    main = html[html.index('<main id="main"') : html.index("</main>")]
    assert "<h1>Prüfprotokoll</h1>" in main
    assert "Zugriffe auf Aufzeichnungen pro Woche" in main
    assert "hat eine Aufzeichnung angesehen" in main and "wurde der Zugriff verweigert" in main
    assert '<code class="muted">recording.played</code>' in main  # the ledger's action, as stored
    assert re.search(r"Seite 1 von 1 · \d+ Einträge", main)
    assert ">Diese Einträge exportieren</button>" in main
    assert " CET</time>" in main or " CEST</time>" in main
    assert "watched a recording" not in main and "Entries" not in main


@pytest.mark.django_db
def test_a_filter_error_is_in_german(auditor_page) -> None:
    page = auditor_page.get("/audit/", {"since": "2026-02-01", "until": "2026-01-01"}, **GERMAN)
    assert "Der letzte Tag darf nicht vor dem ersten liegen." in page.content.decode()
