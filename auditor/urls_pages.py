"""Audit pages (staff sign-in), included at /audit/ under the namespace "audit"."""

from django.urls import path

from auditor import views

app_name = "audit"
urlpatterns = [
    path("", views.ledger, name="ledger"),
    path("exports/", views.export_create, name="export-create"),
    path("exports/<uuid:export_id>/", views.export_detail, name="export"),
]
