"""OpenAPI: what every operation of the API shares, added to drf-spectacular's schema."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import inline_serializer
from rest_framework import serializers

# Every error's body (core.errors), for the views' `responses`; published as the Error component.
ERROR = inline_serializer("Error", {"error": serializers.CharField(), "detail": serializers.CharField()})
ERROR_COMPONENT = "#/components/schemas/Error"


def document_every_other_error(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Postprocessing hook: each operation lists the errors it means to give, but any status leaves
    as `{"error", "detail"}` (core.errors), e.g. 405 for another method, 415 for a form body, 503
    while the database is away. The `default` response says so for every status not listed."""
    assert "Error" in result["components"]["schemas"], "the views no longer publish the Error body"
    for path_item in result["paths"].values():
        for operation in path_item.values():
            operation["responses"].setdefault(
                "default",
                {
                    "description": "Any other error: a stable code and a sentence",
                    "content": {"application/json": {"schema": {"$ref": ERROR_COMPONENT}}},
                },
            )
    return result
