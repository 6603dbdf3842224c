"""Recorder API (`/api/v1/sessions...`): parse input, call one service, render the result."""

from __future__ import annotations

from django.utils.translation import gettext
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import validated
from core.errors import InvalidInput
from core.schema import ERROR
from recorder import ingest, selectors, services
from recorder.authentication import IsRecorderClient, RecorderTokenAuthentication
from recorder.models import RecorderClient, Recording, SessionEvent
from recorder.upload_deadline import DeadlineBody


class ConsentIn(serializers.Serializer):
    granted_at = serializers.DateTimeField()
    view = serializers.BooleanField()
    control = serializers.BooleanField()


class SessionIn(serializers.Serializer):
    external_id = serializers.CharField(max_length=200)
    customer_ref = serializers.CharField(max_length=200)
    agent_ref = serializers.CharField(max_length=200)
    initiated_by = serializers.CharField(max_length=32, help_text='Must be "customer".')
    started_at = serializers.DateTimeField()
    consent = ConsentIn()


class EventIn(serializers.Serializer):
    type = serializers.ChoiceField(choices=SessionEvent.Type.choices)
    at = serializers.DateTimeField()
    view = serializers.BooleanField(required=False, allow_null=True, default=None)
    control = serializers.BooleanField(required=False, allow_null=True, default=None)


class EventOut(serializers.Serializer):
    position = serializers.IntegerField()
    type = serializers.CharField()
    at = serializers.DateTimeField()
    view = serializers.BooleanField()
    control = serializers.BooleanField()


class RecordingOut(serializers.Serializer):
    id = serializers.UUIDField()
    state = serializers.ChoiceField(choices=Recording.State.choices)
    size = serializers.IntegerField(allow_null=True)
    media_type = serializers.CharField()
    received_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    purged_at = serializers.DateTimeField(allow_null=True)


class ConsentOut(serializers.Serializer):
    granted_at = serializers.DateTimeField(source="consent_granted_at")
    view = serializers.BooleanField(source="consent_view")
    control = serializers.BooleanField(source="consent_control")


class SessionOut(serializers.Serializer):
    id = serializers.UUIDField()
    external_id = serializers.CharField()
    customer_ref = serializers.CharField(allow_null=True)
    agent_ref = serializers.CharField(allow_null=True)
    initiated_by = serializers.CharField()
    started_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField(allow_null=True)
    registered_at = serializers.DateTimeField()
    consent = ConsentOut(source="*")
    events = EventOut(many=True)
    recording = RecordingOut(allow_null=True)


class RecorderView(APIView):
    authentication_classes = [RecorderTokenAuthentication]
    permission_classes = [IsRecorderClient]

    def client(self, request: Request) -> RecorderClient:
        assert isinstance(request.user, RecorderClient)
        return request.user


class SessionListView(RecorderView):
    @extend_schema(
        operation_id="register_session",
        request=SessionIn,
        responses={201: SessionOut, 400: ERROR, 401: ERROR, 409: ERROR},
        summary="Register a customer-initiated session with its prior consent",
    )
    def post(self, request: Request) -> Response:
        data = validated(SessionIn, request.data)
        consent = data.pop("consent")
        session = services.register_session(
            client=self.client(request),
            consent_granted_at=consent["granted_at"],
            consent_view=consent["view"],
            consent_control=consent["control"],
            **data,
        )
        return Response(SessionOut(selectors.session_detail(session_id=session.id)).data, status=201)


class SessionDetailView(RecorderView):
    @extend_schema(
        operation_id="get_session",
        responses={200: SessionOut, 401: ERROR, 404: ERROR},
        summary="Session metadata, consent timeline and recording state (never content)",
    )
    def get(self, request: Request, session_id: str) -> Response:
        session = services.session_for_client(client=self.client(request), session_id=session_id)
        return Response(SessionOut(selectors.session_detail(session_id=session.id)).data)


class SessionEventView(RecorderView):
    @extend_schema(
        operation_id="report_session_event",
        request=EventIn,
        responses={201: EventOut, 400: ERROR, 401: ERROR, 404: ERROR, 409: ERROR},
        summary="Report a change of rights: scope_changed, interrupted, resumed or ended",
    )
    def post(self, request: Request, session_id: str) -> Response:
        data = validated(EventIn, request.data)
        event = services.append_session_event(client=self.client(request), session_id=session_id, **data)
        return Response(EventOut(event).data, status=201)


class RecordingView(RecorderView):
    @extend_schema(
        operation_id="upload_recording",
        request={"*/*": OpenApiTypes.BINARY},
        parameters=[
            OpenApiParameter("Content-Length", OpenApiTypes.INT, OpenApiParameter.HEADER, required=True),
            OpenApiParameter(
                "Content-Digest",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                description="RFC 9530, e.g. sha-256=:<base64>: (checked when given)",
            ),
        ],
        responses={
            201: RecordingOut,
            200: OpenApiResponse(RecordingOut, description="The same bytes were already ingested"),
            400: ERROR,
            401: ERROR,
            404: ERROR,
            409: ERROR,
            408: ERROR,
            411: ERROR,
            413: ERROR,
            503: ERROR,
        },
        summary="Upload the session's recording as the raw body; it is sealed and locked on arrival",
    )
    def put(self, request: Request, session_id: str) -> Response:
        length = _content_length(request)
        # The raw Django request: reading it streams the socket; nothing is parsed or spooled.
        # Read under a deadline, so a client trickling bytes cannot hold the thread (408).
        with DeadlineBody(request._request, request.META.get("gunicorn.socket"), length) as body:
            result = ingest.ingest_recording(
                client=self.client(request),
                session_id=session_id,
                body=body,
                content_length=length,
                media_type=request.META.get("CONTENT_TYPE", ""),
                content_digest=request.META.get("HTTP_CONTENT_DIGEST"),
            )
        code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
        return Response(RecordingOut(result.recording).data, status=code)


def _content_length(request: Request) -> int | None:
    raw = request.META.get("CONTENT_LENGTH")
    if raw in (None, ""):
        return None
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(
            gettext("Content-Length must be a whole number."), code="bad_content_length"
        ) from None
    if value < 0:
        raise InvalidInput(gettext("Content-Length must not be negative."), code="bad_content_length")
    return value
