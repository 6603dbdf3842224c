"""/healthz says the process is up without touching anything; /readyz checks and reports each
dependency a request needs, and answers 503 when one of them is down."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.conftest import MOTO_CREDENTIALS, MotoServer, free_port


def test_healthz_answers_any_host_without_the_database() -> None:
    # No django_db mark: touching the database here would fail the test.
    answer = Client().get("/healthz", HTTP_HOST="10.1.2.3:8000")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok", "detail": "The process is up."}
    assert answer["Cache-Control"] == "no-store"


@pytest.mark.django_db
def test_readyz_reports_each_dependency_ok(settings, data_dir, age_keys) -> None:
    settings.OBJECT_STORE = "local"
    answer = Client().get("/readyz", HTTP_HOST="10.1.2.3")
    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "broker", "object_store", "recipients", "ledger_forwarding"}
    for name, check in body["checks"].items():
        assert check["status"] == "ok", name
        assert check["detail"].endswith("."), name


@pytest.mark.django_db
def test_readyz_is_503_when_the_s3_endpoint_stops(settings, data_dir, age_keys, monkeypatch) -> None:
    for key, value in MOTO_CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    server = MotoServer()  # our own, so stopping it disturbs no other test
    server.start()
    try:
        server.client("s3").create_bucket(Bucket="vault-ready")
        settings.OBJECT_STORE = "s3"
        settings.S3_BUCKET = "vault-ready"
        settings.S3_ENDPOINT_URL = server.endpoint
        assert Client().get("/readyz").status_code == 200
    finally:
        server.stop()
    answer = Client().get("/readyz")
    assert answer.status_code == 503
    checks = answer.json()["checks"]
    assert checks["object_store"]["status"] == "error"
    assert "S3 endpoint cannot be reached" in checks["object_store"]["detail"]
    assert {checks[name]["status"] for name in ("database", "broker", "recipients")} == {"ok"}


@pytest.mark.django_db
def test_readyz_is_503_when_the_broker_is_unreachable(settings, data_dir, age_keys) -> None:
    settings.OBJECT_STORE = "local"
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    answer = Client().get("/readyz")
    assert answer.status_code == 503
    body = answer.json()
    assert body["status"] == "error"
    assert body["checks"]["broker"]["status"] == "error"
    assert body["checks"]["broker"]["detail"].startswith("The Celery broker (redis) cannot be reached")
    assert body["checks"]["database"]["status"] == "ok"


@pytest.mark.django_db
def test_readyz_is_503_without_recipients(settings, data_dir, tmp_path) -> None:
    settings.OBJECT_STORE = "local"
    settings.AGE_RECIPIENTS = []
    settings.AGE_RECIPIENTS_FILE = str(tmp_path / "missing.txt")
    settings.KMS_KEY_ID = ""
    answer = Client().get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["checks"]["recipients"]["status"] == "error"


def test_a_valid_request_id_is_echoed_and_a_bad_one_replaced() -> None:
    client = Client()
    assert client.get("/healthz", HTTP_X_REQUEST_ID="lb-0123456789")["X-Request-ID"] == "lb-0123456789"
    replaced = client.get("/healthz", HTTP_X_REQUEST_ID='bad id"<script>')["X-Request-ID"]
    assert replaced != 'bad id"<script>' and len(replaced) == 32
