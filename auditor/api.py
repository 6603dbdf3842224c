"""Audit API: the public key, the latest signed tree head, and auditors' exports.

The public key needs no sign-in: it only verifies signatures, and a regulator checking an export
must be able to fetch it (and compare it with a copy obtained out of band) without an account.
Everything else needs a signed-in staff member holding `audit.view_ledgerentry` (auditors).
"""

from __future__ import annotations

import base64
import logging

from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import authentication, permissions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audit import export_format, exports, keys, signing
from audit.exports import ExportFilters
from audit.models import LedgerExport
from audit.selectors import latest_head
from audit.services import create_export
from core.errors import DomainError, NotFound
from core.schema import ERROR
from staff.authorisation import StaffAPIView
from staff.roles import AUDITOR

logger = logging.getLogger(__name__)


HEAD = inline_serializer(
    "SignedTreeHead",
    {
        "tree_size": serializers.IntegerField(help_text="entries seq 1..tree_size"),
        "root_hash": serializers.CharField(help_text="hex MTH (RFC 9162) of those entries' leaf hashes"),
        "timestamp": serializers.IntegerField(help_text="signed time, ms since the Unix epoch"),
        "key_id": serializers.CharField(help_text="hex SHA-256 of the raw Ed25519 public key"),
        "signature": serializers.CharField(help_text="base64 Ed25519 signature; signed bytes in README"),
    },
)


class PublicKeyView(APIView):
    authentication_classes: list[type[authentication.BaseAuthentication]] = []
    permission_classes = [permissions.AllowAny]

    @extend_schema(
        operation_id="ledger_public_key",
        summary="The Ed25519 public key that signs tree heads and export manifests",
        responses={
            200: inline_serializer(
                "LedgerPublicKey",
                {
                    "algorithm": serializers.CharField(),
                    "key_id": serializers.CharField(),
                    "public_key": serializers.CharField(help_text="base64 of the raw 32 bytes"),
                    "public_key_pem": serializers.CharField(help_text="SubjectPublicKeyInfo PEM"),
                },
            ),
            503: OpenApiResponse(ERROR, description="This node's signing key is missing or unreadable"),
        },
    )
    def get(self, request: Request) -> Response:
        try:
            key = keys.public_key()
        except keys.SigningKeyError as error:
            logger.error("ledger public key unavailable: %s", error)  # the path stays in the log
            raise DomainError(
                gettext("The ledger's signing key is not available on this node."),
                code="signing_key_unavailable",
                status_code=503,
            ) from None
        return Response(
            {
                "algorithm": "Ed25519",
                "key_id": signing.key_id(key),
                "public_key": base64.b64encode(signing.raw_public_key(key)).decode(),
                "public_key_pem": signing.public_key_pem(key),
            }
        )


class HeadView(StaffAPIView):
    serves = (AUDITOR,)

    @extend_schema(
        operation_id="ledger_head",
        summary="The latest signed tree head of the ledger",
        responses={200: HEAD, 403: ERROR, 404: ERROR},
    )
    def get(self, request: Request) -> Response:
        head = latest_head()
        if head is None:
            raise NotFound(gettext("No tree head has been signed yet."), code="no_head")
        return Response(head.as_signed().as_json())


class ExportIn(serializers.Serializer):  # type: ignore[type-arg]
    since = serializers.DateTimeField(required=False, help_text="entries recorded at or after")
    until = serializers.DateTimeField(required=False, help_text="entries recorded before")
    case_id = serializers.UUIDField(required=False)
    actor = serializers.CharField(required=False, max_length=150, help_text="username, job or client name")
    action = serializers.CharField(required=False, max_length=64, help_text="e.g. recording.played")
    recording_id = serializers.UUIDField(required=False)
    account = serializers.CharField(
        required=False,
        max_length=150,
        help_text="changes of the staff account with this user name, or * for every account",
    )
    since_head = serializers.IntegerField(
        required=False,
        min_value=0,
        help_text="prove consistency from the signed head of this many entries (an earlier export's head)",
    )

    def validate(self, attrs: dict[str, object]) -> dict[str, object]:
        problem = exports.period_problem(attrs.get("since"), attrs.get("until"))  # type: ignore[arg-type]
        if problem:
            raise serializers.ValidationError(problem)
        return attrs


EXPORT_FILTERS = inline_serializer(
    "LedgerExportFilters",
    {
        "since": serializers.DateTimeField(allow_null=True),
        "until": serializers.DateTimeField(allow_null=True),
        "case_id": serializers.UUIDField(allow_null=True),
        "actor": serializers.CharField(allow_null=True),
        "action": serializers.CharField(allow_null=True),
        "recording_id": serializers.UUIDField(allow_null=True),
        "account": serializers.CharField(allow_null=True),
    },
)

FILE_DIGEST = inline_serializer(
    "LedgerExportFileDigest",
    {"sha256": serializers.CharField(help_text="hex"), "bytes": serializers.IntegerField()},
)

EXPORT_OUT = inline_serializer(
    "LedgerExport",
    {
        "id": serializers.UUIDField(),
        "count": serializers.IntegerField(),
        "filters": EXPORT_FILTERS,
        "head": HEAD,
        "files": serializers.DictField(
            child=FILE_DIGEST, help_text="by file name: entries.jsonl, entries.csv"
        ),
        "links": serializers.DictField(child=serializers.CharField()),
    },
)


