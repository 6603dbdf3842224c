"""The complaint workflow end to end, in real headless Chromium against the real service:

an officer opens a case for a customer's real WebM recording and requests access; a DPO
approves after stepping up with password and TOTP code; the officer enrols an authenticator
(reading the secret off the enrolment page, as one types it into an app), steps up with a code
and plays and seeks in the video element (HTTP Range requests reach the
server, each written to the ledger); the officer closes the case; an auditor sees the entries.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.urls import NoReverseMatch, reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.models import LedgerEntry
from retention.services import purge_expired
from tests.e2e.conftest import UploadedRecording, browser_sign_in, new_page
from tests.staff import PASSWORD, add_staff, fresh_totp_code, make_staff, totp_code

pytestmark = pytest.mark.slow

COMPLAINT = (
    "The customer says the agent opened their banking app and read out their balance while "
    "fixing the printer driver, without being asked to."
)
JUSTIFICATION = (
    "Only the recording can show whether the agent opened the banking app; the complaint names the session."
)


class StreamTraffic:
    """What the browser sent to, and got back from, the recording's stream URL."""

    def __init__(self, page: Any) -> None:
        self.requests: list[dict[str, str]] = []
        self.responses: list[tuple[int, dict[str, str]]] = []
        page.on("request", self._on_request)
        page.on("response", self._on_response)

    def _on_request(self, request: Any) -> None:
        if "/stream" in request.url:
            self.requests.append(request.headers)

    def _on_response(self, response: Any) -> None:
        if "/stream" in response.url:
            self.responses.append((response.status, response.headers))


def officer_opens_a_case(page: Any, recording: UploadedRecording, screenshots: Any) -> str:
    page.get_by_role("link", name="Complaint cases").first.click()
    page.wait_for_url("**/cases/")
    screenshots.take(page, "officer-case-list-empty")

    page.get_by_role("link", name="New case").click()
    page.get_by_label("Customer reference").fill(recording.customer_ref)
    page.get_by_role("button", name="Find sessions").click()
    page.wait_for_load_state()
    choice = page.locator(f"input[name=sessions][value='{recording.session_id}']")
    choice.check()
    page.get_by_label("How the complaint arrived").select_option(label="Phone")
    page.get_by_label("The complaint, in the customer's words").fill(COMPLAINT)
    screenshots.take(page, "officer-new-case-with-found-session")

    page.get_by_role("button", name="Open case").click()
    page.wait_for_url(re.compile(r"/cases/[0-9a-f-]{36}/$"))
    case_id = page.url.rstrip("/").rsplit("/", 1)[-1]
    assert page.get_by_text("Case opened.").is_visible()
    # The rights timeline: view and control bands, and the customer's interruption.
    chart = page.locator("svg.chart").first
    assert chart.locator("rect.chart-control").count() >= 2
    assert chart.locator("rect.chart-interrupted").count() == 1
    screenshots.take(page, "officer-case-opened")
    return case_id


def officer_requests_access(page: Any, screenshots: Any) -> None:
    page.get_by_role("link", name="Request access").click()
    page.get_by_label("Why you need to see the recordings").fill(JUSTIFICATION)
    screenshots.take(page, "officer-request-access")
    page.get_by_role("button", name="Send request").click()
    page.wait_for_url(re.compile(r"/cases/[0-9a-f-]{36}/$"))
    assert page.get_by_text("Awaiting approval.").is_visible()
    screenshots.take(page, "officer-case-awaiting-approval")
    page.get_by_role("link", name="Complaint cases").first.click()
    row = page.locator("table tbody tr").first
    assert "CUST-" in row.inner_text() and "Awaiting approval" in row.inner_text()
    screenshots.take(page, "officer-case-list")
    page.go_back()


def step_up_with_code(page: Any, username: str) -> None:
    """The step-up form: password and the code the person's authenticator shows now."""
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Code from your authenticator").fill(
        fresh_totp_code(get_user_model().objects.get(username=username))
    )
    page.get_by_role("button", name="Confirm").click()


def dpo_approves(page: Any, screenshots: Any) -> None:
    page.get_by_role("link", name="Access requests to decide").first.click()
    page.wait_for_url("**/cases/approvals/")
    assert page.get_by_text(JUSTIFICATION).is_visible()
    assert page.get_by_text(COMPLAINT).is_visible()
    screenshots.take(page, "dpo-approval-queue")
    reason = "Justified: the complaint names this session and a specific act."
    page.get_by_label("Your reason").fill(reason)
    page.get_by_role("button", name="Approve").click()
    # Approving wants a step-up with password and code; then the DPO approves again.
    page.wait_for_url(re.compile(r"/accounts/step-up/"))
    screenshots.take(page, "dpo-step-up")
    step_up_with_code(page, "dora")
    page.wait_for_url("**/cases/approvals/")
    page.get_by_label("Your reason").fill(reason)
    page.get_by_role("button", name="Approve").click()
    page.wait_for_url("**/cases/approvals/")
    assert page.get_by_text("Approved: access for olivia").is_visible()
    assert page.get_by_text("No request is waiting for a decision.").is_visible()
    screenshots.take(page, "dpo-approved")


