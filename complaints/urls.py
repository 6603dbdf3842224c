"""Complaint API routes under /api/v1/ (staff session authentication, CSRF on writes)."""

from django.urls import path

from complaints import api, playback_views

urlpatterns = [
    path("session-search", api.SessionSearchView.as_view(), name="session-search"),
    path("cases", api.CaseListView.as_view(), name="cases"),
    path("cases/<str:case_id>", api.CaseDetailView.as_view(), name="case"),
    path("cases/<str:case_id>/sessions", api.CaseSessionsView.as_view(), name="case-sessions"),
    path(
        "cases/<str:case_id>/access-requests",
        api.CaseAccessRequestView.as_view(),
        name="case-access-requests",
    ),
    path("cases/<str:case_id>/close", api.CaseCloseView.as_view(), name="case-close"),
    path(
        "cases/<str:case_id>/recordings/<str:recording_id>/stream",
        playback_views.RecordingStreamView.as_view(),
        name="recording-stream",
    ),
    path("access-requests", api.PendingRequestsView.as_view(), name="access-requests"),
    path(
        "access-requests/<str:request_id>/approve", api.ApproveView.as_view(), name="access-request-approve"
    ),
    path("access-requests/<str:request_id>/reject", api.RejectView.as_view(), name="access-request-reject"),
]
