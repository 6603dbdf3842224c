"""The API's list pages: limit/offset, and how the OpenAPI schema describes them.

The list endpoints are APIViews that page by hand; they name their paginator in `pagination_class`
(as DRF's generic views do) because that is where drf-spectacular looks for the page envelope and
the `limit`/`offset` parameters. One class for both, so the schema cannot drift from the answers.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework import pagination, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


class LimitOffsetPages(pagination.LimitOffsetPagination):
    """DRF's limit/offset pages, `PAGE_SIZE` results by default, at most `max_limit`. A `limit` that
    is not a whole number of 1 or more, or an `offset` that is not one of 0 or more, is not refused:
    the default is used instead (DRF's behaviour), which the parameters' descriptions say."""

    # A larger limit gives this many (DRF clamps). Without a bound, a limit of 2**63 or more reached
    # the database and answered 500 (SQLite and PostgreSQL integers are 64-bit), and any limit
    # asked for a whole table in one answer.
    max_limit = 1000

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": self.limit_query_param,
                "required": False,
                "in": "query",
                "description": f"How many results to return, at most {self.max_limit} (a larger limit "
                f"gives {self.max_limit}); {self.default_limit} when absent or not a whole number of 1 "
                "or more.",
                "schema": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": self.max_limit,
                    "default": self.default_limit,
                },
            },
            {
                "name": self.offset_query_param,
                "required": False,
                "in": "query",
                "description": "How many results to skip, in the list's order; 0 when absent or not "
                "a whole number of 0 or more.",
                "schema": {"type": "integer", "minimum": 0, "default": 0},
            },
        ]

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        """DRF's envelope, with `next` and `previous` required too: every answer carries both
        (null on the last and the first page)."""
        envelope = super().get_paginated_response_schema(schema)
        envelope["required"] = ["count", "next", "previous", "results"]
        return envelope


# An APIView whose GET answers one page of a list. Its `extend_schema` names the item serializer
# with `many=True`; drf-spectacular then documents the envelope and the parameters. (A comment, not
# a docstring: drf-spectacular would publish an inherited docstring as every operation's description.)
class PagedListView(APIView):
    pagination_class: type[LimitOffsetPages] = LimitOffsetPages

    def page(
        self, request: Request, items: QuerySet[Any], serializer_class: type[serializers.BaseSerializer[Any]]
    ) -> Response:
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(items, request, view=self)
        return paginator.get_paginated_response(serializer_class(page, many=True).data)