WAIT_FOR_VIDEO = """() => new Promise((resolve, reject) => {
    const video = document.querySelector('video');
    const ready = CONDITION;
    const guard = setTimeout(() => reject(new Error('the video did not get there')), 60000);
    const check = () => {
        if (ready(video)) { clearTimeout(guard); resolve(true); } else { setTimeout(check, 50); }
    };
    check();
})"""


def wait_for_video(page: Any, condition: str) -> None:
    """Until `condition(video)` holds. Written as one function for page.evaluate, not as
    wait_for_function's string predicate: the pages' Content-Security-Policy forbids eval, and
    the test runs under that policy as an officer's browser does. The 60 s are a hang guard."""
    page.evaluate(WAIT_FOR_VIDEO.replace("CONDITION", condition))


def officer_enrols_an_authenticator(page: Any, screenshots: Any) -> None:
    """The enrolment page as an officer uses it: the secret is read off the page as it would be
    typed into an authenticator app, and the app's current code typed back."""
    page.wait_for_url(re.compile(r"/accounts/second-factor/"))
    assert page.locator("figure.qr svg").count() == 1
    screenshots.take(page, "officer-enrol-authenticator")
    secret = page.locator("#totp-secret").inner_text().strip()
    key = base64.b32decode(secret + "=" * (-len(secret) % 8)).hex()
    page.get_by_label("The code the new authenticator shows").fill(totp_code(TOTPDevice(key=key)))
    page.get_by_role("button", name="Confirm").click()
    page.get_by_role("heading", name="Your recovery codes").wait_for()
    assert page.locator("ul.recovery-codes li").count() == 10
    assert secret not in page.content()  # shown once, before it was confirmed
    screenshots.take(page, "officer-recovery-codes")
    page.get_by_role("link", name="Continue").click()


def officer_plays_and_seeks(page: Any, case_id: str, screenshots: Any) -> StreamTraffic:
    page.goto(f"/cases/{case_id}/")
    assert page.get_by_text("Access granted until").is_visible()
    screenshots.take(page, "officer-case-access-granted")
    page.set_viewport_size({"width": 1024, "height": 640})  # a small laptop screen
    screenshots.take(page, "officer-case-access-granted-1024px")
    page.set_viewport_size({"width": 1280, "height": 800})
    traffic = StreamTraffic(page)
    # Playback wants a step-up with password and code: a sign-in is not one. The officer has no
    # authenticator yet, so the step-up sends them to enrol one first, then back to the player.
    page.get_by_role("link", name="Play recording").click()
    officer_enrols_an_authenticator(page, screenshots)
    page.wait_for_url(re.compile(r"/accounts/step-up/"))
    assert not traffic.requests  # nothing was fetched before the password and code were confirmed
    screenshots.take(page, "officer-step-up")
    step_up_with_code(page, "olivia")
    page.wait_for_url(re.compile(r"/play/$"))
    video = page.locator("video#player")
    assert "nodownload" in (video.get_attribute("controlslist") or "")
    assert page.locator("a[href*='/stream']").count() == 0  # no link to the raw stream
    wait_for_video(page, "(video) => video.readyState >= 1")
    duration = page.evaluate("() => document.querySelector('video').duration")
    assert 7 <= duration <= 9

    page.evaluate("() => { const v = document.querySelector('video'); v.muted = true; v.play(); }")
    wait_for_video(page, "(video) => video.currentTime > 0.5")
    page.evaluate("() => { document.querySelector('video').currentTime = 6; }")
    wait_for_video(page, "(video) => !video.seeking && video.currentTime >= 6")
    page.evaluate("() => document.querySelector('video').pause()")
    screenshots.take(page, "officer-player-after-seek")
    return traffic


RANGED_FETCH = """async ([start, end]) => {
    const src = document.querySelector('video').currentSrc;
    const answer = await fetch(src, {headers: {Range: `bytes=${start}-${end}`}, credentials: 'same-origin'});
    const body = new Uint8Array(await answer.arrayBuffer());
    return {status: answer.status, contentRange: answer.headers.get('content-range'), body: Array.from(body)};
}"""


def ledger_page_shows_entries(page: Any, case_id: str, screenshots: Any) -> bool:
    """The auditor's ledger page, if it exists yet (a parallel piece of work builds it)."""
    try:
        url = reverse("audit:ledger")
    except NoReverseMatch:
        return False
    page.goto(url)
    page.get_by_role("link", name="Audit ledger").first.wait_for()
    screenshots.take(page, "auditor-ledger")
    page.goto(f"{url}?case_id={case_id}")
    entries = page.locator("table tbody tr")
    played = entries.filter(has_text="recording.played")
    assert played.count() >= 2
    assert "olivia" in played.first.inner_text()
    for action in ("case.opened", "case.access_requested", "case.access_approved", "case.closed"):
        assert entries.filter(has_text=action).count() >= 1, action
    screenshots.take(page, "auditor-ledger-of-the-case")
    return True


