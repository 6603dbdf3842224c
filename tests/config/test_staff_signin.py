"""Staff sign in with Django's authentication: roles from add_staff, CSRF, throttled failures."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client

from config.roles import ROLES

PASSWORD = "correct horse battery staple"
pytestmark = pytest.mark.django_db


def add_staff(username: str, role: str, password: str = PASSWORD) -> str:
    out = io.StringIO()
    call_command(
        "add_staff",
        username,
        "--role",
        role,
        "--password-stdin",
        stdin=io.StringIO(password + "\n"),
        stdout=out,
    )
    return out.getvalue()


def sign_in(client: Client, username: str, password: str = PASSWORD):
    client.get("/accounts/login/")
    return client.post(
        "/accounts/login/",
        {
            "username": username,
            "password": password,
            "csrfmiddlewaretoken": client.cookies["csrftoken"].value,
        },
    )


def test_add_staff_gives_exactly_one_role_and_keeps_the_password_out_of_its_output() -> None:
    output = add_staff("olivia", "compliance_officer")
    assert "created olivia with role compliance_officer" in output
    assert PASSWORD not in output
    add_staff("olivia", "auditor")
    user = get_user_model().objects.get(username="olivia")
    assert list(user.groups.values_list("name", flat=True)) == ["auditor"]
    assert user.has_perm("audit.view_ledgerentry")
    assert not user.has_perm("recorder.view_session")


def test_add_staff_refuses_weak_passwords_and_unknown_roles() -> None:
    with pytest.raises(CommandError, match="too short"):
        add_staff("weak", "auditor", password="short")
    with pytest.raises(CommandError):
        call_command("add_staff", "x", "--role", "superhero")
    assert not get_user_model().objects.filter(username="weak").exists()


def test_every_role_group_exists_after_migrate() -> None:
    from django.contrib.auth.models import Group

    assert set(Group.objects.values_list("name", flat=True)) >= set(ROLES)


def test_a_staff_member_signs_in_with_csrf_and_lands_on_home() -> None:
    add_staff("ada", "auditor")
    client = Client(enforce_csrf_checks=True)
    answer = sign_in(client, "ada")
    assert answer.status_code == 302 and answer["Location"] == "/"
    home = client.get("/")
    assert home.status_code == 200
    assert b"Welcome, ada" in home.content


def test_sign_in_without_the_csrf_token_is_refused() -> None:
    add_staff("ada", "auditor")
    client = Client(enforce_csrf_checks=True)
    answer = client.post("/accounts/login/", {"username": "ada", "password": PASSWORD})
    assert answer.status_code == 403
    assert "_auth_user_id" not in client.session


def test_pages_send_anonymous_visitors_to_sign_in() -> None:
    answer = Client().get("/")
    assert answer.status_code == 302 and answer["Location"].startswith("/accounts/login/")


def test_repeated_failed_sign_ins_are_throttled_even_with_the_right_password_afterwards(settings) -> None:
    add_staff("mallory-target", "auditor")
    client = Client(enforce_csrf_checks=True)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert sign_in(client, "mallory-target", "guess-" + "x" * 12).status_code == 200
    assert sign_in(client, "mallory-target", "guess-" + "x" * 12).status_code == 429
    locked = sign_in(client, "mallory-target")
    assert locked.status_code == 429
    assert b"Too many failed sign-ins" in locked.content
    assert client.get("/").status_code == 302  # still not signed in


def test_signing_out_needs_a_post_and_ends_the_session() -> None:
    add_staff("ada", "auditor")
    client = Client()
    sign_in(client, "ada")
    assert client.get("/accounts/logout/").status_code == 405
    client.post("/accounts/logout/")
    assert client.get("/").status_code == 302


def test_the_session_is_renewed_at_sign_in_so_a_planted_session_id_is_useless() -> None:
    add_staff("ada", "auditor")
    client = Client()
    client.get("/accounts/login/")
    client.session.save()
    planted = client.cookies["sessionid"].value if "sessionid" in client.cookies else None
    sign_in(client, "ada")
    assert client.cookies["sessionid"].value != planted


def test_a_session_past_its_expiry_is_not_loaded_and_its_key_is_not_reused() -> None:
    """The session store's own lookup (config/sessions.py) decides as Django's does."""
    from datetime import timedelta

    from django.contrib.sessions.models import Session
    from django.utils import timezone

    add_staff("ada", "auditor")
    client = Client()
    sign_in(client, "ada")
    assert client.get("/").status_code == 200
    key = client.cookies["sessionid"].value
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() - timedelta(seconds=1))
    assert client.get("/").status_code == 302  # to sign in: the session is gone
    client.get("/accounts/login/")
    assert client.cookies["sessionid"].value != key


def test_an_unknown_session_key_loads_nothing() -> None:
    from importlib import import_module

    from django.conf import settings

    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key="x" * 32)
    assert store.load() == {}
    assert store.session_key is None
