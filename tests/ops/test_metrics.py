"""/metrics: django-prometheus's request metrics and the vault's own, computed from the database
at scrape time, served only to the monitoring addresses or token."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import LedgerEntry
from audit.services import sign_tree_head
from recorder.models import Recording
from tests.factories import ConsentPayload, SessionPayload, grant_for

pytestmark = pytest.mark.django_db


def scrape(**headers: str) -> str:
    answer = Client().get("/metrics", **headers)
    assert answer.status_code == 200, answer.content
    assert answer["Content-Type"].startswith("text/plain")
    return answer.content.decode()


def value(text: str, name: str, labels: str = "") -> float:
    pattern = re.escape(name + (f"{{{labels}}}" if labels else "")) + r" (\S+)"
    match = re.search(r"^" + pattern + "$", text, re.MULTILINE)
    assert match, f"{name}{{{labels}}} not in the scrape"
    return float(match.group(1))


def record_session(api: APIClient, body: bytes, *, control: bool = True) -> int:
    """A new session with `body` as its recording; the upload's status."""
    payload = SessionPayload(consent=ConsentPayload(control=control))
    session_id = api.post("/api/v1/sessions", payload, format="json").json()["id"]
    return int(
        api.put(f"/api/v1/sessions/{session_id}/recording", body, content_type="video/webm").status_code
    )


@pytest.fixture
def ledger_key(tmp_path, settings) -> None:
    settings.LEDGER_SIGNING_KEY = ""
    settings.LEDGER_SIGNING_KEY_FILE = str(tmp_path / "keys" / "ledger-signing-key.pem")


def test_the_vault_metrics_follow_ingest_refusals_grants_and_the_ledger(
    api: APIClient, data_dir, age_keys, ledger_key, settings
) -> None:
    settings.OBJECT_STORE = "local"
    assert record_session(api, b"a" * 1000) == 201
    assert record_session(api, b"b" * 2500) == 201
    assert record_session(api, b"c" * 10, control=False) == 409  # no control rights: not recorded
    text = scrape()
    assert value(text, "vault_recordings_ingested_total") == 2
    assert value(text, "vault_ingested_bytes_total") == 3500
    assert value(text, "vault_ingest_refusals_total", 'reason="no_control_grant"') == 1
    assert value(text, "vault_recordings", 'state="locked"') == 2
    assert value(text, "vault_purge_lag_seconds") == 0
    assert value(text, "vault_access_grants_active") == 0
    assert value(text, "vault_legal_holds_active") == 0
    assert value(text, "vault_playbacks_total") == 0
    assert not re.search(r"^vault_ledger_signed_head_age_seconds ", text, re.M)  # no head signed yet
    # django-prometheus's own request metrics are there too.
    assert "django_http_requests_total_by_method_total" in text

    grant_for(Recording.objects.first())
    sign_tree_head(trigger="command")
    text = scrape()
    assert value(text, "vault_access_grants_active") == 1
    assert value(text, "vault_ledger_entries") == LedgerEntry.objects.count()
    assert 0 <= value(text, "vault_ledger_signed_head_age_seconds") < 60


def test_purge_lag_is_the_age_of_the_oldest_overdue_recording(
    api: APIClient, data_dir, age_keys, settings
) -> None:
    settings.OBJECT_STORE = "local"
    assert record_session(api, b"x" * 100) == 201
    expires_at = Recording.objects.get().expires_at
    with time_machine.travel(expires_at + timedelta(hours=5), tick=False):
        lag = value(scrape(), "vault_purge_lag_seconds")
    assert lag == pytest.approx(5 * 3600, abs=1)
    assert timezone.now() < expires_at


def test_metrics_answer_a_scrape_by_address_over_plain_http(settings) -> None:
    settings.SECURE_SSL_REDIRECT = True  # production: every other page redirects to HTTPS
    assert "vault_recordings" in scrape(HTTP_HOST="10.1.2.3:8000")


def test_metrics_are_refused_to_other_addresses_unless_they_bear_the_token(settings) -> None:
    settings.METRICS_BEARER_TOKEN = ""
    refused = Client().get("/metrics", REMOTE_ADDR="10.20.30.40")
    assert refused.status_code == 403
    assert refused.json()["error"] == "forbidden"
    settings.METRICS_BEARER_TOKEN = "monitoring-secret-0123456789"
    wrong = Client().get("/metrics", REMOTE_ADDR="10.20.30.40", HTTP_AUTHORIZATION="Bearer nope")
    assert wrong.status_code == 403
    assert "vault_recordings" in scrape(
        REMOTE_ADDR="10.20.30.40", HTTP_AUTHORIZATION="Bearer monitoring-secret-0123456789"
    )
    settings.METRICS_ALLOWED_IPS = ["10.20.30.40"]
    settings.METRICS_BEARER_TOKEN = ""
    assert "vault_recordings" in scrape(REMOTE_ADDR="10.20.30.40")
