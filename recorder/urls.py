"""Recorder API routes (token-authenticated)."""

from django.urls import path

from recorder import api

urlpatterns = [
    path("sessions", api.SessionListView.as_view(), name="sessions"),
    path("sessions/<uuid:session_id>", api.SessionDetailView.as_view(), name="session"),
    path("sessions/<uuid:session_id>/events", api.SessionEventView.as_view(), name="session-events"),
    path("sessions/<uuid:session_id>/recording", api.RecordingView.as_view(), name="session-recording"),
]
