"""Data-subject request API routes under /api/v1/."""

from django.urls import path

from privacy import api

urlpatterns = [
    path("subject-requests/access-report", api.AccessReportView.as_view(), name="subject-access-report"),
    path("subject-requests/erasure", api.ErasureView.as_view(), name="subject-erasure"),
]
