"""The complaint workflow end to end once more, in a German browser (`de-DE`): the same people take
the same case from opening to playback and closing, and every page they meet answers in German.

Each page is checked for its German heading (sign-in, home, header, step-up, the second factor
and its recovery codes, and every complaint page); forms are filled by element ids and field
names, which do not depend on the language. Screenshots are kept under `de-` names beside the
English run's.
"""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.models import LedgerEntry
from tests.e2e.conftest import UploadedRecording
from tests.e2e.test_complaint_flow import COMPLAINT, JUSTIFICATION, wait_for_video
from tests.staff import PASSWORD, add_staff, fresh_totp_code, make_staff, totp_code

pytestmark = pytest.mark.slow


def german_browser_page(browser: Any, base_url: str) -> Any:
    """A fresh browser context as a German reader's: locale and Accept-Language de-DE."""
    context = browser.new_context(
        base_url=base_url,
        viewport={"width": 1280, "height": 800},
        locale="de-DE",
        extra_http_headers={"Accept-Language": "de-DE,de;q=0.9"},
    )
    context.set_default_timeout(30_000)
    return context.new_page()


def sign_in_in_german(page: Any, username: str, screenshots: Any | None = None) -> None:
    page.goto("/accounts/login/")
    assert page.locator("html").get_attribute("lang") == "de"
    assert page.get_by_role("heading", name="Anmelden").is_visible()
    if screenshots is not None:
        screenshots.take(page, "de-sign-in")
    page.get_by_label("Benutzername").fill(username)
    page.get_by_label("Passwort").fill(PASSWORD)
    page.get_by_role("button", name="Anmelden").click()
    page.wait_for_url("**/")
    assert page.get_by_role("heading", name=re.compile(f"^Willkommen, {username}$")).is_visible()
    assert page.get_by_role("button", name="Abmelden").is_visible()


def step_up_in_german(page: Any, username: str, screenshots: Any, name: str) -> None:
    page.wait_for_url(re.compile(r"/accounts/step-up/"))
    assert page.get_by_role("heading", name="Bestätigen Sie Ihre Identität").is_visible()
    screenshots.take(page, name)
    page.get_by_label("Passwort").fill(PASSWORD)
    page.get_by_label("Code aus Ihrer Authenticator-App").fill(
        fresh_totp_code(get_user_model().objects.get(username=username))
    )
    page.get_by_role("button", name="Bestätigen").click()


