"""Audit API routes: the public key (open), the head and exports (auditors, session sign-in), the
checkpoint, tiles and proofs (auditors, or the ledger read token)."""

from django.urls import path, re_path

from auditor import api, tiles_api

urlpatterns = [
    path("audit/public-key", api.PublicKeyView.as_view(), name="audit-public-key"),
    path("audit/head", api.HeadView.as_view(), name="audit-head"),
    path("audit/checkpoint", tiles_api.CheckpointView.as_view(), name="audit-checkpoint"),
    re_path(
        # C2SP tlog-tiles: tile/<L>/<N>[.p/<W>], N in x-prefixed groups of three digits.
        r"^audit/tile/(?P<level>[0-9]{1,2})/(?P<index>(?:x[0-9]{3}/)*[0-9]{3})(?:\.p/(?P<width>[0-9]{1,3}))?$",
        tiles_api.TileView.as_view(),
        name="audit-tile",
    ),
    path("audit/proofs/inclusion", tiles_api.InclusionProofView.as_view(), name="audit-inclusion-proof"),
    path(
        "audit/proofs/consistency", tiles_api.ConsistencyProofView.as_view(), name="audit-consistency-proof"
    ),
    path("audit/exports", api.ExportListView.as_view(), name="audit-exports"),
    path("audit/exports/<uuid:export_id>", api.ExportDetailView.as_view(), name="audit-export"),
    path(
        "audit/exports/<uuid:export_id>/manifest.json",
        api.ManifestView.as_view(),
        name="audit-export-manifest",
    ),
    path(
        "audit/exports/<uuid:export_id>/texts.json", api.ExportTextsView.as_view(), name="audit-export-texts"
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
