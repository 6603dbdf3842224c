"""The public contract: the OpenAPI schema and JSON errors everywhere."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_schema_documents_every_recorder_operation() -> None:
    answer = Client().get("/api/v1/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert answer.status_code == 200
    import json

    schema = json.loads(answer.content)
    operations = {op["operationId"] for path in schema["paths"].values() for op in path.values()}
    assert {"register_session", "report_session_event", "upload_recording", "get_session"} <= operations
    upload = schema["paths"]["/api/v1/sessions/{session_id}/recording"]["put"]
    assert {"201", "200", "409", "411", "413"} <= set(upload["responses"])


def test_an_unknown_url_is_a_json_404() -> None:
    answer = Client().get("/api/v1/nothing-here")
    assert answer.status_code == 404
    assert answer.json()["error"] == "not_found"
