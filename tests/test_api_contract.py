"""The public contract: the OpenAPI schema and JSON errors everywhere."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.test import Client

from tests.factories import SessionPayload, iso
from tests.openapi import assert_documented, published_schema
from tests.staff import make_staff

pytestmark = [pytest.mark.django_db, pytest.mark.local_store]


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


def test_the_recorder_answers_the_shapes_the_schema_documents(api, store, age_keys) -> None:
    schema = published_schema()
    registered = api.post("/api/v1/sessions", SessionPayload(), format="json")
    assert registered.status_code == 201
    assert_documented(schema, "register_session", registered)
    session = f"/api/v1/sessions/{registered.json()['id']}"
    for status in (201, 200):  # the same bytes again: 200
        uploaded = api.put(f"{session}/recording", b"recorded", content_type="video/webm")
        assert uploaded.status_code == status
        assert_documented(schema, "upload_recording", uploaded)
    event = {"type": "scope_changed", "at": iso(datetime.now(UTC)), "view": True, "control": False}
    reported = api.post(f"{session}/events", event, format="json")
    assert reported.status_code == 201, reported.content
    assert_documented(schema, "report_session_event", reported)
    fetched = api.get(session)
    assert fetched.status_code == 200
    assert_documented(schema, "get_session", fetched)
    assert set(fetched.json()["consent"]) == {"granted_at", "view", "control"}
    missing = api.get("/api/v1/sessions/0b7c6f3e-1111-4222-8333-944455556666")
    assert missing.status_code == 404
    assert_documented(schema, "get_session", missing)


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
    assert len(session_only) == 20  # every staff call: complaints, retention, audit and privacy
    assert [op["operationId"] for op in session_only if "401" in op["responses"]] == []


def test_every_key_of_every_answer_is_documented_as_always_there() -> None:
    """Output serializers send every field in every answer (null where there is none); a key the
    schema calls optional would make clients test for its absence."""
    schema = published_schema()
    components = schema["components"]["schemas"]
    answered: set[str] = set()

    def collect(node: object) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            name = ref.rsplit("/", 1)[-1]
            if ref and name not in answered:
                answered.add(name)
                collect(components[name])
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    collect([op["responses"] for item in schema["paths"].values() for op in item.values()])
    optional = {
        name: sorted(set(components[name].get("properties", {})) - set(components[name].get("required", [])))
        for name in answered
    }
    assert {name: keys for name, keys in optional.items() if keys} == {}
    assert {"CaseOut", "PurgeRunOut", "SessionOut", "LedgerExport", "Error"} <= answered
