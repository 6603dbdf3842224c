"""Data-subject request pages (DPOs), included at /privacy/ under the namespace "privacy"."""

from django.urls import path

from privacy import views

app_name = "privacy"
urlpatterns = [
    path("", views.subject_requests, name="subject-requests"),
    path("access-report.json", views.access_report_download, name="access-report-download"),
    path("erasure/", views.erasure, name="erasure"),
]