def _export_json(request: Request, export: LedgerExport) -> dict[str, object]:
    def file_url(name: str) -> str:
        return request.build_absolute_uri(
            reverse("audit-export-file", kwargs={"export_id": export.id, "name": name})
        )

    return {
        "id": str(export.id),
        "count": int(export.entry_count),
        "filters": {"account": None, **export.filters},  # exports made before that filter lack it
        "head": export.head.as_signed().as_json(),
        "files": {name: export.files[name] for name in exports.GENERATORS},
        "links": {
            "jsonl": file_url(export_format.JSONL_NAME),
            "csv": file_url(export_format.CSV_NAME),
            "manifest": request.build_absolute_uri(
                reverse("audit-export-manifest", kwargs={"export_id": export.id})
            ),
        },
    }


class ExportListView(StaffAPIView):
    serves = (AUDITOR,)

    @extend_schema(
        operation_id="create_ledger_export",
        summary="Export ledger entries (filters), proven against a new signed head",
        description=(
            "Writes `ledger.exported` first, signs a head covering it, and returns links to "
            "entries.jsonl (each entry with its inclusion proof), entries.csv and the signed manifest. "
            "Verify offline with `python -m audit.verify entries.jsonl manifest.json public-key.pem`."
        ),
        request=ExportIn,
        responses={201: EXPORT_OUT, 400: ERROR, 403: ERROR},
    )
    def post(self, request: Request) -> Response:
        incoming = ExportIn(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = dict(incoming.validated_data)
        since_head = data.pop("since_head", None)
        export = create_export(user=request.user, filters=ExportFilters(**data), since_head=since_head)
        return Response(_export_json(request, export), status=status.HTTP_201_CREATED)


class ExportDetailView(StaffAPIView):
    serves = (AUDITOR,)

    @extend_schema(operation_id="ledger_export", responses={200: EXPORT_OUT, 403: ERROR, 404: ERROR})
    def get(self, request: Request, export_id: str) -> Response:
        return Response(_export_json(request, get_object_or_404(LedgerExport, id=export_id)))


class ManifestView(StaffAPIView):
    serves = (AUDITOR,)

    @extend_schema(
        operation_id="ledger_export_manifest",
        summary="The export's signed manifest: filters, count, heads, consistency proof, file digests",
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT), 403: ERROR, 404: ERROR},
    )
    def get(self, request: Request, export_id: str) -> Response:
        export = get_object_or_404(LedgerExport.objects.select_related("head", "previous_head"), id=export_id)
        response = Response(exports.manifest(export))
        response["Content-Disposition"] = f'attachment; filename="ledger-{export.id}-manifest.json"'
        response["Cache-Control"] = "no-store"
        return response


class ExportFileView(StaffAPIView):
    serves = (AUDITOR,)
    media_types = {export_format.JSONL_NAME: "application/x-ndjson", export_format.CSV_NAME: "text/csv"}

    @extend_schema(
        operation_id="ledger_export_file",
        summary="entries.jsonl or entries.csv of an export, streamed",
        responses={
            (200, "application/x-ndjson"): OpenApiResponse(OpenApiTypes.BINARY),
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY),
            403: ERROR,
            404: ERROR,
            500: ERROR,
        },
    )
    def get(self, request: Request, export_id: str, name: str) -> StreamingHttpResponse:
        export = get_object_or_404(LedgerExport.objects.select_related("head"), id=export_id)
        tree = exports.proven_tree(export)  # before the first byte: refuse an altered ledger
        filters = ExportFilters.from_json(export.filters)
        response = StreamingHttpResponse(
            exports.GENERATORS[name](filters, tree), content_type=f"{self.media_types[name]}; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="ledger-{export.id}-{name}"'
        response["Cache-Control"] = "no-store"
        return response


class ExportTextsView(StaffAPIView):
    serves = (AUDITOR,)

    @extend_schema(
        operation_id="ledger_export_texts",
        summary="The free texts the export's entries commit to, with their keys; or when and why each went",
        description=(
            "Each text is kept with its case, not in the ledger; an entry carries `text_hmac`, "
            "HMAC-SHA256 under the case's key. While the text exists it is given with the key "
            "(check it: HMAC-SHA256(key, UTF-8 text) equals the entry's `text_hmac`) and `matches` "
            "says the vault checked it; after the case's redaction, `text` and `key` are null and "
            "`redacted_at` and `redaction_reason` say when and why. Not signed: it changes on "
            "redaction, while the entries the manifest signs never do."
        ),
        responses={
            200: inline_serializer(
                "ExportTexts",
                {
                    "export": serializers.UUIDField(),
                    "texts": inline_serializer(
                        "CommittedText",
                        {
                            "seq": serializers.IntegerField(),
                            "where": serializers.CharField(),
                            "text": serializers.CharField(allow_null=True),
                            "key": serializers.CharField(allow_null=True),
                            "matches": serializers.BooleanField(allow_null=True),
                            "redacted_at": serializers.DateTimeField(allow_null=True),
                            "redaction_reason": serializers.CharField(allow_null=True),
                        },
                        many=True,
                    ),
                },
            ),
            403: ERROR,
            404: ERROR,
        },
    )
    def get(self, request: Request, export_id: str) -> Response:
        export = get_object_or_404(LedgerExport.objects.select_related("head"), id=export_id)
        response = Response({"export": str(export.id), "texts": exports.committed_texts(export)})
        response["Content-Disposition"] = f'attachment; filename="ledger-{export.id}-texts.json"'
        response["Cache-Control"] = "no-store"
        return response
