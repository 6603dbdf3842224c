"""Fixtures for retention: real recordings ingested through the service, then made to expire."""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.utils import timezone

from recorder.ingest import ingest_recording
from recorder.models import Recording
from recorder.services import register_session

MakeRecordings = Callable[..., list[Recording]]


@pytest.fixture
def make_recordings(recording_maker: MakeRecordings, store) -> MakeRecordings:
    """`make_recordings(n, expires_in=...)`, once with each object store."""
    return recording_maker


@pytest.fixture
def recording_maker(recorder_client, age_keys) -> MakeRecordings:
    """`recording_maker(n, expires_in=...)`: n sealed recordings in the configured store, expiring
    at now + expires_in (already expired by default)."""
    client, _ = recorder_client

    def make(
        count: int = 1, *, size: int = 2000, expires_in: timedelta | None = timedelta(seconds=-1)
    ) -> list[Recording]:
        made = []
        for n in range(count):
            now = timezone.now()
            session = register_session(
                client=client, external_id=f"s-{uuid.uuid4()}", customer_ref=f"CUST-{n:05d}",
                agent_ref="agent-7", initiated_by="customer", started_at=now - timedelta(minutes=5),
                consent_granted_at=now - timedelta(minutes=6), consent_view=True, consent_control=True,
            )  # fmt: skip
            body = os.urandom(size)
            result = ingest_recording(
                client=client, session_id=session.id, body=io.BytesIO(body), content_length=size,
                media_type="video/webm", content_digest=None,
            )  # fmt: skip
            made.append(result.recording)
        if expires_in is not None:  # None keeps the expiry ingest gave
            Recording.objects.filter(id__in=[r.id for r in made]).update(
                expires_at=timezone.now() + expires_in
            )
        for recording in made:
            recording.refresh_from_db()
        return made

    return make
