"""Reads of recorder data: metadata only, never content."""

from __future__ import annotations

import uuid

from recorder.models import Session


def session_detail(*, session_id: uuid.UUID | str) -> Session:
    """A session with its events and recording (if any) loaded in one go."""
    return Session.objects.prefetch_related("events").select_related("recording").get(id=session_id)
