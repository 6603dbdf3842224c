"""The player page under the Content-Security-Policy: its one inline script carries the nonce the
header allows, fresh on every response, and no page holds inline code the policy would block."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from complaints import services
from tests.complaints.conftest import World
from tests.staff import signed_in

pytestmark = pytest.mark.local_store


def test_the_players_inline_script_carries_the_nonce_of_its_own_response(staff, world: World) -> None:
    services.approve_access_request(approver=staff.dpo, request_id=world.request.id, reason="Justified.")
    officer = signed_in(staff.officer)
    url = reverse("complaints:player", kwargs={"case_id": world.case.id, "recording_id": world.recording_id})

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
    page = signed_in(staff.officer).get(reverse("complaints:case-list"))
    assert page.status_code == 200
    assert "'nonce-" not in page.headers["Content-Security-Policy"]
    assert "<script" not in page.content.decode()
