"""The OpenAPI schema the service publishes (/api/v1/schema), and a check that a real answer has
exactly the shape the schema documents for its operation and status.

The documented body is validated with `jsonschema` (drf-spectacular's own dependency). OpenAPI 3.0
schema objects are JSON Schema but for `nullable`, which becomes "or null" here. Objects are
checked closed (no key beyond the documented ones) unless the schema allows more: a key the
service sends but does not document is a lie of the schema too.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema
from django.test import Client


def published_schema() -> dict[str, Any]:
    answer = Client().get("/api/v1/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert answer.status_code == 200
    return dict(json.loads(answer.content))


def operation(schema: dict[str, Any], operation_id: str) -> dict[str, Any]:
    [found] = [
        op for item in schema["paths"].values() for op in item.values() if op["operationId"] == operation_id
    ]
    return dict(found)


def query_parameters(schema: dict[str, Any], operation_id: str) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in operation(schema, operation_id).get("parameters", []) if p["in"] == "query"}


def as_json_schema(node: Any) -> Any:
    """An OpenAPI 3.0 schema object as JSON Schema: `nullable` as "or null", objects closed."""
    if isinstance(node, list):
        return [as_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: as_json_schema(value) for key, value in node.items() if key != "nullable"}
    if "properties" in converted and "additionalProperties" not in converted:
        converted["additionalProperties"] = False
    if node.get("nullable") is True:
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


def assert_documented(schema: dict[str, Any], operation_id: str, answer: Any) -> None:
    """`answer` (a Django test response) is what the schema documents for `operation_id` at its
    status (or at `default`): a JSON body of that shape, or no JSON body where none is documented."""
    responses = operation(schema, operation_id)["responses"]
    status = str(answer.status_code)
    documented = responses.get(status) or responses.get("default")
    assert documented is not None, f"{operation_id} answered {status}, which the schema does not document"
    media_type = answer.get("Content-Type", "").split(";")[0].strip()
    content = documented.get("content", {})
    if media_type != "application/json":
        assert "application/json" not in content, (
            f"{operation_id} {status}: documented JSON, sent {media_type}"
        )
        return
    assert "application/json" in content, f"{operation_id} {status}: sent JSON, documented {sorted(content)}"
    body_schema = {
        **as_json_schema(content["application/json"]["schema"]),
        "components": as_json_schema(schema["components"]),
    }
    validator = jsonschema.Draft202012Validator(
        body_schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    # Each problem in one line (where, what), not jsonschema's dump of every component.
    problems = [
        f"at {'/'.join(map(str, error.absolute_path)) or 'the top'}: {error.message[:300]}"
        for error in validator.iter_errors(json.loads(answer.content))
    ]
    assert not problems, f"{operation_id} {status} is not what the schema documents:\n" + "\n".join(problems)
