"""The lookup each signed-in request makes with SQL written once (core/rows.py, staff/backend.py)
gives the same model instance as the ORM: every field, with the same value and type, on SQLite and
on PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import models
from django.utils import timezone

from staff.backend import StaffModelBackend
from staff.roles import assign_role

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