def test_a_german_browser_takes_a_complaint_from_case_to_playback(
    browser, live_service, webm_recording: UploadedRecording, screenshots
) -> None:
    add_staff("olivia", "compliance_officer")
    make_staff("dora", "data_protection_officer")
    make_staff("audrey", "auditor")

    officer = german_browser_page(browser, live_service.url)
    sign_in_in_german(officer, "olivia", screenshots)
    assert officer.get_by_role("link", name="Beschwerdefälle").first.is_visible()
    assert officer.locator("footer").inner_text().startswith("Aufzeichnungen werden drei Monate")
    screenshots.take(officer, "de-officer-home")

    officer.goto(reverse("complaints:case-new"))
    assert officer.get_by_role("heading", name="Neuer Beschwerdefall").is_visible()
    officer.locator("#id_customer_ref").fill(webm_recording.customer_ref)
    officer.locator("button[name=action][value=search]").click()
    officer.wait_for_load_state()
    officer.locator(f"input[name=sessions][value='{webm_recording.session_id}']").check()
    officer.locator("#id_channel").select_option(value="phone")
    officer.locator("#id_complaint").fill(COMPLAINT)
    screenshots.take(officer, "de-officer-new-case")
    officer.locator("button[name=action][value=open]").click()
    officer.wait_for_url(re.compile(r"/cases/[0-9a-f-]{36}/$"))
    case_id = officer.url.rstrip("/").rsplit("/", 1)[-1]
    heading = officer.get_by_role("heading", level=1)
    assert heading.inner_text().startswith(f"Beschwerde von Kunde {webm_recording.customer_ref}")
    assert officer.get_by_role("heading", name="Verlauf").is_visible()
    assert officer.locator("svg.chart").first.locator("rect.chart-control").count() >= 2
    screenshots.take(officer, "de-officer-case-opened")
    officer.goto(reverse("complaints:request-access", kwargs={"case_id": case_id}))
    assert officer.get_by_role("heading", name="Zugriff auf die Aufzeichnungen beantragen").is_visible()
    officer.locator("#id_justification").fill(JUSTIFICATION)
    officer.locator("form.form button[type=submit]").click()
    officer.wait_for_url(re.compile(r"/cases/[0-9a-f-]{36}/$"))
    assert "Wartet auf Genehmigung" in officer.get_by_role("heading", level=1).inner_text()
    screenshots.take(officer, "de-officer-case-awaiting-approval")
    officer.context.close()

    dpo = german_browser_page(browser, live_service.url)
    sign_in_in_german(dpo, "dora")
    dpo.goto(reverse("complaints:approval-queue"))
    assert dpo.get_by_role("heading", name="Zu entscheidende Zugriffsanträge").is_visible()
    assert dpo.get_by_text(JUSTIFICATION).is_visible()
    screenshots.take(dpo, "de-dpo-approval-queue")
    reason = "Begründet: Die Beschwerde nennt diese Sitzung."
    dpo.locator("textarea[name=reason], input[name=reason]").first.fill(reason)
    dpo.locator("button[name=decision][value=approve]").first.click()
    step_up_in_german(dpo, "dora", screenshots, "de-dpo-step-up")
    dpo.wait_for_url("**/cases/approvals/")
    assert dpo.get_by_role("status").inner_text().strip() != ""  # the step-up's confirmation
    dpo.locator("textarea[name=reason], input[name=reason]").first.fill(reason)
    dpo.locator("button[name=decision][value=approve]").first.click()
    dpo.wait_for_url("**/cases/approvals/")
    assert dpo.locator("button[name=decision][value=approve]").count() == 0  # nothing left to decide
    screenshots.take(dpo, "de-dpo-approved")
    dpo.context.close()

    officer = german_browser_page(browser, live_service.url)
    sign_in_in_german(officer, "olivia")
    officer.goto(f"/cases/{case_id}/")
    screenshots.take(officer, "de-officer-case-access-granted")
    officer.locator(f"a[href$='/recordings/{webm_recording.recording_id}/play/']").click()
    # No authenticator yet: the step-up sends the officer to enrol one, in German.
    officer.wait_for_url(re.compile(r"/accounts/second-factor/"))
    assert officer.get_by_role("heading", name="Authenticator-App einrichten").is_visible()
    assert "Richten Sie zuerst eine Authenticator-App ein" in officer.get_by_role("status").inner_text()
    screenshots.take(officer, "de-officer-enrol-authenticator")
    secret = officer.locator("#totp-secret").inner_text().strip()
    key = base64.b32decode(secret + "=" * (-len(secret) % 8)).hex()
    officer.get_by_label("Der Code, den die neue Authenticator-App anzeigt").fill(
        totp_code(TOTPDevice(key=key))
    )
    officer.get_by_role("button", name="Bestätigen").click()
    officer.get_by_role("heading", name="Ihre Wiederherstellungscodes").wait_for()
    assert officer.locator("ul.recovery-codes li").count() == 10
    screenshots.take(officer, "de-officer-recovery-codes")
    officer.get_by_role("link", name="Weiter").click()
    step_up_in_german(officer, "olivia", screenshots, "de-officer-step-up")
    officer.wait_for_url(re.compile(r"/play/$"))
    assert officer.get_by_role("heading", level=1).inner_text().startswith("Sitzung vom ")
    wait_for_video(officer, "(video) => video.readyState >= 1")
    officer.evaluate("() => { const v = document.querySelector('video'); v.muted = true; v.play(); }")
    wait_for_video(officer, "(video) => video.currentTime > 0.5")
    officer.evaluate("() => document.querySelector('video').pause()")
    screenshots.take(officer, "de-officer-player")

    officer.goto(reverse("complaints:case-close", kwargs={"case_id": case_id}))
    assert officer.get_by_role("heading", name="Fall schließen").is_visible()
    officer.locator("input[name=outcome][value=abuse_confirmed]").check()
    officer.locator("#id_summary").fill("Die Aufzeichnung zeigt, wie der Agent die Banking-App öffnet.")
    screenshots.take(officer, "de-officer-close-case")
    officer.locator("form.form button[type=submit]").click()
    officer.wait_for_url(re.compile(r"/cases/[0-9a-f-]{36}/$"))
    assert officer.locator("a[href$='/play/']").count() == 0
    screenshots.take(officer, "de-officer-case-closed")
    # The switch in the header turns the pages English, and the choice is remembered.
    officer.get_by_role("button", name="English").click()
    officer.wait_for_url(re.compile(r"/cases/[0-9a-f-]{36}/$"))
    assert officer.locator("html").get_attribute("lang") == "en"
    officer.goto("/")
    assert officer.get_by_role("button", name="Sign out").is_visible()
    screenshots.take(officer, "de-officer-switched-to-english")
    officer.context.close()

    auditor = german_browser_page(browser, live_service.url)
    sign_in_in_german(auditor, "audrey")
    assert auditor.get_by_role("link", name="Prüfprotokoll").first.is_visible()
    screenshots.take(auditor, "de-auditor-home")
    auditor.context.close()
    # The ledger holds the same, English, entries whatever language the people read.
    actions = set(LedgerEntry.objects.filter(case_id=case_id).values_list("action", flat=True))
    assert {
        "case.opened",
        "case.access_requested",
        "case.access_approved",
        "recording.played",
        "case.closed",
    } <= actions
