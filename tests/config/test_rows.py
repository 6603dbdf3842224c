"""The lookups each Range request makes with SQL written once (core/rows.py: the staff user, the
playback grants, the grant with its recording) give the same model instances as the ORM: every
field, with the same value and type, on SQLite and on PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import models
from django.utils import timezone

from complaints.models import AccessGrant
from complaints.playback import _grant_and_recording, _grants
from recorder.models import Recording
from staff.backend import StaffModelBackend
from staff.roles import assign_role
from tests.factories import grant_for

pytestmark = pytest.mark.django_db


def fields_of(instance: models.Model) -> dict[str, tuple[Any, type]]:
    return {
        field.attname: (getattr(instance, field.attname), type(getattr(instance, field.attname)))
        for field in type(instance)._meta.concrete_fields
    }


def test_the_user_read_for_each_request_is_the_orm_s_user() -> None:
    user = get_user_model().objects.create_user("olivia", password="a long passphrase", email="o@example.org")
    user.last_login = timezone.now()
    user.save(update_fields=["last_login"])
    assign_role(user=user, role="compliance_officer")
    found = StaffModelBackend().get_user(user.pk)
    assert found is not None
    assert fields_of(found) == fields_of(get_user_model().objects.get(pk=user.pk))
    assert found._state.adding is False and found._state.db == "default"
    assert found.last_login is not None and found.last_login.tzinfo is not None
    found.first_name = "Olivia"
    found.save(update_fields=["first_name"])  # an instance the ORM can write back
    assert get_user_model().objects.get(pk=user.pk).first_name == "Olivia"


@pytest.mark.parametrize("user_id", ["not-a-number", None, 2**63 - 1])
def test_an_id_that_names_no_user_finds_none(user_id: Any) -> None:
    assert StaffModelBackend().get_user(user_id) is None


def test_an_inactive_user_is_not_signed_in() -> None:
    user = get_user_model().objects.create_user("gone", password="a long passphrase", is_active=False)
    assert StaffModelBackend().get_user(user.pk) is None


def test_the_grant_and_recording_read_for_unsealing_are_the_orm_s(recording) -> None:
    rec, _ = recording
    grant = grant_for(rec)
    found = _grant_and_recording(grant_id=grant.pk, recording_id=str(rec.id))
    assert found is not None
    found_grant, found_recording = found
    assert fields_of(found_recording) == fields_of(Recording.objects.get(pk=rec.pk))
    assert fields_of(found_grant) == fields_of(AccessGrant.objects.get(pk=grant.pk))
    assert found_grant.is_active(timezone.now())
    assert found_recording._state.adding is False and found_recording._state.db == "default"
    assert found_recording.expires_at is not None and found_recording.expires_at.tzinfo is not None


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
