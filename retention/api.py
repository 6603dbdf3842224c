"""Retention API for staff: the record of purge runs (auditors and operators)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from core.schema import ERROR
from retention.models import PurgeRun
from retention.selectors import purge_runs
from staff.authorisation import StaffListView
from staff.roles import AUDITOR, OPERATOR


class PurgeRunOut(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = PurgeRun
        fields = [
            "id",
            "trigger",
            "dry_run",
            "started_at",
            "finished_at",
            "progressed_at",
            "abandoned_at",
            "shredded",
            "purged",
            "pseudonymised",
            "skipped_held",
            "failed",
            "errors",
        ]
        read_only_fields = fields  # output only: every key is in every answer


class PurgeRunListView(StaffListView):
    serves = (AUDITOR, OPERATOR)

    @extend_schema(
        operation_id="list_purge_runs",
        responses={200: PurgeRunOut(many=True), 403: ERROR},
        summary="Purge runs, newest first: counts shredded, purged, pseudonymised, held back and failed",
    )
    def get(self, request: Request) -> Response:
        return self.page(request, purge_runs(), PurgeRunOut)
