"""German and English as a reader sees them: the browser's Accept-Language chooses, the header's
switch overrides and is remembered; pages show times in DISPLAY_TIME_ZONE with the zone named
while the API answers in UTC; and nothing a German request writes to the ledger differs from what
the same English request writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django.utils import formats, timezone, translation

from audit.models import LedgerEntry
from complaints.services import open_case
from core.timezones import DisplayTimeZoneMiddleware
from recorder.models import Session
from tests.staff import make_staff, signed_in

pytestmark = [pytest.mark.django_db, pytest.mark.local_store]


def test_a_german_browser_gets_german_pages_and_german_json_details() -> None:
    browser = Client(HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9,en;q=0.5")
    page = browser.get("/accounts/login/").content.decode()
    assert '<html lang="de">' in page
    assert "<h1>Anmelden</h1>" in page and "Benutzername" in page and "Sign in" not in page
    script = Client(HTTP_ACCEPT_LANGUAGE="de-DE", HTTP_ACCEPT="application/json")
    answer = script.get("/api/v1/no-such-thing")
    assert answer.status_code == 404
    assert answer.json() == {"error": "not_found", "detail": "Diese Ressource gibt es nicht."}


def test_an_english_browser_gets_english_and_an_unknown_language_english_too() -> None:
    for accept in ("en-GB,en;q=0.8", "fr-FR,fr;q=0.9", ""):
        page = Client(HTTP_ACCEPT_LANGUAGE=accept).get("/accounts/login/").content.decode()
        assert '<html lang="en">' in page and "<h1>Sign in</h1>" in page, accept


def test_the_switch_is_remembered_across_requests_and_returns_to_the_page() -> None:
    browser = Client(HTTP_ACCEPT_LANGUAGE="en")
    browser.get("/accounts/login/")  # the form's CSRF cookie
    answer = browser.post("/i18n/setlang/", {"language": "de", "next": "/accounts/login/?next=/privacy/"})
    assert answer.status_code == 302 and answer["Location"] == "/accounts/login/?next=/privacy/"
    cookie = answer.cookies[settings.LANGUAGE_COOKIE_NAME]
    assert cookie.value == "de" and cookie["samesite"] == "Lax" and cookie["httponly"]
    assert int(cookie["max-age"]) >= 300 * 24 * 3600
    for _ in range(2):  # the browser still says English; the choice wins, request after request
        assert "<h1>Anmelden</h1>" in browser.get("/accounts/login/").content.decode()
    browser.post("/i18n/setlang/", {"language": "en", "next": "/accounts/login/"})
    assert "<h1>Sign in</h1>" in browser.get("/accounts/login/").content.decode()


def test_the_switch_refuses_a_foreign_return_address_and_an_unknown_language() -> None:
    browser = Client(HTTP_ACCEPT_LANGUAGE="en")
    answer = browser.post("/i18n/setlang/", {"language": "fr", "next": "https://evil.example/"})
    assert answer.status_code == 302 and answer["Location"] == "/"
    # Django keeps any language it knows in the cookie; only the two offered are ever used.
    assert '<html lang="en">' in browser.get("/accounts/login/").content.decode()


def test_the_header_shows_the_switch_on_every_page_without_script() -> None:
    page = Client(HTTP_ACCEPT_LANGUAGE="de").get("/accounts/login/").content.decode()
    assert 'action="/i18n/setlang/"' in page and 'name="next" value="/accounts/login/"' in page
    assert 'value="en" lang="en"' in page and ">English</button>" in page
    assert 'aria-pressed="true" disabled>Deutsch</button>' in page
    assert "<script" not in page


def test_the_language_cookie_is_secure_where_the_session_cookie_is() -> None:
    env = {**os.environ, "SESSION_COOKIE_SECURE": "true", "DJANGO_SETTINGS_MODULE": "config.settings"}
    code = "import django; django.setup()\n"
    code += "from django.conf import settings\nprint(settings.LANGUAGE_COOKIE_SECURE)"
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.stdout.strip() == "True", result.stderr


def test_an_unknown_display_time_zone_is_refused_at_start_naming_the_variable() -> None:
    env = {**os.environ, "DISPLAY_TIME_ZONE": "Europe/Atlantis", "DJANGO_SETTINGS_MODULE": "config.settings"}
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env=env, cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode != 0
    assert "DISPLAY_TIME_ZONE" in result.stderr and "Europe/Atlantis" in result.stderr


def test_pages_read_times_in_the_display_zone_and_the_api_in_utc() -> None:
    middleware = DisplayTimeZoneMiddleware(lambda request: HttpResponse(timezone.get_current_timezone_name()))
    factory = RequestFactory()
    assert middleware(factory.get("/cases/new/")).content == b"Europe/Berlin"
    assert middleware(factory.get("/api/v1/cases")).content == b"UTC"
    assert timezone.get_current_timezone_name() == "UTC"  # nothing left active after either


def _report_as(dpo_browser: Client, language: str) -> str:
    dpo_browser.defaults["HTTP_ACCEPT_LANGUAGE"] = language
    answer = dpo_browser.post("/privacy/", {"customer_ref": "CUST-TIME"})
    assert answer.status_code == 200
    return answer.content.decode()


def test_the_api_answers_in_utc_while_pages_show_berlin_time_with_the_zone_named(make_session) -> None:
    recorded = make_session("CUST-TIME", size=100)
    started = Session.objects.get(id=recorded.session_id).started_at
    dpo = make_staff("dora", "data_protection_officer")
    browser = signed_in(dpo)
    browser.get("/")  # the step-up's message
    api = browser.post(
        "/api/v1/subject-requests/access-report",
        data=json.dumps({"customer_ref": "CUST-TIME"}),
        content_type="application/json",
        HTTP_ACCEPT_LANGUAGE="de",
    )
    assert api.status_code == 200
    api_started = api.json()["sessions"][0]["started_at"]
    assert api_started.endswith("Z") or api_started.endswith("+00:00")
    assert datetime.fromisoformat(api_started.replace("Z", "+00:00")) == started
    berlin = started.astimezone(ZoneInfo("Europe/Berlin"))
    zone = berlin.tzname()
    assert zone in ("CET", "CEST")
    german = _report_as(browser, "de")
    english = _report_as(browser, "en")
    utc = started.astimezone(UTC).isoformat()
    assert f'<time datetime="{utc}">{berlin:%d.%m.%Y %H:%M} {zone}</time>' in german
    assert f'<time datetime="{utc}">{berlin:%Y-%m-%d %H:%M} {zone}</time>' in english  # ISO, 24 hours
    with translation.override("en"):
        assert formats.date_format(berlin, "SHORT_DATETIME_FORMAT") == f"{berlin:%Y-%m-%d %H:%M}"


def _ledger_since(seq: int) -> list[tuple[str, str, str, dict]]:
    return [
        (entry.action, entry.actor_kind, entry.actor_label, entry.details)
        for entry in LedgerEntry.objects.filter(seq__gt=seq).order_by("seq")
    ]


def _same_work_in(
    language: str, dpo_browser: Client, auditor_browser: Client
) -> list[tuple[str, str, str, dict]]:
    """One of each kind of ledgered request of these apps: an access report, an erasure, a refused
    erasure (a legal hold's Conflict, its detail translated), a page refused for the role, and a
    wrong step-up (its error translated)."""
    seq = LedgerEntry.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    for browser in (dpo_browser, auditor_browser):
        browser.defaults["HTTP_ACCEPT_LANGUAGE"] = language
    assert dpo_browser.post("/privacy/", {"customer_ref": "CUST-LEDGER"}).status_code == 200
    assert (
        dpo_browser.post(
            "/privacy/erasure/", {"customer_ref": "CUST-NOBODY", "ground": "objection"}
        ).status_code
        == 302
    )
    held = dpo_browser.post(
        "/api/v1/subject-requests/erasure",
        data=json.dumps({"customer_ref": "CUST-HELD", "ground": "consent_withdrawn"}),
        content_type="application/json",
    )
    assert held.status_code == 409 and held.json()["error"] == "legal_hold"
    assert auditor_browser.get("/privacy/").status_code == 403
    assert auditor_browser.post("/accounts/step-up/", {"password": "wrong", "next": "/"}).status_code == 400
    return _ledger_since(seq)


def test_a_german_request_writes_the_same_ledger_entries_as_an_english_one(make_session) -> None:
    held = make_session("CUST-HELD", size=100)
    officer = make_staff("olivia", "compliance_officer")
    open_case(
        officer=officer,
        customer_ref="CUST-HELD",
        channel="phone",
        complaint="Held.",
        session_ids=[held.session_id],
    )
    make_session("CUST-LEDGER", size=100)
    dpo_browser = signed_in(make_staff("dora", "data_protection_officer"))
    auditor_browser = signed_in(make_staff("audrey", "auditor"))
    english = _same_work_in("en", dpo_browser, auditor_browser)
    german = _same_work_in("de", dpo_browser, auditor_browser)
    # The refused erasure and the refused page; a wrong step-up is counted by the throttle only.
    assert [action for action, *_ in english] == [
        "subject.access_reported", "subject.erased", "access.denied", "access.denied",
    ]  # fmt: skip
    assert german == english
    written = json.dumps([entry for entry in german], ensure_ascii=False)
    assert "Löschsperre" not in written and "Prüfprotokoll" not in written
