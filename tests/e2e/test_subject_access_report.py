"""The access report (GDPR Art. 15) in a real browser: a data protection officer looks up a
customer whose sessions were recorded, refused, purged and held by a complaint case, and reads
each as it is; the JSON download says the same."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
from django.utils import timezone

from audit.models import LedgerEntry
from complaints import services as complaints
from recorder.models import Recording
from recorder.pseudonyms import customer_hash
from recorder.services import create_recorder_client
from retention.services import purge_expired
from tests.e2e.conftest import browser_sign_in, new_page, upload_session_with_recording
from tests.factories import SessionPayload
from tests.staff import PASSWORD, make_staff

pytestmark = pytest.mark.slow
CUSTOMER = "CUST-ART15-2209"


def _refused_session(base_url: str, token: str) -> str:
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {token}"
    payload = SessionPayload(customer_ref=CUSTOMER, external_id="ticket-refused")
    payload["consent"]["control"] = False
    session_id = api.post(f"{base_url}/api/v1/sessions", json=payload, timeout=30).json()["id"]
    answer = api.put(
        f"{base_url}/api/v1/sessions/{session_id}/recording", data=b"\x1aE\xdf\xa3" + bytes(500),
        headers={"Content-Type": "video/webm"}, timeout=30,
    )  # fmt: skip
    assert answer.status_code == 409 and answer.json()["error"] == "no_control_grant"
    return str(session_id)


def test_a_dpo_reads_what_the_vault_holds_about_a_customer(
    browser, live_service, webm_file: Path, screenshots, tmp_path: Path
) -> None:
    officer = make_staff("olivia", "compliance_officer")
    make_staff("dora", "data_protection_officer")
    _, token = create_recorder_client(name="helpdesk-e2e")
    webm = webm_file.read_bytes()
    sessions = {
        name: upload_session_with_recording(
            live_service.url, token, webm, customer_ref=CUSTOMER, external_id=f"ticket-{name}"
        )
        for name in ("recorded", "purged", "held")
    }
    refused = _refused_session(live_service.url, token)
    Recording.objects.filter(id=sessions["purged"].recording_id).update(expires_at=timezone.now())
    assert purge_expired().purged == 1
    case = complaints.open_case(
        officer=officer, customer_ref=CUSTOMER, channel="phone",
        complaint="The agent opened my photos.", session_ids=[sessions["held"].session_id],
    )  # fmt: skip

    page = new_page(browser, live_service.url)
    browser_sign_in(page, "dora", PASSWORD)
    page.get_by_role("link", name="Data-subject requests").first.click()
    page.wait_for_url("**/privacy/")
    page.get_by_label("Customer reference").first.fill(CUSTOMER)
    page.get_by_role("button", name="Show the report").click()
    page.wait_for_selector("#report")
    screenshots.take(page, "access-report")

    def row(session_id: str):  # type: ignore[no-untyped-def]
        return page.locator(f'tr[data-session="{session_id}"]')

    assert page.locator("table.subject-sessions tbody tr").count() == 4
    assert "locked" in row(sessions["recorded"].session_id).locator(".recording-state").inner_text()
    assert "deletes" in row(sessions["recorded"].session_id).inner_text()
    purged = row(sessions["purged"].session_id).inner_text()
    assert "purged" in purged and "deleted" in purged and "pseudonymised" in purged
    assert "not recorded" in row(refused).inner_text()
    assert (
        f"held by case {str(case.id)[:8]}" in row(sessions["held"].session_id).locator(".hold").inner_text()
    )
    assert page.locator(f'[data-case="{case.id}"]').is_visible()
    assert "The agent opened my photos." in page.locator(f'[data-case="{case.id}"]').inner_text()
    assert "olivia" not in page.locator("main").inner_text()  # no staff member's name
    assert "agent-042" not in page.content()  # the data map withholds the agent's reference

    with page.expect_download() as download:
        page.get_by_role("button", name="Download as JSON").click()
    saved = tmp_path / "report.json"
    download.value.save_as(saved)
    report = json.loads(saved.read_text())
    assert {s["id"] for s in report["sessions"]} == {*(s.session_id for s in sessions.values()), refused}
    assert [c["id"] for c in report["cases"]] == [str(case.id)]
    reported = LedgerEntry.objects.filter(action="subject.access_reported")
    assert reported.count() == 2
    assert all(e.details["customer_ref_hash"] == customer_hash(CUSTOMER) for e in reported)
    assert all(CUSTOMER not in json.dumps(e.details) for e in reported)
