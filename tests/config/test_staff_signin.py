"""Staff sign in with Django's authentication: roles from add_staff, CSRF, throttled failures."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client

from staff.roles import ROLES
from tests.staff import PASSWORD, add_staff, sign_in

pytestmark = pytest.mark.django_db


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
    assert client.get("/accounts/logout/").json()["error"] == "method_not_allowed"
    page = client.get("/accounts/logout/", headers={"Accept": "text/html"})
    assert page.status_code == 405 and b"<h1>Use the form</h1>" in page.content
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
    """The session store's own lookup (staff/sessions.py) decides as Django's does."""
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


def test_the_signed_in_user_is_loaded_with_every_field_as_the_orm_reads_it() -> None:
    """The per-request user lookup (staff/backend.py) gives the same user as the ORM:
    same values, same types (an aware last_login, booleans), and it saves like one."""
    from django.contrib.auth import get_user

    add_staff("ada", "auditor")
    client = Client()
    sign_in(client, "ada")
    request = client.get("/").wsgi_request
    loaded = get_user(request)
    expected = get_user_model().objects.get(username="ada")
    fields = [f.attname for f in get_user_model()._meta.concrete_fields]
    assert isinstance(loaded, get_user_model())
    assert {f: getattr(loaded, f) for f in fields} == {f: getattr(expected, f) for f in fields}
    assert {f: type(getattr(loaded, f)) for f in fields} == {f: type(getattr(expected, f)) for f in fields}
    assert loaded.last_login is not None and loaded.last_login.tzinfo is not None
    assert loaded._state.adding is False and loaded._state.db == "default"
    assert loaded.has_perm("audit.view_ledgerentry")
    loaded.first_name = "Ada"
    loaded.save(update_fields=["first_name"])
    assert get_user_model().objects.get(username="ada").first_name == "Ada"


@pytest.mark.parametrize("change", ["deactivated", "deleted", "password_changed"])
def test_a_signed_in_session_ends_when_its_user_is_deactivated_deleted_or_changes_password(change) -> None:
    add_staff("ada", "auditor")
    client = Client()
    sign_in(client, "ada")
    assert client.get("/").status_code == 200
    user = get_user_model().objects.get(username="ada")
    if change == "deactivated":
        user.is_active = False
        user.save()
    elif change == "deleted":
        user.delete()
    else:
        user.set_password("another correct horse battery")
        user.save()
    assert client.get("/").status_code == 302  # to sign in


@pytest.mark.parametrize("planted", ["99999999", "0"])
def test_a_session_naming_no_real_user_is_anonymous(planted) -> None:
    """Session data is kept on the server, so only the service writes it; a user id it holds may
    still name a user that is gone."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    add_staff("ada", "auditor")
    client = Client()
    sign_in(client, "ada")
    session = client.session
    session[SESSION_KEY] = planted
    session[HASH_SESSION_KEY] = "0" * 64
    session.save()
    assert session[BACKEND_SESSION_KEY] == "staff.backend.StaffModelBackend"
    assert client.get("/").status_code == 302
