"""Recorder client tokens: created, listed and revoked from the command line and the admin;
a revoked token gets 401 JSON, and each revocation is one ledger event."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client
from rest_framework.test import APIClient

from audit.models import LedgerEntry
from recorder.models import RecorderClient
from staff.roles import assign_role
from tests.factories import SessionPayload

pytestmark = pytest.mark.django_db


def command(name: str, *args: str) -> str:
    out = io.StringIO()
    call_command(name, *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def api_with(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_create_list_and_revoke_from_the_command_line() -> None:
    token = command("create_recorder_client", "helpdesk-east").strip().splitlines()[-1]
    command("create_recorder_client", "helpdesk-west")
    assert api_with(token).post("/api/v1/sessions", SessionPayload(), format="json").status_code == 201

    listing = command("list_recorder_clients")
    assert "helpdesk-east" in listing and "helpdesk-west" in listing
    assert token[:10] in listing and token not in listing  # the prefix, never the token

    assert "Revoked recorder client helpdesk-east" in command("revoke_recorder_client", "helpdesk-east")
    refused = api_with(token).post("/api/v1/sessions", SessionPayload(), format="json")
    assert refused.status_code == 401
    assert refused.json() == {"error": "authentication_failed", "detail": "The token is unknown or revoked."}

    assert "revoked already" in command("revoke_recorder_client", "helpdesk-east")
    [event] = LedgerEntry.objects.filter(action="recorder_client.revoked")
    client = RecorderClient.objects.get(name="helpdesk-east")
    assert event.details == {"client": str(client.id), "name": "helpdesk-east"}
    assert (event.actor_kind, event.actor_id) == ("job", "revoke_recorder_client")
    east, west = command("list_recorder_clients").splitlines()[1:]
    assert not east.endswith(" -") and west.endswith(" -")  # only east shows a revocation time

    with pytest.raises(CommandError, match="No recorder client is named 'nobody'"):
        command("revoke_recorder_client", "nobody")
    with pytest.raises(CommandError, match="A recorder client named 'helpdesk-west' exists already"):
        command("create_recorder_client", "helpdesk-west")  # a one-line error, not a traceback
    assert RecorderClient.objects.filter(name="helpdesk-west").count() == 1


def test_a_superuser_revokes_tokens_with_the_admin_action_and_nobody_else_can() -> None:
    token = command("create_recorder_client", "tool-a").strip().splitlines()[-1]
    tool = RecorderClient.objects.get(name="tool-a")
    User = get_user_model()
    operator = User.objects.create_user("olga", password="unused password 123", is_staff=True)
    assign_role(user=operator, role="operator")
    browser = Client()
    browser.force_login(operator)
    form = {"action": "revoke_tokens", "_selected_action": [str(tool.id)]}
    assert browser.post("/admin/recorder/recorderclient/", form).status_code == 403
    assert RecorderClient.objects.get(pk=tool.pk).revoked_at is None

    admin = User.objects.create_superuser("root-admin", password="unused password 123")
    browser.force_login(admin)
    assert browser.get("/admin/recorder/recorderclient/").status_code == 200
    assert browser.get(f"/admin/recorder/recorderclient/{tool.id}/change/").status_code == 200  # view only
    answer = browser.post("/admin/recorder/recorderclient/", form)
    assert answer.status_code == 302
    assert RecorderClient.objects.get(pk=tool.pk).revoked_at is not None
    [event] = LedgerEntry.objects.filter(action="recorder_client.revoked")
    assert (event.actor_kind, event.actor_label) == ("user", "root-admin")
    assert api_with(token).get("/api/v1/sessions/00000000-0000-0000-0000-000000000000").status_code == 401
