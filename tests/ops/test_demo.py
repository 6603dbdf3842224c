"""`manage.py demo` against a live server: realistic sessions over HTTP, recordings sealed for
those with control rights and refused (409) for the others, one user per role; a second run
adds nothing."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from audit.models import LedgerEntry
from ops.demo.plan import SCENARIOS
from recorder.models import Recording, Session, SessionEvent
from staff.roles import role_of
from tests.liveserver import ROOT, LiveServer
from tests.staff import sign_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def demo(url: str, token_file: Path, sessions: int) -> str:
    out = io.StringIO()
    call_command(
        "demo", "--url", url, "--sessions", str(sessions), "--token-file", str(token_file),
        stdout=out, stderr=io.StringIO(),
    )  # fmt: skip
    return out.getvalue()


def test_demo_fills_a_running_service_once(settings, data_dir: Path, age_keys, tmp_path: Path) -> None:
    settings.OBJECT_STORE = "local"
    count = len(SCENARIOS) * 2  # every scenario twice
    token_file = tmp_path / "demo-token"
    with LiveServer() as server:
        banner = subprocess.run(
            [sys.executable, "-m", "ops.banner", server.url],
            cwd=ROOT,
            env={**os.environ, "VAULT_DATA_DIR": "/srv/vault data"},  # the banner only prints it
            capture_output=True,
            text=True,
            timeout=150,
        )
        first = demo(server.url, token_file, count)
        ledger_after_first = LedgerEntry.objects.count()
        second = demo(server.url, token_file, count)

    assert Session.objects.count() == count
    recorded = Recording.objects.filter(state=Recording.State.LOCKED)
    not_recorded = sum(1 for name, (consent, events) in SCENARIOS.items() if "not recorded" in name)
    assert recorded.count() == count - 2 * not_recorded
    assert all(r.media_type == "video/webm" and (r.size or 0) > 1000 for r in recorded)
    refusals = LedgerEntry.objects.filter(action="recording.rejected", details__reason="no_control_grant")
    assert refusals.count() == 2 * not_recorded
    assert SessionEvent.objects.filter(type="interrupted").exists()
    assert SessionEvent.objects.filter(type="scope_changed", control=False).exists()  # narrowed
    assert SessionEvent.objects.filter(type="scope_changed", control=True).exists()  # widened
    started = sorted(Session.objects.values_list("started_at", flat=True))
    assert (started[-1] - started[0]).days >= 60  # spread over the last months
    assert oct(token_file.stat().st_mode & 0o777) == "0o600"

    assert f"Sessions registered: {count}" in first
    credentials = [line.split() for line in first.splitlines() if line.startswith("  ")]
    assert {role for role, _, _ in credentials} == {
        "compliance_officer", "data_protection_officer", "auditor", "operator",
    }  # fmt: skip
    for role, username, password in credentials:
        assert sign_in(Client(), username, password).status_code == 302, username
        assert role_of(get_user_model().objects.get(username=username)) == role

    assert banner.returncode == 0
    assert f"is up on {server.url}/" in banner.stdout
    assert f"make demo PORT={server.port}" in banner.stdout
    # The demo and the command must reach the service's own database, not ./var.
    assert f"VAULT_DATA_DIR='/srv/vault data' make demo PORT={server.port}" in banner.stdout
    assert (
        "VAULT_DATA_DIR='/srv/vault data' .venv/bin/python manage.py create_recorder_client" in banner.stdout
    )

    assert "Nothing new" in second
    assert "Staff users exist already" in second
    assert LedgerEntry.objects.count() == ledger_after_first  # not even a refusal was repeated
    assert Session.objects.count() == count
