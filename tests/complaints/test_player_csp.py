"""The player page under the Content-Security-Policy: its one inline script carries the nonce the
header allows, fresh on every response, and no page holds inline code the policy would block."""

from __future__ import annotations

import re

from django.test import Client
from django.urls import reverse

from complaints import services


def test_the_players_inline_script_carries_the_nonce_of_its_own_response(staff, make_session) -> None:
    recorded = make_session("CUST-4711")
    case = services.open_case(
        officer=staff.officer, customer_ref="CUST-4711", channel="phone",
        complaint="The agent changed my settings.", session_ids=[recorded.session_id],
    )  # fmt: skip
    request = services.request_access(officer=staff.officer, case_id=case.id, justification="Needed.")
    services.approve_access_request(approver=staff.dpo, request_id=request.id, reason="Justified.")
    officer = Client()
    officer.force_login(staff.officer)
    url = reverse("complaints:player", kwargs={"case_id": case.id, "recording_id": recorded.recording_id})

    nonces = []
    for _ in range(2):
        page = officer.get(url)
        assert page.status_code == 200
        policy = page.headers["Content-Security-Policy"]
        allowed = re.search(r"script-src 'self' 'nonce-([A-Za-z0-9+/=]+)'", policy)
        assert allowed, policy
        scripts = re.findall(r"<script\b([^>]*)>", page.content.decode())
        assert scripts == [f' nonce="{allowed.group(1)}"']
        assert " style=" not in page.content.decode()
        nonces.append(allowed.group(1))
    assert nonces[0] != nonces[1]


def test_a_page_without_inline_script_gets_no_nonce_in_its_policy(staff) -> None:
    officer = Client()
    officer.force_login(staff.officer)
    page = officer.get(reverse("complaints:case-list"))
    assert page.status_code == 200
    assert "'nonce-" not in page.headers["Content-Security-Policy"]
    assert "<script" not in page.content.decode()
