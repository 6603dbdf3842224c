"""The public contract: the OpenAPI schema and JSON errors everywhere."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.openapi import assert_documented, published_schema
from tests.staff import make_staff

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


def test_an_error_an_operation_does_not_list_is_still_the_documented_error_body(settings) -> None:
    """A form body where JSON is expected (415), say: every error is `{"error", "detail"}`, and the
    schema's `default` answer says so."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    officer = Client()
    officer.force_login(make_staff("olivia", "compliance_officer"))
    answer = officer.post("/api/v1/cases", {"customer_ref": "C", "channel": "phone", "complaint": "x"})
    assert answer.status_code == 415
    assert answer.json()["error"] == "unsupported_media_type"
    assert_documented(published_schema(), "open_case", answer)


SESSION_SCHEMES = {"staffSession", "cookieAuth"}


def test_calls_signed_in_by_session_refuse_anonymous_with_403_and_document_no_401() -> None:
    """Django sessions have no WWW-Authenticate challenge, so DRF answers a missing sign-in with
    403 (as for a wrong role); a documented 401 would never come."""
    schema = published_schema()
    for path, operation_id in [
        ("/api/v1/purge-runs", "list_purge_runs"),
        ("/api/v1/audit/head", "ledger_head"),
    ]:
        answer = Client().get(path)
        assert answer.status_code == 403
        assert_documented(schema, operation_id, answer)
    operations = [op for item in schema["paths"].values() for op in item.values()]
    schemes = {op["operationId"]: {name for s in op.get("security", []) for name in s} for op in operations}
    session_only = [
        op
        for op in operations
        if schemes[op["operationId"]] and schemes[op["operationId"]] <= SESSION_SCHEMES
    ]
    assert len(session_only) == 17  # every staff call: complaints, retention and audit
    assert [op["operationId"] for op in session_only if "401" in op["responses"]] == []
