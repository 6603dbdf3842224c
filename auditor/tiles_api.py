"""The ledger as a transparency log serves it, read-only: the latest signed head as a C2SP
checkpoint, the hash tiles of its tree at tlog-tiles' paths, and RFC 9162 proofs between signed
heads. For auditors (session sign-in, as the rest of the audit API) and for monitors holding
`LEDGER_READ_TOKEN` (Authorization: Bearer). Tiles are immutable, so they are cacheable for good;
the checkpoint for a few seconds. Entries themselves are not served here: only hashes.
"""

from __future__ import annotations

import hmac
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http import HttpResponse
from django.utils.translation import gettext
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import authentication, exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from audit import selectors
from audit.tiles import MAX_LEVEL, TILE_WIDTH, parse_tile_index
from core.errors import NotFound
from core.schema import ERROR
from staff.authorisation import StaffAPIView, StaffSessionAuthentication
from staff.roles import AUDITOR

MONITOR = "ledger-monitor"  # request.auth of a caller holding LEDGER_READ_TOKEN
TILE_CACHE = "private, max-age=31536000, immutable"
CHECKPOINT_CACHE = "private, max-age=5"


class LedgerReadTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <LEDGER_READ_TOKEN>`; any other Authorization header is refused."""

    def authenticate(self, request: Request) -> tuple[AnonymousUser, str] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        expected = settings.LEDGER_READ_TOKEN
        if scheme.lower() == "bearer" and expected and hmac.compare_digest(token.strip(), expected):
            return AnonymousUser(), MONITOR
        raise exceptions.AuthenticationFailed(gettext("The ledger read token is not valid."))

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="ledger"'


class LedgerReadTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "auditor.tiles_api.LedgerReadTokenAuthentication"
    name = "ledgerReadToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "LEDGER_READ_TOKEN: reads the checkpoint, tiles and proofs, for monitoring.",
        }


class LogView(StaffAPIView):
    """Auditors, or the holder of the read token (a monitor, not a member of staff)."""

    # The read token first: with an Authorization header, no session is looked at.
    authentication_classes = [LedgerReadTokenAuthentication, StaffSessionAuthentication]
    serves = (AUDITOR,)
    serves_token = MONITOR


class CheckpointView(LogView):
    @extend_schema(
        operation_id="ledger_checkpoint",
        summary="The latest signed tree head as a C2SP checkpoint (signed note, Ed25519)",
        description=(
            "text/plain: origin, tree size, base64 root hash, an empty line and the signature line "
            "(C2SP tlog-checkpoint and signed-note). The verifier key is at /api/v1/audit/public-key."
        ),
        responses={
            (200, "text/plain"): OpenApiResponse(OpenApiTypes.STR),
            401: ERROR,
            403: ERROR,
            404: ERROR,
        },
    )
    def get(self, request: Request) -> HttpResponse:
        head = selectors.latest_head()
        if head is None:
            raise NotFound(gettext("No tree head has been signed yet."), code="no_head")
        response = HttpResponse(selectors.signed_checkpoint(head), content_type="text/plain; charset=utf-8")
        response["Cache-Control"] = CHECKPOINT_CACHE
        return response


class TileView(LogView):
    @extend_schema(
        operation_id="ledger_tile",
        summary="A hash tile of the signed tree (C2SP tlog-tiles): tile/<L>/<N>[.p/<W>]",
        description="Up to 256 hashes of 32 bytes; only tiles within the latest signed head's tree.",
        responses={
            (200, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY),
            401: ERROR,
            403: ERROR,
            404: ERROR,
        },
    )
    def get(self, request: Request, level: str, index: str, width: str | None = None) -> HttpResponse:
        try:
            tile_level, tile_index = int(level), parse_tile_index(index)
        except ValueError:
            raise NotFound(gettext("No such tile."), code="no_tile") from None
        tile_width = TILE_WIDTH if width is None else int(width)
        if not (0 <= tile_level <= MAX_LEVEL and 0 < tile_width <= TILE_WIDTH) or width == str(TILE_WIDTH):
            raise NotFound(gettext("No such tile."), code="no_tile")
        data = selectors.served_tile(level=tile_level, index=tile_index, width=tile_width)
        if data is None:
            raise NotFound(gettext("The signed tree holds no such tile yet."), code="no_tile")
        response = HttpResponse(data, content_type="application/octet-stream")
        response["Cache-Control"] = TILE_CACHE
        return response


SIZE_LIMIT = 2**63 - 1  # a bigint: larger values would reach the database and overflow there


class InclusionIn(serializers.Serializer):  # type: ignore[type-arg]
    seq = serializers.IntegerField(min_value=1, max_value=SIZE_LIMIT)
    tree_size = serializers.IntegerField(
        min_value=1, max_value=SIZE_LIMIT, required=False, help_text="a signed head's size"
    )


class ConsistencyIn(serializers.Serializer):  # type: ignore[type-arg]
    first = serializers.IntegerField(
        min_value=0, max_value=SIZE_LIMIT, help_text="an earlier signed head's size"
    )
    second = serializers.IntegerField(
        min_value=0, max_value=SIZE_LIMIT, required=False, help_text="default: the latest"
    )


def _query(serializer: type[serializers.Serializer], request: Request) -> dict[str, Any]:  # type: ignore[type-arg]
    incoming = serializer(data=request.query_params)
    incoming.is_valid(raise_exception=True)
    return dict(incoming.validated_data)


class InclusionProofView(LogView):
    @extend_schema(
        operation_id="ledger_inclusion_proof",
        summary="RFC 9162 inclusion proof of entry `seq` in a signed tree (default: the latest)",
        parameters=[InclusionIn],
        responses={
            200: inline_serializer(
                "LedgerInclusionProof",
                {
                    "seq": serializers.IntegerField(),
                    "leaf_index": serializers.IntegerField(),
                    "tree_size": serializers.IntegerField(),
                    "leaf_hash": serializers.CharField(help_text="hex"),
                    "inclusion_proof": serializers.ListField(child=serializers.CharField()),
                },
            ),
            400: ERROR,
            401: ERROR,
            403: ERROR,
            404: ERROR,
        },
    )
    def get(self, request: Request) -> Response:
        query = _query(InclusionIn, request)
        size = selectors.signed_size(query.get("tree_size"))
        leaf, proof = selectors.inclusion_proof(seq=query["seq"], tree_size=size)
        return Response(
            {
                "seq": query["seq"],
                "leaf_index": query["seq"] - 1,
                "tree_size": size,
                "leaf_hash": leaf.hex(),
                "inclusion_proof": [p.hex() for p in proof],
            }
        )


class ConsistencyProofView(LogView):
    @extend_schema(
        operation_id="ledger_consistency_proof",
        summary="RFC 9162 consistency proof between two signed trees",
        parameters=[ConsistencyIn],
        responses={
            200: inline_serializer(
                "LedgerConsistencyProof",
                {
                    "first": serializers.IntegerField(),
                    "second": serializers.IntegerField(),
                    "consistency_proof": serializers.ListField(child=serializers.CharField()),
                },
            ),
            400: ERROR,
            401: ERROR,
            403: ERROR,
            404: ERROR,
        },
    )
    def get(self, request: Request) -> Response:
        query = _query(ConsistencyIn, request)
        second = selectors.signed_size(query.get("second"))
        first = query["first"] if query["first"] == 0 else selectors.signed_size(query["first"])
        proof = selectors.consistency_proof(first=first, second=second)
        return Response({"first": first, "second": second, "consistency_proof": [p.hex() for p in proof]})
