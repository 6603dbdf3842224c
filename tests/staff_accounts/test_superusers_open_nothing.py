"""A superuser holds no role that opens recordings: add_staff, the admin and `manage.py check`
refuse an account that is both, each with a sentence saying why."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError, SystemCheckError
from django.test import Client

from tests.staff import PASSWORD, add_staff, admin_change_form

pytestmark = pytest.mark.django_db

User = get_user_model()


@pytest.fixture
def root() -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.org", PASSWORD))
    return client


@pytest.mark.parametrize("role", ["compliance_officer", "data_protection_officer"])
def test_add_staff_refuses_to_give_a_superuser_a_recording_role(role: str) -> None:
    User.objects.create_superuser("boss", "boss@example.org", PASSWORD)
    with pytest.raises(CommandError, match="is a superuser and cannot also be a " + role):
        add_staff("boss", role)
    assert not User.objects.get(username="boss").groups.exists()


def test_add_staff_still_gives_a_superuser_a_metadata_role() -> None:
    User.objects.create_superuser("boss", "boss@example.org", PASSWORD)
    add_staff("boss", "auditor")
    assert User.objects.get(username="boss").groups.filter(name="auditor").exists()


def test_the_admin_refuses_to_make_an_officer_a_superuser(root: Client) -> None:
    add_staff("olga", "compliance_officer")
    olga = User.objects.get(username="olga")
    answer = admin_change_form(root, olga, is_superuser="on")
    assert answer.status_code == 200
    assert "cannot also be a compliance_officer" in answer.content.decode()
    olga.refresh_from_db()
    assert not olga.is_superuser


def test_the_admin_refuses_to_give_a_superuser_the_approver_role(root: Client) -> None:
    boss = User.objects.create_superuser("boss", "boss@example.org", PASSWORD)
    dpo = Group.objects.get(name="data_protection_officer")
    answer = admin_change_form(root, boss, groups=[dpo.pk], is_superuser="on")
    assert answer.status_code == 200
    assert "cannot also be a data_protection_officer" in answer.content.decode()
    assert not boss.groups.exists()


def test_the_system_check_fails_on_an_existing_superuser_officer() -> None:
    """Made around add_staff and the admin (the ORM): `manage.py check` names it."""
    boss = User.objects.create_superuser("boss", "boss@example.org", PASSWORD)
    boss.groups.add(Group.objects.get(name="data_protection_officer"))
    with pytest.raises(SystemCheckError, match=r"staff\.E001.*boss is a superuser"):
        call_command("check", stdout=io.StringIO(), stderr=io.StringIO())
    boss.groups.clear()
    call_command("check", stdout=io.StringIO(), stderr=io.StringIO())
