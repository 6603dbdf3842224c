"""Complaint API routes under /api/v1/ (staff session authentication, CSRF on writes)."""

from django.urls import path

from complaints.api import cases, stream

urlpatterns = [
    path("session-search", cases.SessionSearchView.as_view(), name="session-search"),
    path("cases", cases.CaseListView.as_view(), name="cases"),
    path("cases/<str:case_id>", cases.CaseDetailView.as_view(), name="case"),
    path("cases/<str:case_id>/sessions", cases.CaseSessionsView.as_view(), name="case-sessions"),
    path(
        "cases/<str:case_id>/access-requests",
        cases.CaseAccessRequestView.as_view(),
        name="case-access-requests",
    ),
    path("cases/<str:case_id>/close", cases.CaseCloseView.as_view(), name="case-close"),
    path(
        "cases/<str:case_id>/recordings/<str:recording_id>/stream",
        stream.RecordingStreamView.as_view(),
        name="recording-stream",
    ),
    path("access-requests", cases.PendingRequestsView.as_view(), name="access-requests"),
    path(
        "access-requests/<str:request_id>/approve", cases.ApproveView.as_view(), name="access-request-approve"
    ),
    path("access-requests/<str:request_id>/reject", cases.RejectView.as_view(), name="access-request-reject"),
]