def test_officer_dpo_and_auditor_take_a_complaint_from_case_to_playback(
    browser, live_service, webm_recording: UploadedRecording, webm_file: Path, screenshots
) -> None:
    add_staff("olivia", "compliance_officer")  # enrols an authenticator in the browser, below
    for username, role in (
        ("dora", "data_protection_officer"),  # with the authenticator make_staff enrols as hers
        ("audrey", "auditor"),
        ("otto", "operator"),
    ):
        make_staff(username, role)

    officer = new_page(browser, live_service.url)
    browser_sign_in(officer, "olivia", PASSWORD)
    screenshots.take(officer, "officer-home")
    case_id = officer_opens_a_case(officer, webm_recording, screenshots)
    officer_requests_access(officer, screenshots)
    officer.context.close()

    dpo = new_page(browser, live_service.url)
    browser_sign_in(dpo, "dora", PASSWORD)
    dpo_approves(dpo, screenshots)
    dpo.context.close()

    # The operator sees the case's legal hold, and the purge run that left the recording alone.
    purge_expired(trigger="command")
    operator = new_page(browser, live_service.url)
    browser_sign_in(operator, "otto", PASSWORD)
    operator.goto(reverse("retention:dashboard"))
    holds = operator.get_by_role("region", name="Legal holds in force")
    assert holds.locator(f"code[title='{case_id}']").is_visible()
    screenshots.take(operator, "operator-dashboard-with-hold")
    operator.context.close()

    officer = new_page(browser, live_service.url)
    browser_sign_in(officer, "olivia", PASSWORD)
    traffic = officer_plays_and_seeks(officer, case_id, screenshots)

    # The video element asked for byte ranges, and the server answered with ranges, never cached.
    ranges = [headers["range"] for headers in traffic.requests if "range" in headers]
    assert ranges and all(r.startswith("bytes=") for r in ranges), traffic.requests
    assert any(not r.startswith("bytes=0-") for r in ranges), ranges  # read from the middle or end
    assert all(status == 206 for status, _ in traffic.responses), traffic.responses
    assert all(headers.get("cache-control") == "no-store" for _, headers in traffic.responses)
    assert all(
        re.fullmatch(rf"bytes \d+-\d+/{webm_recording.size}", headers.get("content-range", ""))
        for _, headers in traffic.responses
    )
    # A range in the middle, asked by the same browser session: exactly those bytes of the WebM.
    start, end = webm_recording.size // 2, webm_recording.size // 2 + 4095
    middle = officer.evaluate(RANGED_FETCH, [start, end])
    assert middle["status"] == 206
    assert middle["contentRange"] == f"bytes {start}-{end}/{webm_recording.size}"
    assert bytes(middle["body"]) == webm_file.read_bytes()[start : end + 1]
    # Each request was written to the ledger before its first byte, with the range it served.
    played = list(
        LedgerEntry.objects.filter(action="recording.played", recording_id=webm_recording.recording_id)
    )
    assert len(played) >= len(traffic.responses)  # observed answers all come after their entry
    assert {entry.actor_label for entry in played} == {"olivia"}
    assert all(str(entry.case_id) == case_id for entry in played)
    assert {"start": start, "end": end, "partial": True} in [entry.details["range"] for entry in played]

    officer.goto(f"/cases/{case_id}/")
    officer.get_by_role("link", name="Close case").click()
    officer.get_by_label("Abuse confirmed").check()
    officer.get_by_label("Summary").fill(
        "The recording shows the agent opening the banking app. Agent retrained."
    )
    screenshots.take(officer, "officer-close-case")
    officer.get_by_role("button", name="Close case").click()
    officer.wait_for_url(re.compile(r"/cases/[0-9a-f-]{36}/$"))
    assert officer.get_by_text("Case closed.").is_visible()
    assert officer.get_by_role("link", name="Play recording").count() == 0
    screenshots.take(officer, "officer-case-closed")
    officer.context.close()

    auditor = new_page(browser, live_service.url)
    browser_sign_in(auditor, "audrey", PASSWORD)
    screenshots.take(auditor, "auditor-home")
    if not ledger_page_shows_entries(auditor, case_id, screenshots):
        # Until the ledger page exists, read the same entries the auditor would see.
        actions = set(LedgerEntry.objects.filter(case_id=case_id).values_list("action", flat=True))
        assert {"case.opened", "case.access_requested", "case.access_approved", "recording.played"} <= actions
        assert "case.closed" in actions
    auditor.context.close()
