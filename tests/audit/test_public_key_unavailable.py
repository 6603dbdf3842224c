"""A node whose configured signing key is missing answers the public-key call with a JSON 503,
never a 500, and does not print where it looked."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.openapi import assert_documented, published_schema

pytestmark = pytest.mark.django_db


def test_a_missing_configured_signing_key_is_a_clear_503(settings, tmp_path) -> None:
    settings.LEDGER_SIGNING_KEY = ""
    settings.LEDGER_SIGNING_KEY_FILE = str(tmp_path / "mounted-volume" / "ledger.pem")
    answer = APIClient().get("/api/v1/audit/public-key")
    assert answer.status_code == 503
    assert answer.json()["error"] == "signing_key_unavailable"
    assert "mounted-volume" not in answer.content.decode()


def test_the_503_is_an_answer_the_schema_documents(settings, tmp_path) -> None:
    settings.LEDGER_SIGNING_KEY = ""
    settings.LEDGER_SIGNING_KEY_FILE = str(tmp_path / "absent.pem")
    answer = APIClient().get("/api/v1/audit/public-key")
    assert answer.status_code == 503
    assert_documented(published_schema(), "ledger_public_key", answer)
