"""Data-subject requests on the API, for data protection officers (`/api/v1/subject-requests/...`).

Thin: parse, call one `privacy.services` action (role check, ledger), render. Both are POSTs:
the customer reference travels in the body, never in a URL that logs and proxies keep.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import validated
from core.schema import ERROR
from privacy import services
from staff.authorisation import StaffAPIView
from staff.roles import APPROVER


class SubjectIn(serializers.Serializer):
    customer_ref = serializers.CharField(
        max_length=200, help_text="the customer's reference, as they give it"
    )


class ErasureIn(SubjectIn):
    ground = serializers.ChoiceField(choices=list(services.ERASURE_GROUNDS.items()), help_text="Art. 17(1)")


class SubjectConsentOut(serializers.Serializer):
    granted_at = serializers.DateTimeField()
    view = serializers.BooleanField()
    control = serializers.BooleanField()


class SubjectRightsChangeOut(serializers.Serializer):
    type = serializers.CharField()
    at = serializers.DateTimeField()
    view = serializers.BooleanField()
    control = serializers.BooleanField()


class SubjectRecordingOut(serializers.Serializer):
    id = serializers.UUIDField()
    state = serializers.CharField()
    size = serializers.IntegerField(allow_null=True, help_text="plaintext bytes")
    received_at = serializers.DateTimeField(allow_null=True)
    deleted_at = serializers.DateTimeField(allow_null=True, help_text="when its key was destroyed")
    deletes_at = serializers.DateTimeField(allow_null=True, help_text="when it will be, unless held")


class SubjectHoldOut(serializers.Serializer):
    case_id = serializers.UUIDField(allow_null=True)
    placed_at = serializers.DateTimeField()
    released_at = serializers.DateTimeField(allow_null=True)


class SubjectSessionOut(serializers.Serializer):
    id = serializers.UUIDField()
    started_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField(allow_null=True)
    registered_at = serializers.DateTimeField()
    initiated_by = serializers.CharField()
    consent = SubjectConsentOut()
    timeline = SubjectRightsChangeOut(many=True)
    agent_ref = serializers.CharField(allow_null=True, help_text="only where the data map shows it")
    pseudonymised = serializers.BooleanField()
    recorded = serializers.BooleanField()
    recording = SubjectRecordingOut(allow_null=True)
    session_data_ends_at = serializers.DateTimeField(allow_null=True)
    legal_holds = SubjectHoldOut(many=True)


class SubjectCaseOut(serializers.Serializer):
    id = serializers.UUIDField()
    channel = serializers.CharField()
    received_at = serializers.DateTimeField()
    opened_at = serializers.DateTimeField()
    status = serializers.CharField()
    outcome = serializers.CharField(allow_blank=True)
    closed_at = serializers.DateTimeField(allow_null=True)
    complaint = serializers.CharField(allow_null=True, help_text="null once redacted")
    redacted_at = serializers.DateTimeField(allow_null=True)
    texts_end_at = serializers.DateTimeField(allow_null=True)


class SubjectRangeOut(serializers.Serializer):
    start = serializers.IntegerField()
    end = serializers.IntegerField()
    # DRF's metaclass takes declared fields off the class, so this shadows no serializer attribute.
    partial = serializers.BooleanField()  # type: ignore[assignment]


class SubjectAccessOut(serializers.Serializer):
    at = serializers.DateTimeField()
    role = serializers.CharField(help_text="the role that played it; never a name")
    case_id = serializers.UUIDField(allow_null=True)
    recording_id = serializers.UUIDField()
    range = SubjectRangeOut(allow_null=True)


class AccessReportOut(serializers.Serializer):
    customer_ref_hash = serializers.CharField()
    generated_at = serializers.DateTimeField()
    recording_retention = serializers.CharField()
    case_retention = serializers.CharField()
    sessions = SubjectSessionOut(many=True)
    cases = SubjectCaseOut(many=True)
    accesses = SubjectAccessOut(many=True)


class ErasureOut(serializers.Serializer):
    customer_ref_hash = serializers.CharField()
    ground = serializers.CharField()
    sessions = serializers.IntegerField()
    shredded = serializers.IntegerField()
    purged = serializers.IntegerField()
    pseudonymised = serializers.IntegerField()
    failed = serializers.IntegerField(help_text="payloads the store has yet to delete (keys gone already)")
    errors = serializers.ListField(child=serializers.CharField())  # type: ignore[assignment]  # as `partial`


class AccessReportView(StaffAPIView):
    serves = (APPROVER,)

    @extend_schema(
        operation_id="subject_access_report",
        request=SubjectIn,
        responses={200: AccessReportOut, 400: ERROR, 403: ERROR},
        summary="Art. 15: what the vault holds about a customer (on record, by keyed hash)",
    )
    def post(self, request: Request) -> Response:
        data = validated(SubjectIn, request.data)
        report = services.report_access(dpo=request.user, customer_ref=data["customer_ref"])
        return Response(AccessReportOut(report).data)


class ErasureView(StaffAPIView):
    serves = (APPROVER,)

    @extend_schema(
        operation_id="subject_erasure",
        request=ErasureIn,
        responses={200: ErasureOut, 400: ERROR, 403: ERROR, 409: ERROR},
        summary="Art. 17: delete a customer's recordings and session data now (409 legal_hold while held)",
    )
    def post(self, request: Request) -> Response:
        data = validated(ErasureIn, request.data)
        erased = services.erase_subject(
            dpo=request.user, customer_ref=data["customer_ref"], ground=data["ground"]
        )
        return Response(ErasureOut(erased).data)
