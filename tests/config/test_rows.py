"""The lookups each Range request makes with SQL written once (config/rows.py) give the same model
instances as the ORM: every field, with the same value and type, on SQLite and on PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import models
from django.utils import timezone

from complaints.models import AccessGrant
from complaints.playback import _grants
from config.roles import assign_role
from recorder.models import Recording
from recorder.playback import _recording_through_grant
from tests.factories import grant_for

pytestmark = pytest.mark.django_db


def fields_of(instance: models.Model) -> dict[str, tuple[Any, type]]:
    return {
        field.attname: (getattr(instance, field.attname), type(getattr(instance, field.attname)))
        for field in type(instance)._meta.concrete_fields
    }


def test_the_recording_read_through_a_grant_is_the_orm_s_recording(recording) -> None:
    rec, _ = recording
    grant = grant_for(rec)
    found = _recording_through_grant(recording_id=str(rec.id), grant_id=grant.pk, now=timezone.now())
    assert found is not None
    assert fields_of(found) == fields_of(Recording.objects.get(pk=rec.pk))
    assert found.grant_active == 1
    assert found._state.adding is False and found._state.db == "default"
    assert found.expires_at is not None and found.expires_at.tzinfo is not None


def test_the_grants_read_for_playback_are_the_orm_s_grants(recording) -> None:
    rec, _ = recording
    grant = grant_for(rec)
    assign_role(user=grant.grantee, role="compliance_officer")
    [found] = _grants(case_id=grant.case_id, recording_id=rec.id, user_id=grant.grantee_id)
    assert fields_of(found) == fields_of(AccessGrant.objects.get(pk=grant.pk))
    assert (found.case_status, found.recording_state) == ("open", Recording.State.LOCKED)
    assert found.is_active(timezone.now())
    found.revoked_at = timezone.now()
    found.save(update_fields=["revoked_at"])  # an instance the ORM can write back
    assert AccessGrant.objects.get(pk=grant.pk).revoked_at == found.revoked_at
