"""Role changes are on the ledger, by whoever made them: four-eyes is between people whose roles
the auditor can trace."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client

from audit.models import LedgerEntry
from tests.staff import PASSWORD, add_staff

pytestmark = pytest.mark.django_db


def role_changes() -> list[tuple[str, str, str | None]]:
    entries = LedgerEntry.objects.filter(action="staff.role_changed").order_by("seq")
    return [(e.actor_label, e.details["username"], e.details["role"]) for e in entries]


def test_add_staff_puts_each_role_change_on_record() -> None:
    add_staff("erin", "compliance_officer")
    add_staff("erin", "data_protection_officer")  # the same person, another job now
    changes = role_changes()
    assert changes[-1] == ("add_staff", "erin", "data_protection_officer")
    assert ("add_staff", "erin", "compliance_officer") in changes
    assert {actor for actor, _, _ in changes} == {"add_staff"}


def test_a_role_given_in_the_admin_is_on_record_with_the_admin_as_actor() -> None:
    add_staff("frank", "auditor")
    root = get_user_model().objects.create_superuser("root", password=PASSWORD)
    client = Client()
    client.force_login(root)
    frank = get_user_model().objects.get(username="frank")
    page = client.get(f"/admin/auth/user/{frank.pk}/change/")
    form = page.context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    data.update(groups=[Group.objects.get(name="data_protection_officer").pk], password=frank.password)
    data.update({key: "" for key in ("last_login_0", "last_login_1")}, date_joined_0="2026-01-01",
                date_joined_1="00:00:00")  # fmt: skip
    answer = client.post(f"/admin/auth/user/{frank.pk}/change/", data)
    assert answer.status_code == 302, answer.context["adminform"].form.errors if answer.context else answer
    assert role_changes()[-1] == ("root", "frank", "data_protection_officer")


def test_role_groups_are_not_edited_in_the_admin() -> None:
    root = get_user_model().objects.create_superuser("root", password=PASSWORD)
    client = Client()
    client.force_login(root)
    auditor = Group.objects.get(name="auditor")
    assert client.get("/admin/auth/group/add/").status_code == 403
    assert client.post(f"/admin/auth/group/{auditor.pk}/change/", {"name": "auditor"}).status_code == 403
