"""Complaint API for staff (`/api/v1/cases...`, `/api/v1/access-requests...`, session search).

Staff sign in with Django sessions; unsafe methods need the CSRF token. Recorder tokens are
refused here. Handlers parse input, call one service or selector, and render the result.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext, gettext_lazy
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from complaints import access, selectors, services
from complaints.models import AccessGrant, AccessRequest, ComplaintCase
from core.api import validated
from core.schema import ERROR
from recorder.api import SessionOut
from staff.authorisation import StaffAPIView, StaffListView
from staff.roles import APPROVER, OFFICER
from staff.step_up import StepUpRequired, step_up_url, stepped_up

# --- representations --------------------------------------------------------------------------


class UserOut(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    username = serializers.CharField(source="get_username")


class CaseOut(serializers.ModelSerializer):  # type: ignore[type-arg]
    opened_by = UserOut()
    closed_by = UserOut(allow_null=True)
    # Declared: a read-only model field loses allow_blank, and "" is the outcome of an open case.
    outcome = serializers.ChoiceField(
        choices=ComplaintCase.Outcome.choices,
        allow_blank=True,
        read_only=True,
        help_text="blank until closed",
    )

    class Meta:
        model = ComplaintCase
        fields = [
            "id",
            "customer_ref",
            "channel",
            "complaint",
            "received_at",
            "respond_by",
            "status",
            "outcome",
            "summary",
            "opened_by",
            "opened_at",
            "closed_by",
            "closed_at",
        ]
        read_only_fields = fields  # output only: every key is in every answer


class AccessRequestOut(serializers.ModelSerializer):  # type: ignore[type-arg]
    requester = UserOut()
    decided_by = UserOut(allow_null=True)

    class Meta:
        model = AccessRequest
        fields = [
            "id",
            "case",
            "requester",
            "justification",
            "requested_at",
            "status",
            "decided_by",
            "decided_at",
            "reason",
        ]
        read_only_fields = fields  # output only: every key is in every answer


class AccessGrantOut(serializers.ModelSerializer):  # type: ignore[type-arg]
    grantee = UserOut()
    recordings = serializers.PrimaryKeyRelatedField(many=True, read_only=True)  # type: ignore[var-annotated]

    class Meta:
        model = AccessGrant
        fields = ["id", "case", "request", "grantee", "recordings", "starts_at", "ends_at", "revoked_at"]
        read_only_fields = fields  # output only: every key is in every answer


class TombstoneOut(serializers.Serializer):
    purged_at = serializers.DateTimeField(allow_null=True)
    ledger_seq = serializers.IntegerField(allow_null=True, help_text="The recording.purged ledger entry")


class LinkedSessionOut(serializers.Serializer):
    linked_at = serializers.DateTimeField(source="link.linked_at")
    hold = serializers.UUIDField(source="link.hold_id")
    session = SessionOut()
    tombstone = TombstoneOut(allow_null=True)


class LedgerEntryOut(serializers.Serializer):
    seq = serializers.IntegerField()
    recorded_at = serializers.DateTimeField()
    action = serializers.CharField()
    actor_label = serializers.CharField()
    recording_id = serializers.UUIDField(allow_null=True)
    session_id = serializers.UUIDField(allow_null=True)
    details = serializers.JSONField()


class CaseDetailOut(serializers.Serializer):
    case = CaseOut()
    sessions = LinkedSessionOut(many=True)
    access_requests = AccessRequestOut(many=True)
    grants = AccessGrantOut(many=True)
    history = LedgerEntryOut(many=True)


def _detail(case: ComplaintCase) -> dict[str, Any]:
    return dict(
        CaseDetailOut(
            {
                "case": case,
                "sessions": selectors.case_sessions(case=case),
                "access_requests": case.access_requests.select_related("requester", "decided_by"),
                "grants": selectors.grants_for_case(case=case),
                "history": selectors.case_history(case_id=case.id),
            }
        ).data
    )


# --- inputs -----------------------------------------------------------------------------------


class SessionSearchIn(serializers.Serializer):
    customer_ref = serializers.CharField(max_length=200)
    started_from = serializers.DateTimeField(required=False)
    started_until = serializers.DateTimeField(required=False)


class CaseIn(serializers.Serializer):
    customer_ref = serializers.CharField(max_length=200)
    channel = serializers.ChoiceField(choices=ComplaintCase.Channel.choices)
    complaint = serializers.CharField(max_length=10_000)
    session_ids = serializers.ListField(child=serializers.UUIDField(), max_length=100, default=list)
    received_at = serializers.DateTimeField(required=False)
    respond_by = serializers.DateTimeField(required=False)


class LinkIn(serializers.Serializer):
    session_ids = serializers.ListField(child=serializers.UUIDField(), min_length=1, max_length=100)


class JustificationIn(serializers.Serializer):
    justification = serializers.CharField(max_length=5_000)


class DecisionIn(serializers.Serializer):
    reason = serializers.CharField(max_length=5_000)


class CloseIn(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=ComplaintCase.Outcome.choices)
    summary = serializers.CharField(max_length=10_000)


# --- endpoints --------------------------------------------------------------------------------


class SessionSearchView(StaffListView):
    serves = (OFFICER,)

    @extend_schema(
        operation_id="search_sessions",
        parameters=[SessionSearchIn],
        responses={200: SessionOut(many=True), 400: ERROR, 403: ERROR},
        summary="A customer's sessions by reference and start time: metadata and consent timeline only",
    )
    def get(self, request: Request) -> Response:
        query = validated(SessionSearchIn, request.query_params)
        return self.page(request, services.search_sessions(officer=request.user, **query), SessionOut)


class CaseListView(StaffListView):
    serves = (OFFICER, APPROVER)  # opening a case: officers (the service says so)

    @extend_schema(
        operation_id="list_cases",
        responses={200: CaseOut(many=True), 403: ERROR},
        summary="Cases the caller may see: an officer's own, every case for a DPO",
    )
    def get(self, request: Request) -> Response:
        return self.page(request, services.visible_cases(user=request.user), CaseOut)

    @extend_schema(
        operation_id="open_case",
        request=CaseIn,
        responses={201: CaseDetailOut, 400: ERROR, 403: ERROR, 404: ERROR},
        summary="Open a complaint case; each linked session is put under a legal hold",
    )
    def post(self, request: Request) -> Response:
        case = services.open_case(officer=request.user, **validated(CaseIn, request.data))
        return Response(_detail(case), status=201)


class CaseDetailView(StaffAPIView):
    serves = (OFFICER, APPROVER)
    # lazy: read in the caller's language, as access.case_for's own NotFound (staff's annotation
    # says str; a lazy string is one when the response is rendered)
    refused_as_not_found = ("case_not_found", gettext_lazy("No such complaint case."))

    @extend_schema(
        operation_id="get_case",
        responses={200: CaseDetailOut, 403: ERROR, 404: ERROR},
        summary="A case with its sessions (tombstones for purged ones), requests, grants and history",
    )
    def get(self, request: Request, case_id: str) -> Response:
        return Response(_detail(access.case_for(user=request.user, case_id=case_id)))


class CaseSessionsView(StaffAPIView):
    serves = (OFFICER,)

    @extend_schema(
        operation_id="link_sessions",
        request=LinkIn,
        responses={201: CaseDetailOut, 400: ERROR, 403: ERROR, 404: ERROR, 409: ERROR},
        summary="Link more of the customer's sessions to the case (legal hold on each)",
    )
    def post(self, request: Request, case_id: str) -> Response:
        data = validated(LinkIn, request.data)
        services.link_sessions(officer=request.user, case_id=case_id, session_ids=data["session_ids"])
        return Response(_detail(access.case_for(user=request.user, case_id=case_id)), status=201)


class CaseAccessRequestView(StaffAPIView):
    serves = (OFFICER,)

    @extend_schema(
        operation_id="request_access",
        request=JustificationIn,
        responses={201: AccessRequestOut, 400: ERROR, 403: ERROR, 404: ERROR, 409: ERROR},
        summary="Ask a data protection officer for access to the case's recordings",
    )
    def post(self, request: Request, case_id: str) -> Response:
        data = validated(JustificationIn, request.data)
        access_request = services.request_access(officer=request.user, case_id=case_id, **data)
        return Response(AccessRequestOut(access_request).data, status=201)


class CaseCloseView(StaffAPIView):
    serves = (OFFICER,)

    @extend_schema(
        operation_id="close_case",
        request=CloseIn,
        responses={200: CaseOut, 400: ERROR, 403: ERROR, 404: ERROR, 409: ERROR},
        summary="Close with an outcome and summary: grants end, legal holds are released",
    )
    def post(self, request: Request, case_id: str) -> Response:
        data = validated(CloseIn, request.data)
        case = services.close_case(officer=request.user, case_id=case_id, **data)
        return Response(CaseOut(case).data)


class PendingRequestsView(StaffListView):
    serves = (APPROVER,)

    @extend_schema(
        operation_id="list_pending_access_requests",
        responses={200: AccessRequestOut(many=True), 403: ERROR},
        summary="Access requests waiting for a decision (DPOs; never their own)",
    )
    def get(self, request: Request) -> Response:
        return self.page(request, selectors.pending_access_requests(user=request.user), AccessRequestOut)


class ApproveView(StaffAPIView):
    serves = (APPROVER,)

    @extend_schema(
        operation_id="approve_access_request",
        request=DecisionIn,
        responses={201: AccessGrantOut, 400: ERROR, 403: ERROR, 404: ERROR, 409: ERROR},
        summary="Approve (a DPO other than the requester): the requester gets a time-limited grant",
    )
    def post(self, request: Request, request_id: str) -> Response:
        data = validated(DecisionIn, request.data)
        if not stepped_up(request._request):
            raise StepUpRequired(
                gettext("Confirm your password and a current code before approving: %(url)s")
                % {"url": step_up_url("/cases/approvals/")}
            )
        grant = services.approve_access_request(approver=request.user, request_id=request_id, **data)
        return Response(AccessGrantOut(grant).data, status=201)


class RejectView(StaffAPIView):
    serves = (APPROVER,)

    @extend_schema(
        operation_id="reject_access_request",
        request=DecisionIn,
        responses={200: AccessRequestOut, 400: ERROR, 403: ERROR, 404: ERROR, 409: ERROR},
        summary="Reject with a reason (a DPO other than the requester): the case is open again",
    )
    def post(self, request: Request, request_id: str) -> Response:
        data = validated(DecisionIn, request.data)
        decided = services.reject_access_request(approver=request.user, request_id=request_id, **data)
        return Response(AccessRequestOut(decided).data)
