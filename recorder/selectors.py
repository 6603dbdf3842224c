"""Reads of recorder data: metadata only, never content."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

from recorder.models import RecorderClient, Session


def session_detail(*, session_id: uuid.UUID | str) -> Session:
    """A session with its events and recording (if any) loaded in one go."""
    return Session.objects.prefetch_related("events").select_related("recording").get(id=session_id)


def recorder_clients() -> QuerySet[RecorderClient]:
    """Every recorder client, active and revoked, by name (never a token: only its digest is kept)."""
    return RecorderClient.objects.order_by("name")
