"""Audit API routes: the public key (open), the head and exports (auditors, session sign-in)."""

from django.urls import path, re_path

from auditor import api

urlpatterns = [
    path("audit/public-key", api.PublicKeyView.as_view(), name="audit-public-key"),
    path("audit/head", api.HeadView.as_view(), name="audit-head"),
    path("audit/exports", api.ExportListView.as_view(), name="audit-exports"),
    path("audit/exports/<uuid:export_id>", api.ExportDetailView.as_view(), name="audit-export"),
    path(
        "audit/exports/<uuid:export_id>/manifest.json",
        api.ManifestView.as_view(),
        name="audit-export-manifest",
    ),
    re_path(
        # Django's own uuid converter pattern: 36 hex digits and dashes in any order would reach the
        # database lookup as a non-UUID (a 500 the fuzzer found).
        r"^audit/exports/(?P<export_id>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/"
        r"(?P<name>entries\.jsonl|entries\.csv)$",
        api.ExportFileView.as_view(),
        name="audit-export-file",
    ),
]
